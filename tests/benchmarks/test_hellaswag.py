"""HellaSwag: the text-form mirror, the hub rows, lm-eval's preprocessing, both methods."""

from __future__ import annotations

import json

import pytest

from evalstack.benchmarks.hellaswag import VALIDATION, hellaswag, preprocess, query_from_text
from evalstack.core import registry
from evalstack.core.errors import DataError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput
from evalstack.datasets.sources import file_sha256, locate
from tests.benchmarks.helpers import run

MIRROR_FILE = "hellaswag/hellaswag_val_full.txt.bz2"
ENDINGS = (" is using wrap to wrap a pair of skis.", " is ripping level tiles off.",
           " is holding a rubik's cube.", " starts pulling up roofing on a roof.")
# Rowan/hellaswag rows (validation), as the hub download exports them.
HUB_ROWS = [
    {"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.",
     "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "split": "val",
     "split_type": "indomain", "source_id": "activitynet~v_-JhWjGDPHMY",
     "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                 "is holding a rubik's cube.", "starts pulling up roofing on a roof."],
     "label": "3"},
    {"ind": 92, "activity_label": "Home and Garden",
     "ctx_a": "[header] How to grow tomatoes [title] Pick a sunny spot. [step] Tomatoes need "
              "light.", "ctx_b": "", "split": "val", "split_type": "zeroshot",
     "source_id": "wikihow~1", "ctx": "",
     "endings": ["[substeps] Water them  daily.", "Paint them [blue].", "Sing to them.",
                 "Eat the  seeds."], "label": "0"},
]


@pytest.fixture(scope="module")
def task():
    return hellaswag()


def test_registered():
    assert registry.lookup("task", "hellaswag") is hellaswag


def test_exact_prompt_of_the_first_real_item(task):
    first = next(iter(task.dataset))
    assert (first.id, first.target, first.category) == (
        "hellaswag-00000", "D", "Roof shingle removal")
    # lm-eval: "{activity_label}: {ctx_a} {ctx_b.capitalize()}" ("he" -> "He")
    assert task.solver.prompt(first, "loglikelihood") == (
        "Roof shingle removal: A man is sitting on a roof. He")
    assert task.solver.continuations(first) == ENDINGS
    assert task.solver.prompt(first, "generate") == (
        "Which ending is the most plausible continuation of the text?\n\n"
        "Roof shingle removal: A man is sitting on a roof. He ...\n"
        "A. is using wrap to wrap a pair of skis.\nB. is ripping level tiles off.\n"
        "C. is holding a rubik's cube.\nD. starts pulling up roofing on a roof.\nAnswer:\n\n"
        "Answer with the letter of the correct option (A, B, C, D) only."
    )


def test_loads_the_text_form_mirror_offline(task):
    samples = list(task.dataset)
    assert len(samples) == 10_042
    counts = {"A": 0, "B": 0, "C": 0, "D": 0}
    for s in samples:
        counts[s.target] += 1
    assert counts == {"A": 2515, "B": 2485, "C": 2584, "D": 2458}  # SOURCE.md's distribution
    categories = {s.category for s in samples}
    assert len(categories) == 192 and "Personal Care and Style" in categories
    assert all(len(s.choices) == 4 for s in samples)
    assert not any("[www" in s.input for s in samples)  # lm-eval removes bracketed text
    assert task.dataset.fingerprint() == file_sha256(locate(VALIDATION))


def test_text_form_capitalises_a_lowercase_last_fragment_only():
    assert query_from_text("Clean and jerk: A lady walks. She bends down. the lady") == (
        "Clean and jerk: A lady walks. She bends down. The lady")
    assert query_from_text("Family Life: How to play. Ask the toddler.") == (
        "Family Life: How to play. Ask the toddler.")
    assert query_from_text("Sports: The man runs. He Jumps") == "Sports: The man runs. He Jumps"
    assert preprocess("Visit a site like [www.kiddio.org] to find games.") == (
        "Visit a site like to find games.")


def test_hub_rows_give_lm_eval_preprocessing_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "data" / "hellaswag" / "hub-default-validation.jsonl"
    cached.parent.mkdir(parents=True)
    cached.write_text("".join(json.dumps(r) + "\n" for r in HUB_ROWS), encoding="utf-8")
    t = hellaswag()
    first, second = list(t.dataset)
    assert t.solver.prompt(first, "loglikelihood") == (
        "Roof shingle removal: A man is sitting on a roof. He")
    assert (first.target, first.category) == ("D", "Roof shingle removal")
    assert t.solver.prompt(second, "loglikelihood") == (
        "Home and Garden: How to grow tomatoes. Pick a sunny spot. Tomatoes need light.")
    # lm-eval strips before removing markers, so a leading "[substeps]" leaves a space.
    assert second.choices == (" Water them daily.", "Paint them .", "Sing to them.",
                              "Eat the seeds.")
    assert t.dataset.fingerprint() == file_sha256(cached)


def test_missing_data_says_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError) as info:
        hellaswag()
    message = str(info.value)
    assert "the Hugging Face dataset Rowan/hellaswag, split validation" in message
    assert str(tmp_path / "mirror" / MIRROR_FILE) in message


def test_loglikelihood_run_reports_acc_and_acc_norm(task, tmp_path):
    t, records = run(task, tmp_path, "mock/echo", limit=8, loglikelihood=True)
    assert set(t.metrics) == {"acc", "acc_norm"} and t.metrics["acc"].n == 8
    assert "Roof shingle removal" in t.categories
    r = records["hellaswag-00000"]
    assert r.input == "Roof shingle removal: A man is sitting on a roof. He"
    assert r.metadata["continuation_chars"] == [len(e) - 1 for e in ENDINGS]


def test_generate_run_reports_flexible_and_strict(task, tmp_path):
    # The first two items' answers are D and D.
    t, records = run(task, tmp_path, "mock/scripted", limit=2,
                     outputs=["D.", "The best ending is D) starts pulling..., wait, no: **D**"])
    assert set(t.metrics) == {"acc", "acc_strict"}
    assert t.metrics["acc"].estimate == 1.0 and t.metrics["acc_strict"].estimate == 0.5
    assert records["hellaswag-00001"].scores["acc_strict"]["value"] == 0.0


@pytest.mark.parametrize(
    ("reply", "flexible", "strict"),
    [("B) is ripping level tiles off.", "B", None),
     ("The answer is (C).", "C", "C"),
     ("**A**", "A", None),
     ("starts pulling up roofing on a roof.", "D", None)],
)
def test_answer_extraction(task, reply, flexible, strict):
    sample = next(iter(task.dataset))
    state = TaskState(sample, output=ModelOutput(reply))
    acc, acc_norm, acc_strict = task.scorers
    assert acc(sample, state).answer == flexible
    assert acc_strict(sample, state).answer == strict
    assert acc_norm(sample, state).explanation.startswith("Not applicable")
