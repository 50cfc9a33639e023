"""A corpus of hostile programs, each contained by the sandbox with a recorded outcome.

Every program first re-executes itself with a unique marker in its command line, so that it and
every process it forks can be found in ``/proc``. Afterwards: the canaries are intact, the
listener received nothing, the sentinel process is alive, no process of the corpus is left, and
nothing of it is in the host's ``/tmp``. Runs as root too (as CI does).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalstack.scorers.code import Limits, run_program_async
from evalstack.scorers.code.execute import ExecutionResult

LIMITS = Limits(timeout=3.0)


@dataclass(frozen=True)
class Case:
    """One hostile program and the outcome the sandbox must give it.

    ``status``/``limit`` are the recorded ``ExecutionResult`` fields; ``exception`` is the
    last exception line expected in stderr, when the program is stopped by one.
    """

    name: str
    body: str
    status: str
    limit: str | None = None
    exception: str | None = None
    limits: Limits = LIMITS


# What each program does, and how it ends (the expectations table):
CASES = [
    # fork bomb that ignores fork errors: the process limit holds it, the wall clock ends it
    Case("fork_bomb", "while True:\n    try:\n        os.fork()\n    except OSError:\n"
         "        pass\n", "timeout", "time"),
    # rm -rf of a directory outside the sandbox, by absolute path: it does not exist there
    Case("rm_rf_canary", "import shutil, subprocess\n"
         "subprocess.run(['rm', '-rf', CANARY_DIR])\nshutil.rmtree(CANARY_DIR)\n",
         "error", None, "FileNotFoundError"),
    Case("infinite_loop", "while True:\n    pass\n", "timeout", "time"),
    # a CPU-bound program under a 1-second CPU limit: SIGXCPU
    Case("cpu_limit", "while True:\n    pass\n", "killed", "cpu",
         limits=Limits(timeout=10.0, cpu_seconds=1)),
    Case("alloc_10gib", "b = bytearray(10 * 1024 ** 3)\n", "error", "memory", "MemoryError"),
    # a connection to the test's listener on the host's loopback: another network namespace
    Case("connect_listener", "import socket\n"
         "s = socket.create_connection(('127.0.0.1', LISTENER_PORT), timeout=2)\n"
         "s.sendall(b'stolen' * 1000)\n", "error", None, "ConnectionRefusedError"),
    Case("read_home_canary", "print(open(HOME_CANARY).read())\n", "error", None,
         "FileNotFoundError"),
    # the API key set in the parent's environment is nowhere: not in os.environ, not in any
    # process's /proc/<pid>/environ
    Case("env_api_key", "import glob\nfound = [k for k, v in os.environ.items() if SECRET in v]\n"
         "for p in glob.glob('/proc/[0-9]*/environ'):\n"
         "    try:\n        data = open(p, 'rb').read()\n    except OSError:\n        continue\n"
         "    if SECRET.encode() in data:\n        found.append(p)\n"
         "print('found', found)\nassert not found\n", "passed"),
    # kill the test's sentinel by pid (and everything it may signal): another pid namespace
    Case("kill_sentinel", "import signal\ntry:\n    os.kill(-1, signal.SIGKILL)\n"
         "except OSError:\n    pass\nos.kill(SENTINEL_PID, signal.SIGKILL)\n", "error", None,
         "ProcessLookupError"),
    # double fork with setsid: the orphan dies with the sandbox's pid namespace
    Case("setsid_orphan", "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
         "        os.execv(sys.executable, [sys.executable, '-c', 'import time; "
         "time.sleep(300)', MARKER])\n    os._exit(0)\nos.wait()\nprint('parent done')\n",
         "passed"),
    Case("write_200mb", "with open('/tmp/' + MARKER + '-big', 'wb') as fh:\n"
         "    fh.write(b'x' * 200_000_000)\n", "error", "file_size", "OSError"),
    # many files under the file-size limit: the private /tmp is full first
    Case("fill_tmp", "for i in range(100):\n"
         "    with open(f'/tmp/{MARKER}-fill-{i}', 'wb') as fh:\n"
         "        fh.write(b'x' * 10_000_000)\n", "error", "disk", "OSError"),
    Case("stdout_100mb", "sys.stdout.buffer.write(b'x' * 100_000_000)\n", "passed", "output"),
]


def program(case: Case, marker: str, values: dict[str, object]) -> str:
    consts = "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return (
        "import os, sys\n"
        f"MARKER = {marker!r}\n{consts}"
        "if MARKER not in sys.argv:\n"
        "    os.execv(sys.executable, [sys.executable, '-s', __file__, MARKER])\n"
        + case.body
    )


def processes_with(marker: str) -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found[int(entry)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


class Listener:
    """A TCP listener on 127.0.0.1 that counts connections and bytes received."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1)
                try:
                    while data := conn.recv(65536):
                        self.received += len(data)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


