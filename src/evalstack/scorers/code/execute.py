"""Run one program (sandboxed, or explicitly unsandboxed) and classify what happened.

``run_program`` is synchronous; ``run_program_async`` runs it on a module-level thread pool with
one worker per available core, so at most that many programs run at once whatever the number
of samples in flight.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from evalstack.core.errors import EvalstackError
from evalstack.core.text import clean_text
from evalstack.scorers.code.process import Captured, run_captured
from evalstack.scorers.code.sandbox import (
    Limits,
    check_sandbox,
    find_bwrap,
    interpreter_candidates,
    preamble_command,
    run_in_sandbox,
    sandbox_env,
)

Status = Literal["passed", "failed", "error", "timeout", "killed"]

UNSAFE_WARNING = (
    "\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    "!! WARNING: evalstack is running MODEL-WRITTEN CODE WITHOUT A SANDBOX              !!\n"
    "!! (unsafe_no_sandbox=true). The code runs as your user, with your files and your  !!\n"
    "!! network. Only CPU, memory, file-size and wall-clock limits apply (and, unless   !!\n"
    "!! you are root, a process limit). Install bubblewrap and drop this option.        !!\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
)


class ExecutionError(EvalstackError):
    """The sandbox could not start one program (not the program's fault); the sample errors."""


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """The outcome of one program.

    Attributes:
        status: ``passed`` (exit status 0), ``failed`` (an ``AssertionError``: a test
            failed), ``error`` (another exception, a syntax error, or a non-zero exit),
            ``timeout`` (the wall-clock limit; the sandbox was killed) or ``killed`` (ended
            by a signal, such as SIGXCPU at the CPU limit).
        returncode: the exit status (for ``killed``, 128 + the signal number).
        signal: the signal that ended the program, if any.
        limit: which limit the program most likely hit: ``time``, ``cpu``, ``memory``,
            ``file_size``, ``disk``, ``processes`` or ``output``; ``None`` when none.
        stdout / stderr: the first ``Limits.output_limit`` bytes of each, decoded.
        truncated: an output stream was longer than the limit and was cut.
        seconds: wall time.
        sandboxed: whether bwrap isolated the program.
        python: the interpreter that ran it, with its version.
    """

    status: Status
    returncode: int
    signal: int | None
    limit: str | None
    stdout: str
    stderr: str
    truncated: bool
    seconds: float
    sandboxed: bool
    python: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, object]:
        """A small JSON-able summary (no output), as stored with each sample."""
        return {"status": self.status, "returncode": self.returncode, "signal": self.signal,
                "limit": self.limit, "truncated": self.truncated,
                "seconds": round(self.seconds, 3), "sandboxed": self.sandboxed,
                "python": self.python}


_LAST_EXCEPTION = re.compile(r"^(\w+(?:\.\w+)*)(?::|$)", re.MULTILINE)


def _last_exception(stderr: str) -> str | None:
    found = _LAST_EXCEPTION.findall(stderr)
    return found[-1].rsplit(".", 1)[-1] if found else None


def _limit_hit(stderr: str, sig: int | None, timed_out: bool, truncated: bool) -> str | None:
    if timed_out:
        return "time"
    if sig == signal.SIGXCPU:
        return "cpu"
    if sig == signal.SIGXFSZ or "[Errno 27]" in stderr:
        return "file_size"
    exc = _last_exception(stderr)
    if exc == "MemoryError":
        return "memory"
    if "[Errno 28]" in stderr:
        return "disk"
    if "[Errno 11]" in stderr and exc in ("BlockingIOError", "OSError"):
        return "processes"
    if truncated:
        return "output"
    return None


