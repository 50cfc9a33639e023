"""A ``python/...`` pipeline's contexts, tool calls, usage and trace id are stored."""

from __future__ import annotations

from pathlib import Path

from evalstack import RunConfig, evaluate
from evalstack.core.task import Task
from evalstack.core.types import Sample
from evalstack.datasets import MemoryDataset
from evalstack.scorers.match import exact_match
from evalstack.solvers import generate
from evalstack.store import Store

PIPELINE = "python/tests.providers.rag_pipeline:answer"


def test_what_the_pipeline_returned_is_stored_and_a_bad_shape_fails_one_sample(tmp_path: Path
                                                                               ) -> None:
    data = MemoryDataset("rag", [Sample("a", "what is 7", "what is 7"),
                                 Sample("b", "bad reply", "bad reply")])
    store = str(tmp_path / "s.db")
    result = evaluate([Task("rag", data, generate(), [exact_match()])], [PIPELINE],
                      RunConfig(store=store, progress=False, error_budget=0.5))
    t = result.tasks[0]
    assert (t.samples, t.errors) == (2, 1)
    s = Store.open(store)
    (run,) = s.list_runs()
    by_id = {r.sample_id: r for r in s.iter_samples(run.id)}
    pipe = by_id["a"].metadata["pipeline"]
    assert pipe["contexts"] == [{"id": None, "text": "loose text", "score": None},
                                {"id": "7", "text": "seven", "score": 1.0}]
    assert pipe["tool_calls"] == [{"name": "search", "arguments": {"q": "what is 7"}}]
    assert (pipe["cost_usd"], pipe["trace_id"]) == (0.25, "abc")
    assert (by_id["a"].input_tokens, by_id["a"].output_tokens) == (5, 1)
    assert "expected a list of documents at key 'contexts'" in (by_id["b"].error or "")
