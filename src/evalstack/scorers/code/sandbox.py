"""The bubblewrap sandbox for model-written programs, and the self-test that proves it works.

Every program runs under ``bwrap`` (Debian package ``bubblewrap``) with:

- new user, pid, network, ipc, uts and cgroup namespaces (``--unshare-all --unshare-user``);
  no network at all (only a loopback device of its own), no further user namespaces
  (``--disable-userns``), uid/gid 65534 inside;
- a root made of read-only binds of ``/usr`` (with the ``/bin``, ``/lib``... links), a few
  files of ``/etc`` (``ETC_FILES``) and the Python installation that runs the program; nothing
  of ``/home``, ``/root``, ``/work`` or the host's ``/tmp`` is there (a Python installed under
  a home folder is bound read-only on its own, without the rest of that folder);
- a private, size-limited tmpfs at ``/tmp``, the working directory, gone when the program ends;
- a fresh ``/proc`` and ``/dev``, ``--new-session``, ``--die-with-parent``, and an environment
  cleared to ``sandbox_env()`` (``PATH``, ``LANG``, ``HOME=/tmp``, ``PYTHONHASHSEED``...);
- resource limits set *inside* the sandbox by a small Python preamble before it ``exec``s the
  program: CPU seconds, address space, file size, open files, no core files, and the number of
  processes.

Why the process limit needs care: the kernel skips the ``RLIMIT_NPROC`` check for the real
root user, and ``bwrap --unshare-user --uid 65534`` run by root maps uid 65534 to root outside
the namespace, so a fork bomb would not be stopped. When evalstack runs as root it therefore
starts bwrap itself as uid/gid 65534 (``nobody``, no supplementary groups); bwrap then creates
an unprivileged user namespace, the program's real uid is 65534, and the kernel counts its
processes per user namespace, so the limit applies to this sandbox alone. A consequence: a
Python installed under ``/root`` cannot be reached by uid 65534, so the interpreter falls back
to the system's ``/usr/bin/python3`` (see ``interpreter_candidates``).

``check_sandbox`` runs a probe inside the sandbox once per process (per bwrap path and
interpreter) and refuses to run anything when isolation does not hold.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from evalstack.core.errors import ConfigError
from evalstack.scorers.code.process import Captured, run_captured

BWRAP_PATH = "bwrap"
"""The bubblewrap executable: a name looked up on ``PATH``, or a path. Tests replace it."""

SANDBOX_UID = 65534
SANDBOX_GID = 65534
WORKDIR = "/tmp"
PROGRAM_PATH = "/tmp/main.py"
ETC_FILES = (
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
)
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap) and make sure unprivileged user namespaces are enabled (sysctl "
    "user.max_user_namespaces > 0; on Debian kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ "
    "AppArmor must allow bwrap to create them; inside Docker, run the container with "
    "--security-opt seccomp=unconfined or a profile allowing unshare/clone). Only if you accept "
    "running model-written code unconfined on this machine, pass -T unsafe_no_sandbox=true."
)


class SandboxError(ConfigError):
    """The sandbox is unavailable or failed its self-test; no code was executed."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one program.

    Attributes:
        timeout: wall-clock seconds before the whole sandbox is killed.
        cpu_seconds: CPU seconds per process (``RLIMIT_CPU``); default ``timeout`` rounded up
            plus one.
        memory_mb: address space per process in MiB (``RLIMIT_AS``).
        file_size_mb: largest file a process may write, in MiB (``RLIMIT_FSIZE``).
        tmp_size_mb: size of the sandbox's private ``/tmp`` in MiB.
        max_processes: processes (and threads) in the sandbox (``RLIMIT_NPROC``).
        max_open_files: open file descriptors per process (``RLIMIT_NOFILE``).
        output_limit: bytes kept of stdout and of stderr each; the rest is read and dropped.

    Address space and CPU time are limited per process, so a program may use up to
    ``memory_mb * max_processes`` of memory in all (16 GiB with the defaults), and one such
    program runs per core. Where that is too much, run evalstack in a container or cgroup
    with a memory limit as well.
    """

    timeout: float = 10.0
    cpu_seconds: int | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    tmp_size_mb: int = 64
    max_processes: int = 16
    max_open_files: int = 256
    output_limit: int = 64 * 1024

    def __post_init__(self) -> None:
        checks = {
            "timeout": self.timeout, "memory_mb": self.memory_mb,
            "file_size_mb": self.file_size_mb, "tmp_size_mb": self.tmp_size_mb,
            "max_processes": self.max_processes, "max_open_files": self.max_open_files,
            "output_limit": self.output_limit,
        }
        if self.cpu_seconds is not None:
            checks["cpu_seconds"] = self.cpu_seconds
        for name, value in checks.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(
                    f"Code execution limit {name} must be a positive number; received "
                    f"{value!r}."
                )
        if self.max_processes < 4:
            raise ConfigError(
                f"max_processes must be at least 4 (the sandbox's init, the preamble and the "
                f"program count); received {self.max_processes}."
            )

    def rlimits(self) -> tuple[int, int, int, int, int]:
        """``(cpu seconds, address space bytes, file size bytes, processes, open files)``."""
        cpu = self.cpu_seconds or int(self.timeout) + 1
        mib = 1 << 20
        return (int(cpu), int(self.memory_mb * mib), int(self.file_size_mb * mib),
                int(self.max_processes), int(self.max_open_files))


# Runs inside the sandbox (and in unsafe mode) as ``python -I -S -c PREAMBLE cpu as fsize nproc
# nofile python args...``: set the limits, then become the program. RLIMIT_NPROC must be set
# here, inside the user namespace, so that it counts this sandbox's processes only.
PREAMBLE = """\
import os, resource as r, sys
a = sys.argv[1:]
for lim, v in zip((r.RLIMIT_CPU, r.RLIMIT_AS, r.RLIMIT_FSIZE, r.RLIMIT_NPROC, r.RLIMIT_NOFILE,
                   r.RLIMIT_CORE), [int(x) for x in a[:5]] + [0]):
    hard = r.getrlimit(lim)[1]
    soft = v if hard == r.RLIM_INFINITY else min(v, hard)
    r.setrlimit(lim, (soft, soft + 1 if lim == r.RLIMIT_CPU and hard == r.RLIM_INFINITY else soft))
