"""Retrieval scorers on a pipeline's returned documents, with intervals, compared paired."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.stats import retrieval

DOCS = {"d1": "paris france capital", "d2": "rome italy capital", "d3": "berlin germany",
        "d4": "madrid spain capital", "d5": "lisbon portugal", "d6": "vienna austria"}
QUERIES = [("france", {"d1": 2}), ("italy", {"d2": 1}), ("germany capital", {"d3": 1}),
           ("spain", {"d4": 1, "d1": 0}), ("portugal", ["d5"]), ("austria capital", ["d6"])]

PIPELINE = '''
DOCS = {docs!r}

def retrieve(prompt, top=3):
    words = set(prompt.split())
    ranked = sorted(DOCS, key=lambda d: (-len(words & set(DOCS[d].split())), d))
    return {{"text": prompt, "contexts": [{{"id": d, "text": DOCS[d]}} for d in ranked[:int(top)]]}}
'''


def _ranked(query: str, top: int) -> list[str]:
    words = set(query.split())
    return sorted(DOCS, key=lambda d: (-len(words & set(DOCS[d].split())), d))[:top]


def _run(tmp_path: Path, top: int) -> dict:
    app = tmp_path / "retriever.py"
    app.write_text(PIPELINE.format(docs=DOCS))
    data = tmp_path / "rag.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "input": q, "target": q, "relevant": r})
                            + "\n" for i, (q, r) in enumerate(QUERIES)))
    result = CliRunner().invoke(cli, [
        "run", str(data), "-m", f"python/{app}:retrieve", "-M", f"top={top}",
        "-s", "recall_at_k:k=2", "-s", "mrr", "-s", "ndcg_at_k:k=2", "-s", "hit_rate_at_k:k=1",
        "--store", str(tmp_path / "s.db"), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("top", [1, 3])
def test_each_metric_is_the_mean_of_the_per_query_values_with_its_interval(tmp_path: Path,
                                                                           top: int) -> None:
    (task,) = _run(tmp_path, top)["tasks"]
    grades = [{k: 1.0 for k in r} if isinstance(r, list) else {k: float(v) for k, v in r.items()}
              for _, r in QUERIES]
    ranked = [_ranked(q, top) for q, _ in QUERIES]
    pairs = list(zip(ranked, grades, strict=True))
    expected = {
        "recall_at_k": [retrieval.recall_at_k(r, g, 2) for r, g in pairs],
        "mrr": [retrieval.mrr(r, g) for r, g in pairs],
        "ndcg_at_k": [retrieval.ndcg_at_k(r, g, 2) for r, g in pairs],
        "hit_rate_at_k": [retrieval.hit_rate_at_k(r, g, 1) for r, g in pairs],
    }
    for name, values in expected.items():
        m = task["metrics"][name]
        assert m["n"] == len(QUERIES)
        assert m["estimate"] == pytest.approx(sum(values) / len(values)), name
        assert m["ci_low"] <= m["estimate"] <= m["ci_high"]
    assert task["metrics"]["hit_rate_at_k"]["method"] == "wilson"


def test_two_retriever_settings_compare_paired(tmp_path: Path) -> None:
    a = _run(tmp_path, 1)["run_id"]
    b = _run(tmp_path, 3)["run_id"]
    result = CliRunner().invoke(cli, ["compare", a, b, "--store", str(tmp_path / "s.db"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert "recall_at_k" in result.output and "mrr" in result.output


def test_a_target_without_documents_is_a_clear_score_error(tmp_path: Path) -> None:
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q", "input": "x", "target": "x", "relevant": ["d1"]})
                    + "\n")
    result = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/echo", "-s", "mrr",
                                      "--store", str(tmp_path / "s.db"), "--no-progress",
                                      "--json", "--error-budget", "1"])
    assert "Traceback" not in result.output
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tasks"][0]["errors"] == 1
