"""The run lease: the same command started twice at once asks each prompt once; a second
process says who holds the run and waits (or, with --no-wait, stops); a dead holder's lease
is taken over at once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from evalstack.testing.fake_server import FakeServer

EVALSTACK = [sys.executable, "-m", "evalstack"]
BUSY_EXIT = 8


def _data(tmp_path: Path, n: int) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({"input": f"q{i}", "target": f"q{i}"}) + "\n"
                            for i in range(n)))
    return str(path)


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*EVALSTACK, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _model_requests(server: FakeServer) -> int:
    return sum(n for path, n in server.stats()["paths"].items() if "completions" in path)


def _leases(store: Path) -> list[tuple]:
    with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT pid, run_id FROM run_leases").fetchall()


def _wait_for_lease(store: Path, timeout: float = 30) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rows = _leases(store)
        except sqlite3.Error:
            rows = []
        if rows and rows[0][1]:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError("no lease appeared")


def test_two_identical_commands_at_once_ask_each_prompt_at_most_once_more(tmp_path):
    n, concurrency = 40, 4
    store = tmp_path / "s.db"
    with FakeServer(latency_ms=40) as server:
        args = ["run", _data(tmp_path, n), "-m", "openai/m", "-M", f"base_url={server.url}",
                "--concurrency", str(concurrency), "--store", str(store), "--json"]
        first, second = _start(args), _start(args)
        outs = [p.communicate(timeout=120) for p in (first, second)]
        requests = _model_requests(server)
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert requests <= n + concurrency, requests
    waited = [err for _, err in outs if "is being written by another process: pid" in err]
    assert len(waited) == 1, outs
    assert "This one goes on when it finishes" in waited[0]
    for out, _ in outs:
        task = json.loads(out)["tasks"][0]
        assert task["samples"] == n and task["errors"] == 0
    assert _leases(store) == []


def test_no_wait_stops_at_once_naming_the_holder(tmp_path):
    store = tmp_path / "s.db"
    with FakeServer(latency_ms=200) as server:
        args = ["run", _data(tmp_path, 20), "-m", "openai/m", "-M", f"base_url={server.url}",
                "--concurrency", "1", "--store", str(store)]
        first = _start(args)
        try:
            pid, run_id = _wait_for_lease(store)
            assert pid == first.pid
            second = subprocess.run([*EVALSTACK, *args, "--no-wait"], capture_output=True,
                                    text=True, timeout=60)
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=60)
    assert second.returncode == BUSY_EXIT, second.stderr
    assert "Traceback" not in second.stderr
    assert f"is being written by another process: pid {first.pid} on " in second.stderr
    assert f"writing run {run_id}" in second.stderr
    assert "--no-wait" in second.stderr


def test_a_killed_holders_lease_is_taken_over_at_once_and_the_run_resumes(tmp_path):
    store = tmp_path / "s.db"
    with FakeServer(latency_ms=100) as server:
        args = ["run", _data(tmp_path, 30), "-m", "openai/m", "-M", f"base_url={server.url}",
                "--concurrency", "1", "--store", str(store), "--json"]
        first = _start(args)
        _, run_id = _wait_for_lease(store)
        time.sleep(0.8)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert _leases(store)  # left behind by the killed process
        # --no-wait: a lease seen as held would stop it; a dead pid's lease is free at once
        second = subprocess.run([*EVALSTACK, *args, "--no-wait"], capture_output=True,
                                text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["tasks"][0]["run_id"] == run_id
    assert "another process" not in second.stderr
    assert _leases(store) == []
