"""Start a process in its own session, capture capped output, and kill it at a deadline.

Output is read incrementally from both pipes, so a program printing 100 MB costs no more memory
than the cap: the first ``limit`` bytes of each stream are kept and the rest are read and
dropped (which also keeps the program from blocking on a full pipe). At the deadline the whole
process group is sent SIGKILL; inside the sandbox that kills bwrap, whose pid 1 dies with it
(``--die-with-parent``), and the kernel then kills every process of the sandbox's pid namespace.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# After the process ends (or is killed), how long to wait for its pipes to close. Inside the
# sandbox they close at once (the pid namespace is gone); an orphan of an unsandboxed program
# could hold them open forever.
DRAIN_SECONDS = 1.0
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Captured:
    """What one process did.

    Attributes:
        returncode: the exit status (negative: killed by that signal, as ``subprocess``
            reports it).
        stdout / stderr: the first ``limit`` bytes of each stream.
        truncated: a stream produced more than ``limit`` bytes.
        timed_out: the deadline passed and the process group was killed.
        seconds: wall time from start to exit.
    """

    returncode: int
    stdout: bytes
    stderr: bytes
    truncated: bool
    timed_out: bool
    seconds: float


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has ended, without reaping it (so its group id stays reserved)."""
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # Only called before ``proc.wait()``: until the leader is reaped its pid (the group id)
    # cannot be reused, so this never signals an unrelated group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_captured(
    cmd: Sequence[str],
    *,
    timeout: float,
    limit: int,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    pass_fds: Sequence[int] = (),
    user: int | None = None,
    group: int | None = None,
) -> Captured:
    """Run ``cmd`` with no stdin, capturing at most ``limit`` bytes of each output stream.

    Args:
        cmd: the command line.
        timeout: wall-clock seconds before the process group is killed.
        limit: bytes kept of stdout and of stderr each.
        env: the complete environment (``None`` inherits ours).
        cwd: the working directory.
        pass_fds: file descriptors the child inherits.
        user / group: switch to this uid/gid (and no supplementary groups) before exec;
            needs root.

    Returns:
        The ``Captured`` outcome.

    Raises:
        OSError: the command could not be started (not found, not executable).
    """
    start = time.monotonic()
    deadline = start + timeout
    extra: dict[str, Any] = {}
    if user is not None:
        extra = {"user": user, "group": group if group is not None else user, "extra_groups": []}
    proc = subprocess.Popen(  # noqa: S603 - the command is built by the sandbox module
        list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None, cwd=cwd, pass_fds=tuple(pass_fds),
        start_new_session=True, close_fds=True, **extra,
    )
    kept = {"stdout": bytearray(), "stderr": bytearray()}
    truncated = False
    timed_out = False
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    drain_until: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if drain_until is None:
                if now >= deadline:
                    timed_out = True
                    _kill_group(proc)
                    drain_until = now + DRAIN_SECONDS
                elif _has_exited(proc):
                    drain_until = now + DRAIN_SECONDS
            if drain_until is not None and now >= drain_until:
                break
            wait = (drain_until if drain_until is not None else deadline) - now
            for key, _ in sel.select(timeout=max(0.0, min(wait, 0.25))):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = kept[key.data]
                room = limit - len(buf)
                if room > 0:
                    buf += chunk[:room]
                if len(chunk) > room:
                    truncated = True
        # The pipes are closed; a program may still run after closing them.
        while not timed_out and not _has_exited(proc):
            if time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(0.01)
    finally:
        # The leader is alive or an unreaped zombie, so its group id cannot have been reused:
        # killing the group also ends children that stayed in it (unsandboxed runs).
        _kill_group(proc)
        proc.wait()
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return Captured(
        returncode=proc.returncode, stdout=bytes(kept["stdout"]), stderr=bytes(kept["stderr"]),
        truncated=truncated, timed_out=timed_out, seconds=time.monotonic() - start,
    )
