"""ARC: AI2's and the hub's row formats, numeric labels, acc and acc_norm, strict extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalstack.benchmarks.arc import arc_challenge, arc_easy
from evalstack.core import registry
from evalstack.core.errors import DataError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput
from evalstack.datasets.sources import file_sha256
from tests.benchmarks.helpers import run

# AI2's JSONL format (ARC-V1-Feb2018), including an item labelled 1-4.
AI2_ROWS = [
    {"id": "Mercury_7175875", "question": {
        "stem": "An astronomer observes that a planet rotates faster after a meteorite impact. "
                "Which is the most likely effect of this increase in rotation?",
        "choices": [{"text": "Planetary density will decrease.", "label": "A"},
                    {"text": "Planetary years will become longer.", "label": "B"},
                    {"text": "Planetary days will become shorter.", "label": "C"},
                    {"text": "Planetary gravity will become stronger.", "label": "D"}]},
     "answerKey": "C"},
    {"id": "NYSEDREGENTS_2015_4_8", "question": {
        "stem": "Which form of energy is produced when a rubber band vibrates?",
        "choices": [{"text": "chemical", "label": "1"}, {"text": "light", "label": "2"},
                    {"text": "electrical", "label": "3"}, {"text": "sound", "label": "4"}]},
     "answerKey": "4"},
    {"id": "Mercury_SC_401", "question": {
        "stem": "Which tool measures mass?",
        "choices": [{"text": "a balance", "label": "A"}, {"text": "a ruler", "label": "B"},
                    {"text": "a thermometer", "label": "C"}]},
     "answerKey": "A"},
]
# The Hugging Face hub's format (allenai/ai2_arc).
HUB_ROWS = [
    {"id": "Mercury_SC_415702", "question": "George wants to warm his hands quickly by rubbing "
     "them. Which skin surface will produce the most heat?",
     "choices": {"text": ["dry palms", "wet palms", "palms covered with oil",
                          "palms covered with lotion"], "label": ["A", "B", "C", "D"]},
     "answerKey": "A"},
    {"id": "MCAS_2000_4_6", "question": "Which of the following is an example of a liquid?",
     "choices": {"text": ["ice", "steam", "water", "wood", "sand"],
                 "label": ["A", "B", "C", "D", "E"]}, "answerKey": "C"},
]
FIRST_PROMPT = (
    "Question: An astronomer observes that a planet rotates faster after a meteorite impact. "
    "Which is the most likely effect of this increase in rotation?\nAnswer:"
)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "mirror"
    write_jsonl(root / "arc" / "ARC-Easy-Test.jsonl", AI2_ROWS)
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(root))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    return root


def test_registered():
    assert registry.lookup("task", "arc_easy") is arc_easy
    assert registry.lookup("task", "arc_challenge") is arc_challenge


def test_exact_prompt_and_continuations(mirror):
    task = arc_easy()
    first = next(iter(task.dataset))
    assert (first.id, first.target) == ("Mercury_7175875", "C")
    assert task.solver.prompt(first, "loglikelihood") == FIRST_PROMPT
    assert task.solver.continuations(first) == (
        " Planetary density will decrease.", " Planetary years will become longer.",
        " Planetary days will become shorter.", " Planetary gravity will become stronger.")
    assert task.solver.prompt(first, "generate") == (
        "Question: An astronomer observes that a planet rotates faster after a meteorite "
        "impact. Which is the most likely effect of this increase in rotation?\n"
        "A. Planetary density will decrease.\nB. Planetary years will become longer.\n"
        "C. Planetary days will become shorter.\nD. Planetary gravity will become stronger.\n"
        "Answer:\n\nAnswer with the letter of the correct option (A, B, C, D) only."
    )


def test_ai2_format_with_numeric_labels_and_three_options(mirror):
    task = arc_easy()
    samples = list(task.dataset)
    assert [s.target for s in samples] == ["C", "D", "A"]
    assert samples[1].metadata["labels"] == ["1", "2", "3", "4"]
    assert samples[2].choices == ("a balance", "a ruler", "a thermometer")
    assert task.dataset.fingerprint() == file_sha256(mirror / "arc" / "ARC-Easy-Test.jsonl")
    assert all(s.category is None for s in samples)  # ARC has no categories


def test_hub_format_from_the_download_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    write_jsonl(tmp_path / "cache" / "data" / "arc" / "hub-ARC-Challenge-test.jsonl", HUB_ROWS)
    task = arc_challenge()
    samples = list(task.dataset)
    assert [(s.id, s.target, len(s.choices)) for s in samples] == [
        ("Mercury_SC_415702", "A", 4), ("MCAS_2000_4_6", "C", 5)]
    assert task.solver.prompt(samples[1], "loglikelihood") == (
        "Question: Which of the following is an example of a liquid?\nAnswer:")
    assert task.name == "arc_challenge"


def test_bad_answer_key_names_the_row(tmp_path, monkeypatch):
    rows = [dict(AI2_ROWS[0]), dict(AI2_ROWS[1], answerKey="E")]
    write_jsonl(tmp_path / "arc" / "ARC-Easy-Test.jsonl", rows)
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"ARC-Easy-Test.jsonl: row 2: answerKey 'E'"):
        arc_easy()


def test_missing_data_says_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError) as info:
        arc_challenge()
    message = str(info.value)
    assert "allenai/ai2_arc (config ARC-Challenge), split test" in message
    assert str(tmp_path / "mirror" / "arc" / "ARC-Challenge-Test.jsonl") in message


def test_loglikelihood_run_reports_acc_and_acc_norm(mirror, tmp_path):
    t, records = run(arc_easy(), tmp_path, "mock/echo", loglikelihood=True)
    assert set(t.metrics) == {"acc", "acc_norm"} and t.metrics["acc_norm"].n == 3
    for r in records.values():
        lps, chars = r.metadata["choice_logprobs"], r.metadata["continuation_chars"]
        assert chars == [len(c) for c in r.choices]  # without the leading space, as lm-eval
        best = max(range(len(lps)), key=lps.__getitem__)
        best_norm = max(range(len(lps)), key=lambda i: lps[i] / chars[i])
        assert r.scores["acc"]["answer"] == "ABCDE"[best]
        assert r.scores["acc_norm"]["answer"] == "ABCDE"[best_norm]
        correct = "ABCDE".index(r.target)
        assert r.scores["acc_norm"]["value"] == (1.0 if best_norm == correct else 0.0)


def test_acc_norm_prefers_per_character_likelihood(mirror):
    task = arc_easy()
    sample = list(task.dataset)[2]  # "a balance" (correct), "a ruler", "a thermometer"
    acc, acc_norm, _ = task.scorers
    state = TaskState(sample, choice_logprobs=(-9.0, -8.0, -13.0), choice=1,
                      metadata={"continuation_chars": [9, 7, 12]})
    assert acc(sample, state).value == 0.0  # -8.0 is the largest
    assert acc_norm(sample, state).value == 1.0  # -1.0 per char beats -1.14


def test_generate_run_reports_flexible_and_strict(mirror, tmp_path):
    # Answers are C, D, A; the second reply is right in prose, the third names the text.
    t, records = run(arc_easy(method="generate"), tmp_path, "mock/scripted",
                     outputs=["C", "I am fairly sure it is D, sound.", "a balance"])
    assert set(t.metrics) == {"acc", "acc_strict"}
    assert t.metrics["acc"].estimate == 1.0
    assert t.metrics["acc_strict"].estimate == pytest.approx(1 / 3)
    assert records["NYSEDREGENTS_2015_4_8"].scores["acc_strict"]["value"] == 0.0
    assert records["Mercury_SC_401"].scores["acc_norm"]["value"] is None


@pytest.mark.parametrize(
    ("reply", "flexible", "strict"),
    [("B) Planetary years will become longer.", "B", None),
     ("The answer is (C).", "C", "C"),
     ("**A**", "A", None),
     ("(D)", "D", "D")],
)
def test_answer_extraction(mirror, reply, flexible, strict):
    task = arc_easy(method="generate")
    sample = next(iter(task.dataset))
    state = TaskState(sample, output=ModelOutput(reply))
    acc, _, acc_strict = task.scorers
    assert acc(sample, state).answer == flexible
    assert acc_strict(sample, state).answer == strict
    assert acc(sample, state).value == (1.0 if flexible == "C" else 0.0)