os.execv(a[5], a[5:])
"""


def preamble_command(python: str, limits: Limits, program: str) -> list[str]:
    """The command that sets ``limits`` and then runs ``program`` with ``python``."""
    return [python, "-I", "-S", "-c", PREAMBLE, *(str(v) for v in limits.rlimits()),
            python, "-s", program]


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed program: an allowlist, plus ``extra``."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": WORKDIR,
        "PWD": WORKDIR,
        "TMPDIR": WORKDIR,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    env.update(extra or {})
    return env


@dataclass(frozen=True, slots=True)
class Interpreter:
    """A Python to run programs with, and the installation folder bound into the sandbox.

    Attributes:
        path: the interpreter's real path.
        prefix: its installation folder, bound read-only when it is not under ``/usr``.
        version: its version as the self-test saw it inside the sandbox.
    """

    path: str
    prefix: str
    version: str = ""

    @staticmethod
    def of(path: str) -> Interpreter:
        real = os.path.realpath(path)
        folder = os.path.dirname(real)
        prefix = os.path.dirname(folder) if os.path.basename(folder) == "bin" else folder
        return Interpreter(real, prefix)


def interpreter_candidates(python: str | None = None) -> list[Interpreter]:
    """Which Pythons to try, in order: ``python`` alone when given, else the one running
    evalstack (its base installation, not the virtualenv), then ``/usr/bin/python3`` and
    ``/usr/local/bin/python3``."""
    if python is not None:
        found = shutil.which(python) if os.sep not in python else python
        if not found or not os.path.isfile(found):
            raise SandboxError(
                f"The Python interpreter {python!r} for code execution was not found. Give "
                f"the path of a python3 executable, or leave the option unset."
            )
        return [Interpreter.of(found)]
    base = getattr(sys, "_base_executable", None) or sys.executable
    seen: list[Interpreter] = []
    for path in (base, sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        if path and os.path.isfile(path):
            interp = Interpreter.of(path)
            if interp not in seen:
                seen.append(interp)
    return seen


def find_bwrap() -> str:
    """The bwrap executable to use, or a ``SandboxError`` saying how to install it."""
    found = shutil.which(BWRAP_PATH) if os.sep not in BWRAP_PATH else BWRAP_PATH
    if not found or not os.access(found, os.X_OK) or not os.path.isfile(found):
        raise SandboxError(
            f"Cannot run model-written code: the sandbox program bubblewrap ({BWRAP_PATH!r}) "
            f"was not found. {INSTALL_HINT}"
        )
    return found


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def bwrap_command(bwrap: str, interp: Interpreter, limits: Limits, program_fd: int,
                  env: dict[str, str]) -> list[str]:
    """The full bwrap command line running the program read from ``program_fd``."""
    cmd = [
        bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--die-with-parent", "--new-session", "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]
    for name in _ROOT_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            cmd += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            cmd += ["--ro-bind", str(host), str(host)]
    for path in ETC_FILES:
        cmd += ["--ro-bind-try", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_size_mb << 20), "--tmpfs", WORKDIR]
    if not _under(interp.prefix, "/usr"):
        cmd += ["--ro-bind", interp.prefix, interp.prefix]
    cmd += ["--file", str(program_fd), PROGRAM_PATH, "--remount-ro", "/",
            "--chdir", WORKDIR, "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--", *preamble_command(interp.path, limits, PROGRAM_PATH)]
    return cmd


def drop_to() -> int | None:
    """The uid to start bwrap as: 65534 when we are root (see the module docstring)."""
    return SANDBOX_UID if os.geteuid() == 0 else None


def program_fd(code: str) -> int:
    """An anonymous in-memory file holding ``code``, at offset 0 (no file on the host)."""
    fd = os.memfd_create("evalstack-program", os.MFD_CLOEXEC)
    data = code.encode("utf-8", errors="surrogatepass")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run_in_sandbox(code: str, limits: Limits, interp: Interpreter, bwrap: str,
                   env: dict[str, str]) -> Captured:
    """Run ``code`` once under bwrap and return what it did."""
    fd = program_fd(code)
    try:
        cmd = bwrap_command(bwrap, interp, limits, fd, env)
        uid = drop_to()
        return run_captured(cmd, timeout=limits.timeout, limit=limits.output_limit,
                            env={}, pass_fds=(fd,), user=uid, group=SANDBOX_GID if uid else None)
    finally:
        os.close(fd)


_PROBE = """\
import json, os, resource, socket, sys
out = {"uid": os.getuid(), "env": sorted(os.environ), "python": sys.version.split()[0]}
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
    out["net"] = "connected"