def classify(got: Captured, sandboxed: bool, python: str = "") -> ExecutionResult:
    """Turn a captured process outcome into an ``ExecutionResult``."""
    # valid UTF-8 without NUL characters, so that any store accepts it
    stderr = clean_text(got.stderr.decode("utf-8", "replace"))
    stdout = clean_text(got.stdout.decode("utf-8", "replace"))
    rc = got.returncode
    sig: int | None = None
    if rc < 0:
        sig = -rc
    elif sandboxed and rc > 128 and rc - 128 < signal.NSIG:
        sig = rc - 128  # bwrap's pid 1 reports a signalled child as 128 + signal
    status: Status
    if got.timed_out:
        status = "timeout"
    elif rc == 0:
        status = "passed"
    elif sig is not None:
        status = "killed"
    elif _last_exception(stderr) == "AssertionError":
        status = "failed"
    else:
        status = "error"
    return ExecutionResult(
        status=status, returncode=rc, signal=sig,
        limit=_limit_hit(stderr, sig, got.timed_out, got.truncated),
        stdout=stdout, stderr=stderr, truncated=got.truncated, seconds=got.seconds,
        sandboxed=sandboxed, python=python,
    )


_warned = False


def warn_unsafe(force: bool = False) -> None:
    """Print the unsandboxed-execution warning to stderr (once per process unless forced)."""
    global _warned
    if force or not _warned:
        _warned = True
        sys.stderr.write(UNSAFE_WARNING)
        sys.stderr.flush()


def _run_unsafe(code: str, limits: Limits, python: str, env: dict[str, str]) -> Captured:
    warn_unsafe()
    workdir = tempfile.mkdtemp(prefix="evalstack-unsafe-")
    try:
        path = os.path.join(workdir, "main.py")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(code)
        env = {**env, "HOME": workdir, "TMPDIR": workdir, "PWD": workdir}
        cmd = preamble_command(python, limits, path)
        return run_captured(cmd, timeout=limits.timeout, limit=limits.output_limit, env=env,
                            cwd=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_program(
    code: str,
    limits: Limits = Limits(),
    *,
    unsafe_no_sandbox: bool = False,
    python: str | None = None,
    env: dict[str, str] | None = None,
) -> ExecutionResult:
    """Run the Python program ``code`` in the sandbox and report what happened.

    On first use the sandbox's self-test runs (``check_sandbox``); if it fails, nothing is
    executed and ``SandboxError`` explains what to install or enable.

    Args:
        code: the program's source.
        limits: time, CPU, memory, file, process and output limits.
        unsafe_no_sandbox: run without bwrap (limits and timeout still apply); prints a
            loud warning to stderr.
        python: the interpreter to use (default: see ``interpreter_candidates``).
        env: extra environment variables for the program (the rest is cleared).

    Returns:
        An ``ExecutionResult``.

    Raises:
        SandboxError: bwrap is missing or the self-test failed.
        ExecutionError: bwrap could not start this program.

    Examples:
        >>> result = run_program("print(6 * 7)")
        >>> (result.status, result.stdout, result.sandboxed)
        ('passed', '42\\n', True)
    """
    full_env = sandbox_env(env)
    if unsafe_no_sandbox:
        interp = interpreter_candidates(python)[0]
        got = _run_unsafe(code, limits, interp.path, full_env)
        return classify(got, sandboxed=False, python=interp.path)
    interp = check_sandbox(python)
    bwrap = find_bwrap()
    try:
        got = run_in_sandbox(code, limits, interp, bwrap, full_env)
    except OSError as exc:
        raise ExecutionError(f"bwrap could not be started: {exc}") from exc
    if got.returncode == 1 and got.stderr.startswith(b"bwrap: "):
        message = got.stderr.decode("utf-8", "replace").strip()[:500]
        raise ExecutionError(f"The sandbox failed to start the program: {message}")
    return classify(got, sandboxed=True, python=f"{interp.path} {interp.version}".strip())


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def workers() -> int:
    """How many programs run at once: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="evalstack-code")
        return _pool


async def run_program_async(
    code: str,
    limits: Limits = Limits(),
    *,
    unsafe_no_sandbox: bool = False,
    python: str | None = None,
    env: dict[str, str] | None = None,
) -> ExecutionResult:
    """``run_program`` on the shared pool (one program per core at a time)."""
    call = functools.partial(run_program, code, limits, unsafe_no_sandbox=unsafe_no_sandbox,
                             python=python, env=env)
    return await asyncio.get_running_loop().run_in_executor(_executor(), call)