class Monitor:
    """Samples /proc while the corpus runs: the most processes each program had at once."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.peak: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            counts: dict[str, int] = {}
            for cmd in processes_with(self.marker).values():
                name = cmd.split(self.marker + "-", 1)[-1].split()[0]
                counts[name] = counts.get(name, 0) + 1
            for name, n in counts.items():
                self.peak[name] = max(self.peak.get(name, 0), n)
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def describe(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return "gone"
    state = [line for line in status if line[:5] in ("State", "PPid:")]
    return f"{cmdline.decode(errors='replace')[:200]} {state}"


def tmp_entries(marker: str) -> list[str]:
    found = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            found += [f"{folder}/{n}" for n in os.listdir(folder) if marker in n]
        except OSError:
            pass
    return found


def test_hostile_corpus_is_contained(tmp_path, monkeypatch):
    marker = f"evalstack-hostile-{uuid.uuid4().hex[:12]}"
    secret = f"sk-canary-{uuid.uuid4().hex}"
    canary_dir = tmp_path / f"{marker}-canary"
    canary_dir.mkdir()
    (canary_dir / "keep.txt").write_text("keep me")
    home_canary = Path(os.path.expanduser("~")) / f".{marker}-home-canary"
    home_canary.write_text(secret)
    monkeypatch.setenv("EVALSTACK_CANARY_API_KEY", secret)
    tmp_before = set(os.listdir("/tmp"))
    sentinel = subprocess.Popen(["sleep", "300"])
    listener = Listener()
    monitor = Monitor(marker)
    values = {"CANARY_DIR": str(canary_dir), "HOME_CANARY": str(home_canary),
              "LISTENER_PORT": listener.port, "SECRET": secret, "SENTINEL_PID": sentinel.pid}

    async def run_all() -> list[ExecutionResult]:
        return await asyncio.gather(*(
            run_program_async(program(c, f"{marker}-{c.name}", values), c.limits)
            for c in CASES
        ))

    try:
        started = time.monotonic()
        results = dict(zip([c.name for c in CASES], asyncio.run(run_all()), strict=True))
        elapsed = time.monotonic() - started
    finally:
        monitor.close()
        listener.close()
        home_intact = home_canary.exists() and home_canary.read_text() == secret
        home_canary.unlink(missing_ok=True)
        sentinel_alive = sentinel.poll() is None
        sentinel.kill()
        sentinel.wait()

    outcomes = {name: (r.status, r.limit) for name, r in results.items()}
    expected = {c.name: (c.status, c.limit) for c in CASES}
    assert outcomes == expected, {n: r.stderr[-300:] for n, r in results.items()
                                  if outcomes[n] != expected[n]}
    for case in CASES:
        result = results[case.name]
        assert result.sandboxed
        if case.exception:
            assert case.exception in result.stderr.strip().splitlines()[-1], result.stderr[-300:]
        assert secret not in result.stdout + result.stderr
    assert results["stdout_100mb"].truncated
    assert len(results["stdout_100mb"].stdout) == LIMITS.output_limit
    assert results["cpu_limit"].signal == signal.SIGXCPU
    assert "found []" in results["env_api_key"].stdout

    # the fork bomb never had more processes than the limit
    assert 1 <= monitor.peak.get("fork_bomb", 0) <= LIMITS.max_processes
    # the canaries are intact, nothing was received, the sentinel lives
    assert (canary_dir / "keep.txt").read_text() == "keep me"
    assert home_intact
    assert listener.connections == 0 and listener.received == 0
    assert sentinel_alive
    # no process of the corpus is left
    # (the kernel tears a killed pid namespace down asynchronously: allow it a moment)
    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = processes_with(marker)
    assert left == {}, {pid: describe(pid) for pid in left}
    # nothing of the corpus reached the host's temporary folders
    assert tmp_entries(marker) == []
    assert not {n for n in set(os.listdir("/tmp")) - tmp_before if marker in n}
    # run in parallel: well under the sum of the timeouts
    assert elapsed < 30


@pytest.mark.skipif(os.geteuid() != 0, reason="the rlimit caveat only concerns root")
def test_as_root_programs_do_not_run_as_root_outside():
    """The program's processes belong to uid 65534 on the host, not to root."""
    marker = f"evalstack-uid-{uuid.uuid4().hex[:12]}"
    code = ("import os, sys, time\n"
            f"os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(2)', "
            f"{marker!r}])\n")
    seen: dict[int, int] = {}

    async def run_and_watch() -> ExecutionResult:
        task = asyncio.ensure_future(run_program_async(code, Limits(timeout=5)))
        for _ in range(40):
            await asyncio.sleep(0.05)
            for pid in processes_with(marker):
                try:
                    seen[pid] = os.stat(f"/proc/{pid}").st_uid
                except OSError:
                    pass
        return await task

    result = asyncio.run(run_and_watch())
    assert result.status == "passed"
    assert seen and set(seen.values()) == {65534}