except OSError as exc:
    out["net"] = type(exc).__name__
out["home_visible"] = [n for n in HOME_NAMES if os.path.lexists(os.path.join(HOME, n))]
try:
    open("/evalstack-selftest", "w").close()
    out["root_write"] = "written"
except OSError as exc:
    out["root_write"] = exc.errno
with open("/tmp/selftest", "w") as fh:
    out["tmp_write"] = fh.write("ok")
limit = resource.getrlimit(resource.RLIMIT_NPROC)[0]
out["nproc_limit"] = limit
r, w = os.pipe()
kids, out["fork_errno"] = [], None
try:
    for _ in range(limit + 4):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
except OSError as exc:
    out["fork_errno"] = exc.errno
os.close(w)
for pid in kids:
    os.waitpid(pid, 0)
out["forked"] = len(kids)
print(json.dumps(out))
"""

_PROBE_LIMITS = Limits(timeout=20.0, max_processes=12, memory_mb=1024)
_cache: dict[tuple[str, str | None], Interpreter | SandboxError] = {}
_lock = threading.Lock()


def _home_names(interp: Interpreter) -> tuple[str, list[str]]:
    home = os.path.expanduser("~")
    try:
        names = sorted(os.listdir(home))
    except OSError:
        return home, []
    keep = [n for n in names if not _under(interp.prefix, os.path.join(home, n))]
    return home, keep[:50]


def _probe(bwrap: str, interp: Interpreter) -> str | Interpreter:
    """Run the probe in the sandbox: the interpreter (with its version) when isolation holds,
    else what is wrong."""
    import errno

    home, names = _home_names(interp)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        code = (f"PORT = {listener.getsockname()[1]!r}\nHOME = {home!r}\n"
                f"HOME_NAMES = {names!r}\n{_PROBE}")
        try:
            got = run_in_sandbox(code, _PROBE_LIMITS, interp, bwrap, sandbox_env())
        except OSError as exc:
            return f"bwrap could not be started ({exc})"
        try:
            listener.accept()[0].close()
            reached = True
        except BlockingIOError:
            reached = False
    stderr = got.stderr.decode("utf-8", "replace").strip()
    if got.timed_out or got.returncode != 0:
        return (f"the probe program did not run (exit status {got.returncode}"
                f"{', timed out' if got.timed_out else ''}): {stderr[-600:] or 'no output'}")
    try:
        out = json.loads(got.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"the probe printed no result: {stderr[-600:]}"
    problems = []
    if out["uid"] == 0:
        problems.append("the program runs as uid 0 inside the sandbox")
    if out["net"] == "connected" or reached:
        problems.append("the network is reachable (a connection to 127.0.0.1 succeeded)")
    if out["home_visible"]:
        problems.append(f"the home folder {home} is visible: {out['home_visible'][:5]}")
    if out["root_write"] not in (errno.EROFS, errno.EACCES, errno.EPERM):
        problems.append("the root file system is writable")
    unexpected = sorted(set(out["env"]) - set(sandbox_env()))
    if unexpected:
        problems.append(f"unexpected environment variables: {unexpected}")
    if (out["nproc_limit"] != _PROBE_LIMITS.max_processes or out["fork_errno"] != errno.EAGAIN
            or out["forked"] >= _PROBE_LIMITS.max_processes):
        problems.append(
            f"the process limit does not hold (limit {out['nproc_limit']}, forked "
            f"{out['forked']} children, fork error {out['fork_errno']})"
        )
    return "; ".join(problems) or replace(interp, version=str(out["python"]))


def check_sandbox(python: str | None = None) -> Interpreter:
    """Prove the sandbox isolates programs (once per process), and pick the interpreter.

    The probe checks, inside the sandbox: the program's uid is not root outside the user
    namespace; a TCP listener on the host's 127.0.0.1 cannot be reached; the home folder's
    entries are not visible; ``/`` is not writable; the environment holds only
    ``sandbox_env()``; and forking stops at the process limit.

    Args:
        python: the interpreter to run programs with; by default the first of
            ``interpreter_candidates()`` that passes.

    Returns:
        The interpreter to use.

    Raises:
        SandboxError: bwrap is missing, or no interpreter passes the probe; the message says
            what failed and how to fix it. Failures are cached: nothing is executed later.
    """
    bwrap = find_bwrap()
    key = (bwrap, python)
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _self_test(bwrap, python)
            _cache[key] = cached
    if isinstance(cached, SandboxError):
        raise SandboxError(str(cached))
    return cached


def _self_test(bwrap: str, python: str | None) -> Interpreter | SandboxError:
    try:
        candidates = interpreter_candidates(python)
    except SandboxError as exc:
        return exc
    failures = []
    for interp in candidates:
        outcome = _probe(bwrap, interp)
        if isinstance(outcome, Interpreter):
            return outcome
        failures.append(f"with {interp.path}: {outcome}")
    as_user = " (bwrap is started as uid 65534 because evalstack runs as root)" if drop_to() else ""
    return SandboxError(
        "Cannot run model-written code: the sandbox self-test failed, so no code was "
        f"executed{as_user}. " + " | ".join(failures) + f". {INSTALL_HINT}"
    )


def reset_self_test() -> None:
    """Forget cached self-test results (after installing bwrap, or in tests)."""
    with _lock:
        _cache.clear()
