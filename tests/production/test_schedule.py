"""Scheduled work in serve: rounds repeat, a failing job is reported and retried. Scoring inside
a real serve, with another process reading the store, is in tests/store/test_store_processes.py."""

from __future__ import annotations

import time

from evalstack.production.schedule import Schedule


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
