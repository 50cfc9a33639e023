"""The viewer stays responsive, with no "database is locked", while a big run is written."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from evalstack.store import Store
from tests.web.conftest import artifacts_dir

N = 10_000


def test_pages_load_while_a_10000_sample_run_is_being_written(tmp_path, live_viewer, browser):
    data = tmp_path / "big.jsonl"
    data.write_text("".join(json.dumps({"id": f"s{i:05d}", "input": f"q{i}", "target": f"q{i}"})
                            + "\n" for i in range(N)))
    store = str(tmp_path / "store.db")
    log = (tmp_path / "writer.log").open("w")
    writer = subprocess.Popen(
        [sys.executable, "-m", "evalstack", "run", str(data), "-m", "mock/echo",
         "-M", "latency_ms=5", "--store", store, "--no-progress", "--json"],
        stdout=subprocess.DEVNULL, stderr=log)
    try:
        run_id, stored = _wait_for_samples(store, writer)
        url = live_viewer(store)
        page = browser.new_page()
        timings = []
        grew = False
        for _ in range(10):
            for path in ("/runs", f"/runs/{run_id}", "/api/runs", f"/api/runs/{run_id}"):
                start = time.perf_counter()
                response = page.goto(url + path)
                timings.append(time.perf_counter() - start)
                assert response.status == 200, (path, response.status)
                assert "database is locked" not in page.content()
            now, _ = _count(store, run_id)
            grew = grew or now > stored
        page.goto(f"{url}/runs/{run_id}")
        page.screenshot(path=str(artifacts_dir() / "run_while_writing.png"), full_page=True)
        page.close()
        assert grew, "the run did not write while the pages were read"
        assert writer.poll() is None or writer.returncode == 0, _log(tmp_path)
        # generous here (shared CI machines); bench/viewer_bench.py holds the 1 s target
        assert max(timings) < 5.0, timings
    finally:
        writer.kill()
        writer.wait(timeout=30)
        log.close()


def _log(tmp_path) -> str:
    return (tmp_path / "writer.log").read_text()


def _count(store: str, run_id: str) -> tuple[int, int]:
    with Store.open(store) as st:
        return st.count_samples(run_id)


def _wait_for_samples(store: str, writer: subprocess.Popen) -> tuple[str, int]:
    """The run's id once it has stored samples (the writer creates the store first)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert writer.poll() is None, "the writer stopped early"
        if Path(store).exists():
            time.sleep(0.5)  # let the writer finish creating the schema
            with Store.open(store) as st:
                runs = st.list_runs()
                if runs:
                    stored, _ = st.count_samples(runs[0].id)
                    if stored > 0:
                        return runs[0].id, stored
        time.sleep(0.1)
    raise AssertionError("the run wrote no sample within 60 s")
