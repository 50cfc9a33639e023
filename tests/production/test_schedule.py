"""Scheduled work in serve: rounds repeat, a failing job is reported and retried, scoring
runs inside a real serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from evalstack.production.schedule import Schedule
from evalstack.production.store import create_project, scored
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer
from tests.production.conftest import _port


def test_rounds_repeat_and_a_failing_job_does_not_stop_the_others():
    seen: list[str] = []
    calls = {"n": 0}

    async def good() -> str:
        calls["n"] += 1
        return f"good {calls['n']}"

    async def bad() -> str:
        raise RuntimeError("judge down")

    schedule = Schedule(0.05, [bad, good], report=seen.append).start()
    deadline = time.monotonic() + 10
    while calls["n"] < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    schedule.stop(timeout=5)
    assert calls["n"] >= 3
    assert "scheduled job failed: RuntimeError: judge down" in seen and "good 1" in seen


def test_serve_scores_new_traces_on_its_schedule(tmp_path):
    store = str(tmp_path / "s.db")
    with Store.open(store) as st:
        pid, _ = create_project(st, "bot")
        log_interactions(st, pid, [Interaction(f"q{i}?", f"a{i}", datetime(
            2026, 12, 1, tzinfo=UTC) + timedelta(seconds=i)) for i in range(200)])
    with FakeServer() as server:
        judge = json.dumps({"judge": "openai/judge-model", "judge_args": {
            "base_url": server.url}, "max_attempts": 1})
        policy = tmp_path / "policy.yaml"
        policy.write_text(f"name: hourly\nrate: 0.05\nscorers: ['llm_judge:{judge}']\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalstack", "serve", "--store", store, "--port",
             str(_port()), "--score", f"bot={policy}", "--every", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            # wait for the first round's report, reading serve's output, not the store
            deadline = time.monotonic() + 60
            lines = []
            while time.monotonic() < deadline:
                line = proc.stdout.readline()  # type: ignore[union-attr]
                lines.append(line)
                if "[schedule] hourly:" in line:
                    break
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        out = "".join(lines) + out
        with Store.open(store) as st:
            done = scored(st, pid)
        assert done, out + err
        assert "[schedule] hourly:" in out and "Traceback" not in err
        assert server.stats()["requests"] == len(done)  # nothing scored twice across rounds
