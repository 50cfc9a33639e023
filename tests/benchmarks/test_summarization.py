"""The summarization suite: real XSum articles, statement-checked faithfulness, readability."""

from __future__ import annotations

import json
import os

import pytest

from evalstack.benchmarks.summarization import summarization
from evalstack.core.errors import DataError
from tests.benchmarks.helpers import run
from tests.scorers.judge.fakes import FunctionJudge, blocks

DOCS = [
    {"id": "d1", "document": "The council approved a new park. It will open in May.",
     "reference": "A new park was approved. It opens in May."},
    {"id": "d2", "document": "Heavy rain flooded the town centre on Monday.",
     "key_points": ["Rain flooded the town centre."], "category": "weather"},
]


def words(text):
    return set(text.lower().replace(".", " ").split())


def checker(request) -> str:
    seen = blocks(request)
    ok = words(seen["STATEMENT"]) <= words(seen["CONTEXT"]) | {"a", "the", "it", "was", "is"}
    return json.dumps({"rationale": "words", "verdict": "yes" if ok else "no"})


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return path


def test_every_summary_is_scored_and_the_unsupported_sentences_are_listed(tmp_path, docs):
    judge = FunctionJudge(checker)
    task = summarization(data=str(docs), judge=judge)  # type: ignore[arg-type]
    replies = {  # the summary the model writes for each document
        list(summarization(data=str(docs)).dataset)[0].input_text():
            "The council approved a new park. It will open in June.",
        list(summarization(data=str(docs)).dataset)[1].input_text():
            "Heavy rain flooded the town centre.",
    }
    result, records = run(task, tmp_path, "mock/scripted", replies=replies)
    m = result.metrics
    assert m["faithfulness"].n == 2 and m["faithfulness"].estimate == pytest.approx(0.75)
    free = m["hallucination_free"]  # d1's "June" is not in the article
    assert free.estimate == 0.5 and free.ci_high < 1 and free.ci_low < 0.5
    d1 = records["d1"].scores
    assert d1["faithfulness"]["metadata"]["unsupported_statements"] == ["It will open in June."]
    # coverage: d1's reference sentences judged against the summary; d2's key points
    assert d1["coverage"]["metadata"]["statements"] == 2
    assert records["d2"].scores["coverage"]["value"] == 1.0
    assert d1["summary_length"]["value"] == 11.0
    assert 0 < d1["readability"]["value"] <= 121


def test_the_builtin_data_is_xsumfaith_with_gold_references():
    if not os.environ.get("EVALSTACK_DATA_DIR"):
        pytest.skip("needs the data mirror")
    task = summarization()
    samples = list(task.dataset)
    assert len(samples) == 485  # the unique articles of SummaC's XSumFaith
    with_reference = [s for s in samples if s.targets]
    assert len(with_reference) == 485
    first = samples[0]
    assert first.metadata["document"] in first.input_text()
    assert first.input_text().startswith("Summarize the article below in one sentence.")
    assert [s.spec.name for s in task.scorers] == [
        "faithfulness", "hallucination_free", "coverage", "summary_length", "readability"]


def test_bad_documents_name_the_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "document": "ok"}) + "\n"
                   + json.dumps({"id": "y", "doc": "typo"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: unknown field\(s\) doc"):
        summarization(data=str(bad))
    bad.write_text(json.dumps({"id": "x", "document": "ok", "key_points": "one"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'key_points' must be a list"):
        summarization(data=str(bad))


@pytest.mark.slow
@pytest.mark.llama
def test_the_embedded_model_summarizes_and_judges(tmp_path, docs):
    pytest.importorskip("llama_cpp")
    result, records = run(summarization(data=str(docs), max_tokens=40), tmp_path,
                          "local/smollm2")
    assert result.errors == 0
    for name in ("faithfulness", "hallucination_free", "coverage", "readability"):
        assert result.metrics[name].n == 2
    meta = records["d1"].scores["faithfulness"]["metadata"]
    assert meta["judge"]["model"] == "local/smollm2" and meta["statements"] >= 1
    assert meta["supported"] + meta["unsupported"] + meta["undecided"] == meta["statements"]
