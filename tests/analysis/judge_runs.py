"""Stored runs scored by judges and juries, for tests of the judge check and jury agreement."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from evalstack.core.records import RunRecord, SampleRecord

GPT = ("openai/gpt-4o", "gpt-4o-2024-08-06", "1a2b3c4d5e6f" + "0" * 52)
NEW_TEMPLATE = ("openai/gpt-4o", "gpt-4o-2024-08-06", "9f8e7d6c5b4a" + "0" * 52)
NEW_VERSION = ("openai/gpt-4o", "gpt-4o-2024-11-20", GPT[2])
CLAUDE = ("anthropic/claude-sonnet-4", "claude-sonnet-4-20250514", GPT[2])




def judge_score(overall: float, judge: Sequence[str | None] = GPT) -> dict[str, Any]:
    """A stored ``llm_judge`` score on the 1-5 scale, as ``RubricJudge.record`` writes it."""
    model, version, digest = judge
    return {
        "value": (overall - 1) / 4, "kind": "continuous", "answer": f"{overall:g}/5",
        "explanation": "ok",
        "metadata": {"judge": {"model": model, "version": version, "template_hash": digest,
                               "rubric": "default"},
                     "criteria": {"accuracy": overall}, "overall": overall, "scale": [1, 5],
                     "passed": None, "attempts": 1},
    }


def jury_score(overalls: Sequence[float], models: Sequence[str] = ("a/x", "b/y", "c/z"),
               digest: str = GPT[2]) -> dict[str, Any]:
    """A stored ``llm_jury`` score (mean of the jurors) on the 1-5 scale."""
    mean = float(np.mean(overalls))
    jurors = [
        {"judge": {"model": m, "version": m + "-v1", "template_hash": digest,
                   "rubric": "default"},
         "criteria": {"accuracy": o}, "overall": o, "scale": [1, 5], "rationale": "r"}
        for m, o in zip(models, overalls, strict=True)
    ]
    return {
        "value": (mean - 1) / 4, "kind": "continuous", "answer": f"{mean:.3g}/5",
        "metadata": {"judge": {"model": "jury(mean): " + ", ".join(models),
                               "version": ", ".join(m + "-v1" for m in models),
                               "template_hash": digest, "rubric": "default"},
                     "overall": mean, "scale": [1, 5], "aggregate": "mean", "jurors": jurors},
    }


def store_run(scores: Sequence[dict[str, dict[str, Any]]], *, model: str = "mock/scripted",
              scorers: Sequence[str] = ("llm_judge",), errors: Sequence[int] = ()) -> str:
    """A completed run in the test's store: sample ``s{i:03d}`` gets ``scores[i]``."""
    from evalstack.store import Store, new_id

    now = datetime(2026, 12, 1, tzinfo=UTC)
    run = RunRecord(
        id=new_id(), created_at=now, updated_at=now, status="completed", task_name="t",
        task_version=1, task_spec={"scorers": [{"name": s, "args": {}} for s in scorers]},
        model=model, model_args={}, dataset_name="d", dataset_hash="0" * 64,
        dataset_size=len(scores), epochs=1, limit=None, fingerprint="f" * 64, config={},
        package_version="0", git_revision=None, summary=None, error=None,
    )
    records = [
        SampleRecord(f"s{i:03d}", 0, "q", "a", "a", dict(s),
                     error="judge error" if i in errors else None,
                     category=("algebra", "geometry")[i % 2])
        for i, s in enumerate(scores)
    ]
    with Store.open(os.environ["EVALSTACK_STORE"]) as store:
        store.create_run(run)
        store.write_samples(run.id, records)
    return run.id


def judged_pair(judge_b: Sequence[str | None] = GPT, n: int = 40
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two runs' per-sample scores: exact_match and an llm_judge (B rated one point higher
    on a quarter of the samples), B judged by ``judge_b``."""
    a, b = [], []
    for i in range(n):
        overall = float(1 + i % 4)
        a.append({"exact_match": {"value": float(i % 2), "kind": "binary"},
                  "llm_judge": judge_score(overall)})
        b.append({"exact_match": {"value": float(i % 2), "kind": "binary"},
                  "llm_judge": judge_score(overall + (i % 4 == 0), judge_b)})
    return a, b
