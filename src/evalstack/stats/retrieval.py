"""Ranked-retrieval metrics for one query, defined as trec_eval defines them.

Each function takes ``ranked``, the document ids a retriever returned (best first), and
``relevance``, the judgments for the query: a mapping from document id to a relevance grade,
binary (0/1) or graded (0, 1, 2, ...). A document is relevant when its grade is above 0;
a document that ``relevance`` does not mention is not relevant. For integer grades this is
trec_eval's default (``relevance_level`` 1).

Edge cases follow trec_eval (Buckley, ``trec_eval`` 9.0, measures ``recall_k``, ``P_k``,
``success_k``, ``recip_rank``, ``ndcg_cut_k`` and ``map``):

* A query with no relevant document scores 0.0 on every metric.
* Precision@k divides by ``k`` even when fewer than ``k`` ids were returned.
* A ``k`` larger than the ranking is allowed; the missing ranks count as not relevant.
* A document id repeated in ``ranked`` counts once, at its first (best) rank; later copies
  are dropped before anything is computed. (trec_eval itself refuses a run with duplicate
  documents; dropping the copies is the reading that never credits a retriever twice for
  one document.)

``retrieval_summary`` averages the per-query values over a set of queries and gives each
mean a confidence interval (``mean_ci``).

References:
    Buckley, C. et al. trec_eval, the TREC evaluation program (usnistgov/trec_eval).

    Jarvelin, K. and Kekalainen, J. (2002). Cumulated gain-based evaluation of IR
    techniques. ACM Transactions on Information Systems 20(4), 422-446.

    Burges, C. et al. (2005). Learning to rank using gradient descent. ICML (the
    exponential gain ``2**grade - 1``).

Pure functions on numbers: this module imports nothing from evalstack outside ``stats``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from evalstack.stats.intervals import mean_ci
from evalstack.stats.result import StatResult

Gains = Literal["linear", "exponential"]


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """The share of the query's relevant documents found in the top ``k`` (trec_eval ``recall_k``).

    Args:
        ranked: the returned document ids, best first. A repeated id counts once, at its
            first rank.
        relevance: document id to relevance grade; grades above 0 are relevant.
        k: the cutoff, a whole number of at least 1 (it may exceed ``len(ranked)``).

    Returns:
        ``relevant ids in the top k / relevant ids in relevance``; 0.0 when the query has
        no relevant document.

    Raises:
        ValueError: ``k`` is not a whole number of at least 1, ``ranked`` is a string, or a
            grade is not a finite number.

    Examples:
        >>> recall_at_k(["d1", "d2", "d3"], {"d1": 1, "d3": 1, "d9": 1}, k=2)
        0.3333333333333333
        >>> recall_at_k(["d1"], {"d1": 0}, k=5)
        0.0
    """
    cut = _check_k(k)
    grades = _grades(relevance)
    n_relevant = _count_relevant(grades)
    if n_relevant == 0:
        return 0.0
    top = _dedup(ranked, cut)
    return sum(1 for doc in top if grades.get(doc, 0.0) > 0) / n_relevant


def precision_at_k(ranked: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """The share of the top ``k`` ranks that hold a relevant document (trec_eval ``P_k``).

    The denominator is always ``k``: a retriever that returns fewer than ``k`` ids is
    charged for the empty ranks, as trec_eval does.

    Args:
        ranked: the returned document ids, best first. A repeated id counts once, at its
            first rank.
        relevance: document id to relevance grade; grades above 0 are relevant.
        k: the cutoff, a whole number of at least 1 (it may exceed ``len(ranked)``).

    Returns:
        ``relevant ids in the top k / k``; 0.0 when the query has no relevant document.

    Raises:
        ValueError: ``k`` is not a whole number of at least 1, ``ranked`` is a string, or a
            grade is not a finite number.

    Examples:
        >>> precision_at_k(["d1", "d2", "d3"], {"d1": 1, "d3": 2}, k=3)
        0.6666666666666666
        >>> precision_at_k(["d1"], {"d1": 1}, k=4)
        0.25
    """
    cut = _check_k(k)
    grades = _grades(relevance)
    top = _dedup(ranked, cut)
    return sum(1 for doc in top if grades.get(doc, 0.0) > 0) / cut


def hit_rate_at_k(ranked: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """1.0 if a relevant document is in the top ``k``, else 0.0 (trec_eval ``success_k``).

    Averaged over queries this is the hit rate (success@k).

    Args:
        ranked: the returned document ids, best first.
        relevance: document id to relevance grade; grades above 0 are relevant.
        k: the cutoff, a whole number of at least 1 (it may exceed ``len(ranked)``).

    Returns:
        1.0 or 0.0; 0.0 when the query has no relevant document.

    Raises:
        ValueError: ``k`` is not a whole number of at least 1, ``ranked`` is a string, or a
            grade is not a finite number.

    Examples:
        >>> hit_rate_at_k(["d1", "d2", "d3"], {"d3": 1}, k=2)
        0.0
        >>> hit_rate_at_k(["d1", "d2", "d3"], {"d3": 1}, k=3)
        1.0
    """
    cut = _check_k(k)
    grades = _grades(relevance)
    top = _dedup(ranked, cut)
    return 1.0 if any(grades.get(doc, 0.0) > 0 for doc in top) else 0.0


def mrr(ranked: Sequence[str], relevance: Mapping[str, float]) -> float:
    """The reciprocal rank of the first relevant document (trec_eval ``recip_rank``).

    This is one query's reciprocal rank; its mean over queries is the mean reciprocal rank.
    The whole ranking is searched (there is no cutoff).

    Args:
        ranked: the returned document ids, best first. A repeated id counts once, at its
            first rank, so later ranks are not shifted by the copies.
        relevance: document id to relevance grade; grades above 0 are relevant.

    Returns:
        ``1 / rank`` of the first relevant id (ranks start at 1); 0.0 when no relevant id
        was returned, including when the query has no relevant document.

    Raises:
        ValueError: ``ranked`` is a string, or a grade is not a finite number.

    Examples:
        >>> mrr(["d1", "d2", "d3"], {"d2": 1, "d3": 1})
        0.5
        >>> mrr(["d1", "d1", "d2"], {"d2": 1})
        0.5
        >>> mrr(["d1"], {"d2": 1})
        0.0
    """
    grades = _grades(relevance)
    for rank, doc in enumerate(_dedup(ranked), start=1):
        if grades.get(doc, 0.0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(
    ranked: Sequence[str],
    relevance: Mapping[str, float],
    k: int,
    *,
    gains: Gains = "linear",
) -> float:
    """Normalised discounted cumulative gain at ``k`` (trec_eval ``ndcg_cut_k``).

    ``DCG@k = sum(gain(grade at rank r) / log2(r + 1) for r = 1 .. k)``, and nDCG@k is
    ``DCG@k / IDCG@k``, where the ideal DCG ranks the query's positive grades (all of them
    in ``relevance``, returned or not) from highest to lowest and cuts at ``k``
    (Jarvelin & Kekalainen 2002). Grades of 0 or below, and ids not in ``relevance``,
    gain nothing.

    Args:
        ranked: the returned document ids, best first. A repeated id counts once, at its
            first rank.
        relevance: document id to relevance grade; grades above 0 are relevant.
        k: the cutoff, a whole number of at least 1 (it may exceed ``len(ranked)``).
        gains: ``"linear"`` (gain = grade, trec_eval's choice) or ``"exponential"``
            (gain = ``2**grade - 1``, which stresses highly relevant documents). The two
            agree on binary judgments.

    Returns:
        nDCG@k in [0, 1]; 0.0 when the query has no relevant document.

    Raises:
        ValueError: ``k`` is not a whole number of at least 1, ``gains`` is unknown,
            ``ranked`` is a string, or a grade is not a finite number.

    Examples:
        >>> round(ndcg_at_k(["d1", "d2"], {"d1": 1, "d2": 2}, k=2), 4)
        0.8597
        >>> round(ndcg_at_k(["d1", "d2"], {"d1": 1, "d2": 2}, k=2, gains="exponential"), 4)
        0.7967
        >>> ndcg_at_k(["d2", "d1"], {"d1": 1, "d2": 2}, k=2)
        1.0
    """
    cut = _check_k(k)
    if gains not in ("linear", "exponential"):
        raise ValueError(f"gains must be 'linear' or 'exponential'; got {gains!r}.")
    grades = _grades(relevance)

    def gain(grade: float) -> float:
        return grade if gains == "linear" else 2.0**grade - 1.0

    ideal_grades = sorted((g for g in grades.values() if g > 0), reverse=True)[:cut]
    if not ideal_grades:
        return 0.0
    ideal = sum(gain(g) / math.log2(r + 1) for r, g in enumerate(ideal_grades, start=1))
    dcg = 0.0
    for r, doc in enumerate(_dedup(ranked, cut), start=1):
        grade = grades.get(doc, 0.0)
        if grade > 0:
            dcg += gain(grade) / math.log2(r + 1)
    return dcg / ideal


def average_precision(ranked: Sequence[str], relevance: Mapping[str, float]) -> float:
    """Average precision over the whole ranking (trec_eval ``map`` for one query).

    The precision at the rank of each relevant document returned, summed and divided by
    the number of relevant documents in ``relevance``, so relevant documents that were
    never returned count as precision 0.

    Args:
        ranked: the returned document ids, best first. A repeated id counts once, at its
            first rank.
        relevance: document id to relevance grade; grades above 0 are relevant (a graded
            judgment counts as simply relevant here).

    Returns:
        AP in [0, 1]; 0.0 when the query has no relevant document.

    Raises:
        ValueError: ``ranked`` is a string, or a grade is not a finite number.

    Examples:
        >>> average_precision(["d1", "d2", "d3"], {"d1": 1, "d3": 1})
        0.8333333333333333
        >>> average_precision(["d1"], {"d1": 1, "d2": 1})
        0.5
    """
    grades = _grades(relevance)
    n_relevant = _count_relevant(grades)
    if n_relevant == 0:
        return 0.0
    found = 0
    total = 0.0
    for rank, doc in enumerate(_dedup(ranked), start=1):
        if grades.get(doc, 0.0) > 0:
            found += 1
            total += found / rank
    return total / n_relevant


def retrieval_summary(
    runs: Sequence[tuple[Sequence[str], Mapping[str, float]]],
    k: int = 10,
    confidence: float = 0.95,
) -> dict[str, StatResult]:
    """Every metric of this module averaged over queries, each with a confidence interval.

    Each query's values come from the functions above (so their edge cases apply: a query
    with no relevant document scores 0.0 and still counts); the mean over queries gets its
    interval from ``mean_ci``. Hit rate is a 0/1 value per query and gets the Wilson
    interval; the other metrics get a percentile bootstrap interval of the mean (10,000
    resamples, ``numpy.random.default_rng(0)``, so repeated calls agree). ``n`` of each
    result is the number of queries.

    Args:
        runs: one ``(ranked, relevance)`` pair per query.
        k: the cutoff for recall, precision, hit rate and nDCG, a whole number >= 1.
        confidence: the two-sided confidence level, strictly between 0 and 1.

    Returns:
        A dict, in this order, with the keys ``f"recall@{k}"``, ``f"precision@{k}"``,
        ``f"hit_rate@{k}"``, ``"mrr"``, ``f"ndcg@{k}"`` (linear gains) and ``"map"``.
        With no queries, every estimate and bound is ``nan`` and ``n`` is 0.

    Raises:
        ValueError: ``k`` or ``confidence`` is out of range, a run is not a
            ``(ranked, relevance)`` pair, or a per-query function rejects its input.

    Examples:
        >>> runs = [(["d1", "d2"], {"d1": 1}), (["d3", "d4"], {"d4": 1}), (["d5"], {"d9": 1})]
        >>> summary = retrieval_summary(runs, k=2)
        >>> list(summary)
        ['recall@2', 'precision@2', 'hit_rate@2', 'mrr', 'ndcg@2', 'map']
        >>> summary["mrr"].estimate, summary["mrr"].n
        (0.5, 3)
        >>> summary["hit_rate@2"].method
        'wilson'
    """
    cut = _check_k(k)
    names = (f"recall@{cut}", f"precision@{cut}", f"hit_rate@{cut}", "mrr", f"ndcg@{cut}", "map")
    values: dict[str, list[float]] = {name: [] for name in names}
    for i, run in enumerate(runs):
        ranked, relevance = _unpack_run(run, i)
        per_query = (
            recall_at_k(ranked, relevance, cut),
            precision_at_k(ranked, relevance, cut),
            hit_rate_at_k(ranked, relevance, cut),
            mrr(ranked, relevance),
            ndcg_at_k(ranked, relevance, cut),
            average_precision(ranked, relevance),
        )
        for name, value in zip(names, per_query, strict=True):
            values[name].append(value)
    return {
        name: mean_ci(
            values[name],
            "binary" if name.startswith("hit_rate@") else "continuous",
            confidence=confidence,
        )
        for name in names
    }


# --- helpers ---------------------------------------------------------------------------


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"k must be a whole number of at least 1, such as 10; got {k!r}.")
    if k < 1:
        raise ValueError(f"k must be a whole number of at least 1, such as 10; got {k}.")
    return int(k)


def _dedup(ranked: Sequence[str], cut: int | None = None) -> list[str]:
    """The ids in rank order with repeats dropped (first occurrence kept), at most ``cut``."""
    if isinstance(ranked, str | bytes):
        raise ValueError(
            "ranked must be a sequence of document ids, best first, such as ['d3', 'd1']; "
            f"got the string {ranked!r:.60}."
        )
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranked:
        if cut is not None and len(out) >= cut:
            break
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def _grades(relevance: Mapping[str, float]) -> dict[str, float]:
    """The judgments as floats, after checking that every grade is a finite number."""
    if not isinstance(relevance, Mapping):
        raise ValueError(
            "relevance must be a mapping from document id to relevance grade, such as "
            f"{{'d1': 1, 'd7': 0}}; got {type(relevance).__name__}."
        )
    out: dict[str, float] = {}
    for doc, grade in relevance.items():
        if not isinstance(grade, numbers.Real) or not math.isfinite(float(grade)):
            raise ValueError(
                f"relevance grades must be finite numbers (0 or below = not relevant); "
                f"got {grade!r} for document {doc!r}."
            )
        out[doc] = float(grade)
    return out


def _count_relevant(grades: Mapping[str, float]) -> int:
    return sum(1 for g in grades.values() if g > 0)


def _unpack_run(run: Any, index: int) -> tuple[Sequence[str], Mapping[str, float]]:
    if isinstance(run, str | bytes) or not isinstance(run, Sequence) or len(run) != 2:
        raise ValueError(
            f"each run must be a pair (ranked ids, relevance mapping); run {index} is "
            f"{run!r:.80}."
        )
    return run[0], run[1]
