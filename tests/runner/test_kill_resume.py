"""SIGKILL a run at random points, resume it, and count requests at the server.

A resumed run must ask nothing for samples already stored, and must end with exactly the
results of an uninterrupted run.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer

N = 400
KILLS = 6


def _data(path: Path) -> Path:
    with open(path, "w") as fh:
        for i in range(N):
            text = f"question {i}"
            fh.write(json.dumps({"id": f"q{i:03d}", "input": text,
                                 "target": text if i % 3 else "other",
                                 "category": f"c{i % 4}"}) + "\n")
    return path


def _cmd(data: Path, url: str, store: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "evalstack", "run", str(data), "-m", "openai/fake",
            "-M", f"base_url={url}", "--concurrency", "4", "--store", str(store),
            "--scorer", "exact_match", "--scorer", "f1", "--no-progress", *extra]


def _log_prompts(log: Path, start: int) -> tuple[list[str], int]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line)["prompt"] for line in lines[start:]], len(lines)


def _stored_prompts(store: Path) -> set[str]:
    if not store.exists():
        return set()
    with Store.open(str(store)) as st:
        # a kill after a run completed makes the next start a new run, served from the cache
        return {f"question {int(sid[1:])}" for run in st.list_runs()
                for sid, _ in st.done_keys(run.id)}


def _per_sample(store: Path) -> tuple[str, dict, list]:
    with Store.open(str(store)) as st:
        run = st.list_runs()[0]  # the newest
        assert run.status == "completed"
        rows = [(s.sample_id, s.epoch, s.output, s.scores, s.error)
                for s in st.iter_samples(run.id)]
        return run.id, run.summary, rows


def test_sigkill_at_random_points_then_resume(tmp_path):
    rng = random.Random(int(os.environ.get("EVALSTACK_TEST_SEED", "20261129")))
    data = _data(tmp_path / "data.jsonl")
    store = tmp_path / "killed.db"
    log = tmp_path / "requests.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    repeated = 0
    kills_done = 0
    with FakeServer(latency_ms=40, log=str(log)) as server:
        seen = 0
        for _ in range(3 * KILLS):
            if kills_done >= KILLS:
                break
            before = _stored_prompts(store)
            proc = subprocess.Popen(_cmd(data, server.url, store), env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills_done += 1
            proc.wait()
            prompts, seen = _log_prompts(log, seen)
            repeated += sum(1 for p in prompts if p in before)
        # the last start runs to completion
        before = _stored_prompts(store)
        done = subprocess.run(_cmd(data, server.url, store, "--json"), env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        prompts, seen = _log_prompts(log, seen)
        repeated += sum(1 for p in prompts if p in before)

        reference = tmp_path / "reference.db"
        clean = subprocess.run(_cmd(data, server.url, reference, "--json"), env=env,
                               capture_output=True, text=True, timeout=120)
        assert clean.returncode == 0, clean.stderr

    assert kills_done == KILLS, "the run finished before enough kills; slow it down"
    assert repeated == 0, f"{repeated} requests repeated samples that were already stored"
    killed_id, killed_summary, killed_rows = _per_sample(store)
    _, ref_summary, ref_rows = _per_sample(reference)
    assert len(killed_rows) == N
    assert killed_rows == ref_rows
    for key in ("metrics", "categories", "samples", "errors"):
        assert killed_summary[key] == ref_summary[key]
    assert json.loads(done.stdout)["tasks"][0]["run_id"] == killed_id
