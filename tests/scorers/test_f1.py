"""Token F1 against the official SQuAD v1.1 evaluation script."""

from __future__ import annotations

import json
import os
import re
import string
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalstack.core import registry
from evalstack.core.component import ComponentSpec
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.scorers.f1 import f1, squad_normalize, token_f1

# --- verbatim from SQuAD v1.1 evaluate-v1.1.py (Rajpurkar et al. 2016, MIT licence) ---


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


# --- end of the official script --------------------------------------------------------

TRICKY = [
    ("The Denver Broncos", "Denver Broncos"),
    ("the the the cat", "cat"),
    ("a an the", "the"),
    ("An apple a day", "apple day"),
    ("theatre", "atre"),
    ("Theatre district", "the theatre district"),
    ("Hello, world!", "hello world"),
    ("U.S.A.", "USA"),
    ("don't stop", "dont stop"),
    ("state-of-the-art", "state of the art"),
    ("1,000 people", "1000 people"),
    ("“Smart quotes” — and dashes", "smart quotes and dashes"),
    ("Café Zürich", "café zürich"),
    ("Ἀθῆναι", "ἀθῆναι"),
    ("İstanbul", "istanbul"),
    ("ＡＢＣ full width", "abc full width"),
    ("北京 大学", "北京大学"),
    ("naïve résumé", "naive resume"),
    ("", "Denver"),
    ("Denver", ""),
    ("", ""),
    ("   ", "the"),
    ("the", "the"),
    ("cat cat cat", "cat"),
    ("cat", "cat cat cat"),
    ("cat cat dog", "cat dog dog"),
    ("new york new york", "new york"),
    ("tab\tand\nnewline", "tab and newline"),
    ("A", "a"),
    ("THE END", "end"),
    ("50%", "50"),
    ("$5", "5 dollars"),
]


@pytest.mark.parametrize(("prediction", "truth"), TRICKY)
def test_token_f1_equals_the_official_script(prediction: str, truth: str) -> None:
    assert squad_normalize(prediction) == normalize_answer(prediction)
    assert token_f1(prediction, truth) == f1_score(prediction, truth)


@given(st.text(max_size=40), st.text(max_size=40))
def test_token_f1_equals_the_official_script_on_any_text(prediction: str, truth: str) -> None:
    assert squad_normalize(prediction) == normalize_answer(prediction)
    assert token_f1(prediction, truth) == f1_score(prediction, truth)


def test_known_values() -> None:
    assert token_f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    assert token_f1("cat cat dog", "cat dog dog") == pytest.approx(2 / 3)
    assert token_f1("", "") == 0.0  # v1.1 scores two empty answers 0, unlike v2.0


def _squad_questions() -> list[dict]:
    root = Path(
        os.environ.get(
            "EVALSTACK_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "datasets"
        )
    )
    path = root / "squad_expmrc" / "expmrc-squad-dev.json"
    if not path.is_file():
        pytest.skip(f"SQuAD data mirror not found at {path}")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [qa for article in data for p in article["paragraphs"] for qa in p["qas"]]


def test_f1_scorer_equals_the_official_script_on_squad_answers() -> None:
    # Predict each question's first answer with the sentence around it, and with the
    # second answer, then score against all answers as the official script does.
    questions = _squad_questions()
    scorer = f1()
    checked = 0
    for qa in questions[:200]:
        truths = [a["text"] for a in qa["answers"]]
        for prediction in {truths[-1], f"It was {truths[0]}, apparently.", qa["question"]}:
            sample = Sample(qa["id"], qa["question"], tuple(truths))
            got = scorer(sample, TaskState(sample, output=ModelOutput(prediction)))
            assert got.value == metric_max_over_ground_truths(f1_score, prediction, truths)
            assert got.kind == "continuous"
            assert got.answer == normalize_answer(prediction)
            checked += 1
    assert checked >= 400


def test_f1_scorer_takes_the_best_target_and_spec() -> None:
    sample = Sample("1", "Who?", ("Denver Broncos", "the Broncos of Denver"))
    state = TaskState(sample, output=ModelOutput("Broncos"))
    # 2/3 against "Denver Broncos", 1/2 against "broncos of denver": the best is kept.
    assert f1()(sample, state).value == pytest.approx(2 / 3)
    state = TaskState(sample, output=ModelOutput("the Denver Broncos!"))
    assert f1()(sample, state).value == 1.0
    assert f1().spec == ComponentSpec("scorer", "f1", {})
    assert registry.lookup("scorer", "f1") is f1
