"""Shared helpers for the benchmark tests."""

from __future__ import annotations

from pathlib import Path

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
