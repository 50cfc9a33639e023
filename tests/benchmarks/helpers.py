"""Shared helpers for the benchmark tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.store import Store


def run(task, tmp_path: Path, model: str, limit: int | None = None, **model_args):
    """Run ``task`` on ``model`` through the real runner; the result and records by sample id."""
    result = evaluate([task], [model], RunConfig(store=str(tmp_path / "s.db"), progress=False,
                                                 limit=limit, concurrency=1),
                      model_args=model_args)
    t = result.tasks[0]
    with Store.open(str(tmp_path / "s.db")) as st:
        records = {r.sample_id: r for r in st.iter_samples(t.run_id)}
    return t, records


def run_chat_coder(benchmark: str, tmp_path: Path, form: str) -> tuple[dict[str, Any], Any, list,
                                                                       float]:
    """``evalstack run BENCHMARK`` (CLI, in-process) on the chat coder of ``chat_coder.py``
    answering in ``form``: the JSON task result, the run record, its samples, the seconds."""
    from click.testing import CliRunner

    from evalstack.cli.main import cli

    coder = Path(__file__).with_name("chat_coder.py")
    started = time.monotonic()
    done = CliRunner().invoke(cli, [
        "run", benchmark, "-m", f"python/{coder}:reply", "-M", f"form={form}",
        "--store", str(tmp_path / "s.db"), "--no-progress", "--json",
    ])
    elapsed = time.monotonic() - started
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)["tasks"][0]
    with Store.open(str(tmp_path / "s.db")) as store:
        record = store.get_run(out["run_id"])
        samples = list(store.iter_samples(out["run_id"]))
    return out, record, samples, elapsed
