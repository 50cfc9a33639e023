"""`evalstack select` end to end: ranking, ties for first, Pareto frontier."""

from __future__ import annotations

import json

from tests.analysis.helpers import invoke, mock_run, write_dataset

N = 300


def test_ranking_ties_and_frontier(tmp_path):
    data = write_dataset(tmp_path / "data.jsonl", N)
    strong = mock_run(tmp_path, data, "strong", [i % 10 < 8 for i in range(N)])
    # three items broken, two fixed: no evidence of a difference
    close_ok = [(i % 10 < 8 and i not in (0, 100, 200)) or i in (9, 109) for i in range(N)]
    close = mock_run(tmp_path, data, "close", close_ok, "-M", "latency_ms=1")
    weak = mock_run(tmp_path, data, "weak", [i % 10 < 5 for i in range(N)], "-M", "latency_ms=1")
    r = invoke("select", weak, close, strong, "--json")
    assert r.exit_code == 0, r.output
    sel = json.loads(r.stdout)
    names = [c["label"] for c in sel["candidates"]]
    assert "replies-strong" in names[0] and "replies-weak" in names[2]
    best, second, third = sel["candidates"]
    assert best["mean"] == 0.8 and best["tied_for_first"]
    assert second["tied_for_first"] and second["p_vs_best"] >= 0.05
    assert not third["tied_for_first"] and third["p_vs_best"] < 0.001
    assert sel["tied_for_first"] == names[:2]
    # simultaneous intervals are wider than a single 95% interval
    assert sel["confidence"] > 0.95
    assert all(c["ci_low"] < c["mean"] < c["ci_high"] for c in sel["candidates"])
    assert sel["frontier"] == [names[0]]  # free and best dominates the rest
    table = invoke("select", weak, close, strong).output
    assert "2 candidates are statistically tied for first" in table
    assert "Pareto frontier" in table


def test_pools_tasks_and_requires_every_candidate_on_every_task(tmp_path):
    d1 = write_dataset(tmp_path / "one.jsonl", 60)
    d2 = write_dataset(tmp_path / "two.jsonl", 50)
    a1 = mock_run(tmp_path, d1, "a", [True] * 60)
    a2 = mock_run(tmp_path, d2, "a", [True] * 50)
    b1 = mock_run(tmp_path, d1, "b", [i % 2 == 0 for i in range(60)])
    r = invoke("select", a1, a2, b1)
    assert r.exit_code == 2 and "has no run of two;" in r.output.replace("\n", " ")
    b2 = mock_run(tmp_path, d2, "b", [i % 2 == 0 for i in range(50)])
    sel = json.loads(invoke("select", a1, a2, b1, b2, "--json").stdout)
    assert sel["candidates"][0]["n"] == 110
    assert sel["tied_for_first"] == [sel["candidates"][0]["label"]]


def test_one_candidate_is_an_error(tmp_path):
    data = write_dataset(tmp_path / "data.jsonl", 20)
    run = mock_run(tmp_path, data, "a", [True] * 20)
    r = invoke("select", run)
    assert r.exit_code == 2 and "at least two different models" in r.output
