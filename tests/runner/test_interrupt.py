"""Ctrl-C stops a run within 5 s and leaves it resumable."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer


def _data(path, n):
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": str(i), "input": f"p{i}", "target": f"p{i}"}) + "\n")
    return path


def _wait_for_samples(store, minimum: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.exists():
            with Store.open(str(store)) as st:
                runs = st.list_runs()
                if runs and st.count_samples(runs[0].id)[0] >= minimum:
                    return
        time.sleep(0.2)
    raise AssertionError("the run stored nothing in time")


def _interrupt_and_time(cmd, store, sig=signal.SIGINT) -> tuple[float, int, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _wait_for_samples(store, 3)
    start = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return time.monotonic() - start, proc.returncode, err


# SIGTERM is what CI runners, systemd, Kubernetes and `timeout` send: handled like Ctrl-C.
@pytest.mark.parametrize(("sig", "code", "says"), [(signal.SIGINT, 130, "Interrupted"),
                                                   (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupt_over_http_stops_fast_and_resumes(tmp_path, sig, code, says):
    data = _data(tmp_path / "d.jsonl", 400)
    store = tmp_path / "s.db"
    with FakeServer(latency_ms=200) as server:
        cmd = [sys.executable, "-m", "evalstack", "run", str(data), "-m", "openai/x",
               "-M", f"base_url={server.url}", "--store", str(store), "--concurrency", "4"]
        elapsed, returncode, err = _interrupt_and_time(cmd, store, sig)
        assert elapsed < 5.0
        assert returncode == code, err
        assert "Traceback" not in err and says in err and "resume" in err.lower()
        with Store.open(str(store)) as st:
            (run,) = st.list_runs()
            assert run.status == "interrupted"
            stored = {sid for sid, _ in st.done_keys(run.id)}
        assert 0 < len(stored) < 400
        server.reset()
        done = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["tasks"][0]["run_id"] == run.id
        assert result["tasks"][0]["samples"] == 400
        assert server.stats()["requests"] == 400 - len(stored)


@pytest.mark.llama
def test_ctrl_c_during_local_generation_stops_within_5s(tmp_path):
    pytest.importorskip("llama_cpp")
    data = _data(tmp_path / "d.jsonl", 50)
    store = tmp_path / "s.db"
    cmd = [sys.executable, "-m", "evalstack", "run", str(data), "-m", "local/smollm2",
           "--store", str(store), "--max-tokens", "64"]
    elapsed, code, err = _interrupt_and_time(cmd, store)
    assert elapsed < 5.0, err
    assert code == 130
    with Store.open(str(store)) as st:
        assert st.list_runs()[0].status == "interrupted"

