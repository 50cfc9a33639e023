"""Token F1, exactly as the official SQuAD v1.1 evaluation script computes it.

Reference: Rajpurkar, P., Zhang, J., Lopyrev, K. and Liang, P. (2016). SQuAD: 100,000+
Questions for Machine Comprehension of Text. EMNLP. The functions below reproduce
``normalize_answer`` and ``f1_score`` of its ``evaluate-v1.1.py`` (MIT licence), including
its quirks: an empty prediction or an empty reference scores 0, even when both are empty.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable

from evalstack.core.component import component
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1's ``normalize_answer``: lowercase, drop ASCII punctuation, drop the
    articles a/an/the, and collapse whitespace.

    Examples:
        >>> squad_normalize("The  Eiffel Tower!")
        'eiffel tower'
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, ground_truth: str) -> float:
    """SQuAD v1.1's ``f1_score``: the harmonic mean of token precision and recall.

    Tokens are the whitespace-separated words of the normalised texts; repeated tokens
    count as often as they occur in both (a multiset intersection).

    Examples:
        >>> token_f1("the cat sat", "a cat sat down")
        0.8
    """
    prediction_tokens = squad_normalize(prediction).split()
    ground_truth_tokens = squad_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


@component("scorer")
def f1() -> Callable[[Sample, TaskState], Score]:
    """Token F1 between the output and the best-matching target (SQuAD v1.1).

    Returns:
        A scorer of kind ``continuous`` whose value is the maximum of ``token_f1`` over the
        targets and whose ``Score.answer`` is the normalised output.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "Where?", ("Denver Broncos", "the Broncos"))
        >>> f1()(sample, TaskState(sample, output=ModelOutput("The Denver Broncos."))).value
        1.0
    """

    def score(sample: Sample, state: TaskState) -> Score:
        prediction = state.completion
        best = max((token_f1(prediction, t) for t in sample.targets), default=0.0)
        return Score(float(best), kind="continuous", answer=squad_normalize(prediction))

    return score
