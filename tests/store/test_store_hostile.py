"""A store that is missing, foreign, read-only, locked or on a full disk: the real CLI says so
(path, cause, fix), exits 7, shows no traceback, and loses nothing stored before."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

EVALSTACK = [sys.executable, "-m", "evalstack"]
STORE_EXIT = 7

# Root passes every permission check; without these two capabilities it is held to the
# file's mode bits as anyone else is.
_AS_USER = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
            if os.geteuid() == 0 else [])


def cli(*args: str, env: dict[str, str] | None = None, user: bool = False,
        cwd: Path | None = None, timeout: float = 60, **kw: object
        ) -> subprocess.CompletedProcess[str]:
    prefix = _AS_USER if user else []
    proc = subprocess.run([*prefix, *EVALSTACK, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout, **kw)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def data(tmp_path: Path, n: int = 2, width: int = 1) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({"input": f"{'x' * width}{i}", "target": f"x{i}"}) + "\n"
                            for i in range(n)))
    return str(path)


def stored_run(tmp_path: Path, store: Path, n: int = 2) -> str:
    proc = cli("run", data(tmp_path, n), "-m", "mock/echo", "--store", str(store), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["tasks"][0]["run_id"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_rows(store: Path) -> list[tuple]:
    with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT id, status FROM runs ORDER BY id").fetchall()


def sample_rows(store: Path, run_id: str) -> list[tuple]:
    with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT sample_id, epoch, output, scores FROM samples WHERE "
                            "run_id = ? ORDER BY sample_id", (run_id,)).fetchall()


READ_ONLY_COMMANDS = [
    ["runs"],
    ["show", "01ABC"],
    ["export", "01ABC"],
    ["report", "01ABC", "-o", "r.html"],
    ["compare", "01ABC", "01ABD"],
    ["select", "01ABC", "01ABD"],
    ["gate", "--baseline", "01ABC", "--candidate", "01ABD"],
    ["baseline", "list"],
    ["view"],
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: c[0])
def test_a_command_that_only_reads_does_not_create_a_missing_store(tmp_path, command):
    typo = tmp_path / "typo.db"
    proc = cli(*command, "--store", str(typo), cwd=tmp_path, timeout=30)
    assert proc.returncode == STORE_EXIT, proc.stderr
    assert f"No evalstack store at '{typo}': the file does not exist" in proc.stderr
    assert "was not created" in proc.stderr
    assert not typo.exists()
    assert not (tmp_path / "r.html").exists()


def test_a_missing_store_names_the_stores_beside_it(tmp_path):
    stored_run(tmp_path, tmp_path / "evals.db")
    proc = cli("runs", "--store", str(tmp_path / "eval.db"))
    assert proc.returncode == STORE_EXIT
    assert "Stores in that folder: evals.db" in proc.stderr


def _foreign(tmp_path: Path) -> Path:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (x INTEGER)")
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    return path


@pytest.mark.parametrize("command", [["runs"], ["run", "DATA", "-m", "mock/echo"]],
                         ids=["runs", "run"])
def test_another_applications_sqlite_file_is_not_touched(tmp_path, command):
    other = _foreign(tmp_path)
    before = digest(other)
    args = [data(tmp_path) if a == "DATA" else a for a in command]
    proc = cli(*args, "--store", str(other))
    assert proc.returncode == STORE_EXIT
    assert "another application's SQLite database (tables: runs, users)" in proc.stderr
    assert "it was not changed" in proc.stderr
    assert "already exists" not in proc.stderr
    assert digest(other) == before
    with sqlite3.connect(other) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not Path(f"{other}-wal").exists()


def test_a_file_that_is_not_sqlite_is_refused_unchanged(tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"input": "a", "target": "a"}\n')
    proc = cli("run", data(tmp_path), "-m", "mock/echo", "--store", str(notes))
    assert proc.returncode == STORE_EXIT
    assert "is not an evalstack store: it is not a SQLite database" in proc.stderr
    assert notes.read_text() == '{"input": "a", "target": "a"}\n'


def test_a_directory_as_the_store(tmp_path):
    folder = tmp_path / "stores"
    folder.mkdir()
    for command in (["runs"], ["run", data(tmp_path), "-m", "mock/echo"]):
        proc = cli(*command, "--store", str(folder))
        assert proc.returncode == STORE_EXIT
        assert f"The store path '{folder}' is a directory; expected a SQLite file such as " \
               f"'{folder / 'evalstack.db'}'" in proc.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                    reason="needs setpriv to drop root's permission override")
def test_a_read_only_store_says_so_and_still_reads(tmp_path):
    store = tmp_path / "s.db"
    run_id = stored_run(tmp_path, store)
    before = sample_rows(store, run_id)
    for extra in (Path(f"{store}-wal"), Path(f"{store}-shm")):
        assert not extra.exists() or extra.stat().st_size >= 0
    store.chmod(0o444)
    try:
        proc = cli("run", data(tmp_path, 3), "-m", "mock/echo", "--store", str(store),
                   user=True)
        assert proc.returncode == STORE_EXIT, proc.stderr
        assert f"The store '{store}' is read-only (the file's mode is -r--r--r--)" in proc.stderr
        assert "chmod u+w" in proc.stderr
        listing = cli("runs", "--store", str(store), user=True)
        assert listing.returncode == 0, listing.stderr
        assert run_id in listing.stdout
    finally:
        store.chmod(0o644)
    assert sample_rows(store, run_id) == before


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                    reason="needs setpriv to drop root's permission override")
def test_a_store_in_a_folder_that_cannot_be_written(tmp_path):
    locked = tmp_path / "shared"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for store in (locked / "s.db", locked / "sub" / "s.db"):
            proc = cli("run", data(tmp_path), "-m", "mock/echo", "--store", str(store),
                       user=True)
            assert proc.returncode == STORE_EXIT
            assert f"Cannot create the store '{store}': the folder '{locked}' is not " \
                   "writable by this user" in proc.stderr
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _lock(store: Path, seconds: float) -> subprocess.Popen[str]:
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(store), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def _unlock(locker: subprocess.Popen[str]) -> None:
    locker.kill()
    locker.wait()
    assert locker.stdout is not None
    locker.stdout.close()


def test_a_locked_store_names_who_holds_it_before_the_run(tmp_path):
    store = tmp_path / "s.db"
    run_id = stored_run(tmp_path, store)
    locker = _lock(store, 30)
    try:
        proc = cli("run", data(tmp_path, 3), "-m", "mock/echo", "--store", str(store),
                   env={"EVALSTACK_BUSY_TIMEOUT": "1"})
    finally:
        _unlock(locker)
    assert proc.returncode == STORE_EXIT, proc.stderr
    assert f"The store '{store}' is locked by another process (processes that have it " \
           f"open: pid {locker.pid} (" in proc.stderr
    assert "waited 1 s" in proc.stderr and "EVALSTACK_BUSY_TIMEOUT" in proc.stderr
    assert run_rows(store) == [(run_id, "completed")]


def test_a_store_locked_mid_run_leaves_it_resumable(tmp_path):
    store = tmp_path / "s.db"
    cases = data(tmp_path, 8)
    args = ["run", cases, "-m", "mock/echo", "-M", "latency_ms=150", "--concurrency", "1",
            "--store", str(store), "--json"]
    env = {**os.environ, "EVALSTACK_BUSY_TIMEOUT": "1"}
    first = subprocess.Popen([*EVALSTACK, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if store.exists() and _count(store) >= 1:
            break
        time.sleep(0.05)
    locker = _lock(store, 4)
    out, err = first.communicate(timeout=60)
    _unlock(locker)
    assert first.returncode == STORE_EXIT, err
    assert "Traceback" not in err and "INSERT" not in err
    assert "is locked by another process" in err
    (run_id, status), = run_rows(store)
    assert status in ("interrupted", "running")
    kept = sample_rows(store, run_id)
    assert 1 <= len(kept) < 8
    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"][0]["run_id"] == run_id
    assert run_rows(store) == [(run_id, "completed")]
    assert sample_rows(store, run_id)[: len(kept)] == kept or set(kept) <= set(
        sample_rows(store, run_id))


def _count(store: Path) -> int:
    try:
        with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM samples").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_full_disk_says_so_without_dumping_the_sql_and_resumes(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse writes past a size, as a full disk does."""
    store = tmp_path / "s.db"
    old = stored_run(tmp_path, store)
    old_rows = sample_rows(store, old)
    size = store.stat().st_size
    cases = data(tmp_path, 3000, width=2000)

    def small_disk() -> None:
        limit = size + 200_000
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["run", cases, "-m", "mock/echo", "--store", str(store), "--json"]
    proc = cli(*args, preexec_fn=small_disk)
    assert proc.returncode == STORE_EXIT, proc.stderr
    assert f"Could not write to the store '{store}'" in proc.stderr
    assert "disk" in proc.stderr and "run the same command again" in proc.stderr
    assert "INSERT" not in proc.stderr and "xxxxxxxx" not in proc.stderr
    assert len(proc.stderr) < 600
    statuses = dict(run_rows(store))
    assert statuses[old] == "completed"
    assert sample_rows(store, old) == old_rows
    (new,) = [rid for rid in statuses if rid != old]
    assert statuses[new] in ("interrupted", "running")

    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"][0]["run_id"] == new
    assert dict(run_rows(store)) == {old: "completed", new: "completed"}
