"""Retrieval scorers: the documents a pipeline returned against the sample's gold relevance.

The retrieved ids come from what the target returned besides its answer
(``ModelOutput.pipeline.contexts``: ``-M contexts=...`` for ``http/...``, a ``contexts`` key
for ``python/...``). The gold relevance is the sample's ``relevant`` field (``field=`` to
change it): a list of relevant ids (binary), or an object of id to grade (graded; a grade of 0
or less, or an id not listed, is not relevant). Each sample's value is the query's metric from
``evalstack.stats.retrieval`` (trec_eval's definitions), so the run's mean comes with its
interval and n like any score, and two retriever settings compare with ``evalstack compare``.

    evalstack run rag.jsonl -m http/http://127.0.0.1:8000/ask -M contexts=sources \\
        -s exact_match -s 'recall_at_k:k=5' -s mrr -s 'ndcg_at_k:k=5'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample
from evalstack.stats import retrieval as metrics

ScoreFn = Callable[[Sample, TaskState], Score]
DEFAULT_FIELD = "relevant"


def gold_relevance(sample: Sample, field: str = DEFAULT_FIELD) -> dict[str, float]:
    """The sample's gold relevance as id -> grade.

    Raises:
        ScorerError: the field is missing or is neither a list of ids nor an object of grades.

    Examples:
        >>> gold_relevance(Sample("q", "?", metadata={"relevant": ["d1", 7]}))
        {'d1': 1.0, '7': 1.0}
    """
    value = sample.metadata.get(field)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return {str(v): 1.0 for v in value}
    if isinstance(value, Mapping):
        grades: dict[str, float] = {}
        for key, grade in value.items():
            if isinstance(grade, bool) or not isinstance(grade, int | float):
                raise ScorerError(f"sample {sample.id!r}: field {field!r} grade of {key!r} must "
                                  f"be a number; received {grade!r}.")
            grades[str(key)] = float(grade)
        return grades
    shown = "missing" if value is None else f"{type(value).__name__} {value!r}"[:120]
    raise ScorerError(f"sample {sample.id!r}: expected field {field!r} to hold the relevant "
                      f'document ids (["d1", "d2"]) or their grades ({{"d1": 2}}); it is {shown}.')


def retrieved_ids(state: TaskState) -> list[str]:
    """The ids the target returned, in rank order.

    Raises:
        ScorerError: the target returned no documents at all (a model, or a pipeline whose
            reply is not read for them).
    """
    output = state.output
    pipeline = output.pipeline if output is not None else None
    if pipeline is None or pipeline.contexts is None:
        raise ScorerError("the target returned no retrieved documents to score: give an "
                          "http/ target -M contexts=PATH (and context_id=FIELD), or return "
                          "'contexts' from a python/ pipeline.")
    return pipeline.context_ids


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"Expected k to be a whole number of at least 1; received {k!r}.")
    return k


def _scorer(metric: Callable[[list[str], dict[str, float]], float], field: str,
            binary: bool) -> ScoreFn:
    def score(sample: Sample, state: TaskState) -> Score:
        ids = retrieved_ids(state)
        value = metric(ids, gold_relevance(sample, field))
        return Score(value, "binary" if binary else "continuous", answer=", ".join(ids[:20]))

    return score


@component("scorer")
def recall_at_k(k: int = 10, field: str = DEFAULT_FIELD) -> ScoreFn:
    """The share of the relevant documents found in the top ``k`` (trec_eval ``recall_k``)."""
    cut = _check_k(k)
    return _scorer(lambda ids, rel: metrics.recall_at_k(ids, rel, cut), field, False)


@component("scorer")
def precision_at_k(k: int = 10, field: str = DEFAULT_FIELD) -> ScoreFn:
    """The share of the top ``k`` ranks that hold a relevant document (trec_eval ``P_k``)."""
    cut = _check_k(k)
    return _scorer(lambda ids, rel: metrics.precision_at_k(ids, rel, cut), field, False)


@component("scorer")
def hit_rate_at_k(k: int = 10, field: str = DEFAULT_FIELD) -> ScoreFn:
    """1 when a relevant document is in the top ``k`` (a binary score: Wilson interval)."""
    cut = _check_k(k)
    return _scorer(lambda ids, rel: metrics.hit_rate_at_k(ids, rel, cut), field, True)


@component("scorer")
def ndcg_at_k(k: int = 10, field: str = DEFAULT_FIELD, exponential: bool = False) -> ScoreFn:
    """nDCG at ``k``, linear gains as trec_eval's ``ndcg_cut`` (``exponential`` for 2^g - 1)."""
    cut = _check_k(k)
    gains: Literal["linear", "exponential"] = "exponential" if exponential else "linear"
    return _scorer(lambda ids, rel: metrics.ndcg_at_k(ids, rel, cut, gains=gains), field, False)


@component("scorer")
def mrr(field: str = DEFAULT_FIELD) -> ScoreFn:
    """The reciprocal rank of the first relevant document (0 when none is retrieved)."""
    return _scorer(metrics.mrr, field, False)


@component("scorer")
def average_precision(field: str = DEFAULT_FIELD) -> ScoreFn:
    """Average precision over the whole ranking; the run's mean is MAP."""
    return _scorer(metrics.average_precision, field, False)
