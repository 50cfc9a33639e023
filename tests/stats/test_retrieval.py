"""Retrieval metrics against trec_eval (pytrec_eval) on random queries, and by hand."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import pytrec_eval

from evalstack.stats import (
    StatResult,
    average_precision,
    hit_rate_at_k,
    mean_ci,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    retrieval_summary,
    wilson_ci,
)

CUTOFFS = (1, 3, 5, 10, 20)
_CUTS = ",".join(str(k) for k in CUTOFFS)
MEASURES = {
    f"recall.{_CUTS}",
    f"P.{_CUTS}",
    f"ndcg_cut.{_CUTS}",
    f"success.{_CUTS}",
    "recip_rank",
    "map",
}
# A judged, not relevant document for queries without judgments (trec_eval needs one).
_DUMMY = "zz-dummy"

Query = tuple[list[str], dict[str, int]]


def _random_queries(seed: int, n_queries: int, grades: Sequence[int]) -> list[Query]:
    """Queries of every awkward shape: empty and short rankings, unjudged and negative
    grades, tied grades, no relevant document, more relevant documents than k."""
    rng = np.random.default_rng(seed)
    pool = [f"d{i:02d}" for i in range(30)]
    queries: list[Query] = []
    for q in range(n_queries):
        shape = q % 5
        judged = rng.choice(pool, size=int(rng.integers(0, 25)), replace=False)
        if shape == 0:  # no relevant document, though some may be judged
            nonrelevant = rng.choice([0, -1], judged.size)
            relevance = {str(d): int(g) for d, g in zip(judged, nonrelevant, strict=True)}
        else:
            relevance = {str(d): int(rng.choice(grades)) for d in judged}
        length = int(rng.integers(0, 4)) if shape == 1 else int(rng.integers(0, 30))
        ranked = [str(d) for d in rng.choice(pool, size=length, replace=False)]
        queries.append((ranked, relevance))
    return queries


def _trec_eval(queries: Sequence[Query]) -> dict[str, dict[str, float]]:
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for i, (ranked, relevance) in enumerate(queries):
        qid = f"q{i}"
        qrels[qid] = dict(relevance) or {_DUMMY: 0}
        # Scores fall strictly with rank, so trec_eval's ranking (by score, ties broken by
        # docid) is exactly ours.
        run[qid] = {doc: float(len(ranked) - r) for r, doc in enumerate(ranked)}
    result: dict[str, dict[str, float]] = pytrec_eval.RelevanceEvaluator(
        qrels, MEASURES
    ).evaluate(run)
    return result


GRADE_SETS = {
    "binary": (0, 1),
    "graded": (0, 1, 2, 3),
    "graded_ties": (0, 2, 2, 2, 4),
    "with_negative": (-1, 0, 1, 2),
}


@pytest.mark.parametrize("grades", list(GRADE_SETS), ids=list(GRADE_SETS))
@pytest.mark.parametrize("seed", range(4))
def test_every_metric_equals_trec_eval(grades: str, seed: int) -> None:
    queries = _random_queries(1000 * seed + len(grades), 150, GRADE_SETS[grades])
    reference = _trec_eval(queries)
    for i, (ranked, relevance) in enumerate(queries):
        ref = reference[f"q{i}"]
        where = f"query {i}: ranked={ranked}, relevance={relevance}"
        for k in CUTOFFS:
            assert recall_at_k(ranked, relevance, k) == pytest.approx(
                ref[f"recall_{k}"], abs=1e-12
            ), where
            assert precision_at_k(ranked, relevance, k) == pytest.approx(
                ref[f"P_{k}"], abs=1e-12
            ), where
            assert hit_rate_at_k(ranked, relevance, k) == ref[f"success_{k}"], where
            assert ndcg_at_k(ranked, relevance, k) == pytest.approx(
                ref[f"ndcg_cut_{k}"], abs=1e-12
            ), where
        assert mrr(ranked, relevance) == pytest.approx(ref["recip_rank"], abs=1e-12), where
        assert average_precision(ranked, relevance) == pytest.approx(ref["map"], abs=1e-12), where


def test_random_queries_cover_the_edge_cases() -> None:
    # The comparison above is only as good as the shapes it sees.
    queries = _random_queries(7, 150, GRADE_SETS["graded"])
    assert any(not ranked for ranked, _ in queries)
    assert any(0 < len(ranked) < 5 for ranked, _ in queries)
    assert any(not any(g > 0 for g in rel.values()) for _, rel in queries)
    assert any(not rel for _, rel in queries)
    assert any(sum(g > 0 for g in rel.values()) > 10 for _, rel in queries)
    assert any(any(d not in rel for d in ranked) for ranked, rel in queries)


@pytest.mark.parametrize("seed", range(3))
def test_duplicates_count_once_at_their_first_rank(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for ranked, relevance in _random_queries(seed, 60, GRADE_SETS["graded"]):
        if not ranked:
            continue
        # Insert copies of returned ids after their first occurrence.
        noisy = list(ranked)
        for _ in range(int(rng.integers(1, 6))):
            doc = ranked[int(rng.integers(0, len(ranked)))]
            first = noisy.index(doc)
            noisy.insert(int(rng.integers(first + 1, len(noisy) + 1)), doc)
        for k in CUTOFFS:
            assert recall_at_k(noisy, relevance, k) == recall_at_k(ranked, relevance, k)
            assert precision_at_k(noisy, relevance, k) == precision_at_k(ranked, relevance, k)
            assert hit_rate_at_k(noisy, relevance, k) == hit_rate_at_k(ranked, relevance, k)
            assert ndcg_at_k(noisy, relevance, k) == ndcg_at_k(ranked, relevance, k)
        assert mrr(noisy, relevance) == mrr(ranked, relevance)
        assert average_precision(noisy, relevance) == average_precision(ranked, relevance)


def test_duplicates_by_hand() -> None:
    rel = {"a": 1, "b": 1}
    assert precision_at_k(["a", "a", "b"], rel, 2) == 1.0  # the top 2 distinct are a, b
    assert average_precision(["x", "a", "a", "b"], rel) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert recall_at_k(["a", "a", "a"], rel, 3) == 0.5


# --- hand-worked values ----------------------------------------------------------------


def test_hand_worked_binary_query() -> None:
    # 3 relevant documents (a, c, f); f is never returned.
    ranked = ["a", "b", "c", "d", "e"]
    rel = {"a": 1, "b": 0, "c": 1, "f": 1}
    assert recall_at_k(ranked, rel, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, rel, 5) == pytest.approx(2 / 3)
    assert precision_at_k(ranked, rel, 3) == pytest.approx(2 / 3)
    assert precision_at_k(ranked, rel, 10) == pytest.approx(2 / 10)  # divides by k
    assert hit_rate_at_k(ranked, rel, 1) == 1.0
    assert mrr(ranked, rel) == 1.0
    assert average_precision(ranked, rel) == pytest.approx((1 / 1 + 2 / 3) / 3)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, rel, 5) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranked, rel, 1) == 1.0


def test_hand_worked_graded_query() -> None:
    ranked = ["x", "b", "a"]
    rel = {"a": 3, "b": 1, "c": 2}
    dcg = 1 / math.log2(3) + 3 / math.log2(4)
    idcg3 = 3 + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, rel, 3) == pytest.approx(dcg / idcg3)
    # The ideal is cut at k too: at k=2 it is 3 + 2/log2(3) and the DCG is 1/log2(3).
    assert ndcg_at_k(ranked, rel, 2) == pytest.approx((1 / math.log2(3)) / (3 + 2 / math.log2(3)))
    exp_dcg = 1 / math.log2(3) + 7 / math.log2(4)
    exp_idcg = 7 + 3 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, rel, 3, gains="exponential") == pytest.approx(exp_dcg / exp_idcg)
    assert mrr(ranked, rel) == 0.5
    assert average_precision(ranked, rel) == pytest.approx((1 / 2 + 2 / 3) / 3)


def test_gains_agree_on_binary_judgments() -> None:
    for ranked, rel in _random_queries(3, 40, GRADE_SETS["binary"]):
        for k in CUTOFFS:
            assert ndcg_at_k(ranked, rel, k, gains="exponential") == pytest.approx(
                ndcg_at_k(ranked, rel, k)
            )


def test_fractional_grades() -> None:
    # Grades above 0 are relevant, fractional ones included; linear nDCG is scale-free.
    rel = {"a": 0.5, "b": 0.25, "c": 0.0}
    ranked = ["c", "b", "a"]
    assert recall_at_k(ranked, rel, 3) == 1.0
    assert mrr(ranked, rel) == 0.5
    doubled = {d: 2 * g for d, g in rel.items()}
    assert ndcg_at_k(ranked, rel, 3) == pytest.approx(ndcg_at_k(ranked, doubled, 3))


def test_no_relevant_documents_scores_zero() -> None:
    for rel in ({}, {"a": 0}, {"a": -1, "b": 0.0}):
        for k in (1, 5):
            assert recall_at_k(["a", "b"], rel, k) == 0.0
            assert precision_at_k(["a", "b"], rel, k) == 0.0
            assert hit_rate_at_k(["a", "b"], rel, k) == 0.0
            assert ndcg_at_k(["a", "b"], rel, k) == 0.0
            assert ndcg_at_k(["a", "b"], rel, k, gains="exponential") == 0.0
        assert mrr(["a", "b"], rel) == 0.0
        assert average_precision(["a", "b"], rel) == 0.0


def test_empty_ranking_scores_zero() -> None:
    rel = {"a": 1}
    assert recall_at_k([], rel, 5) == 0.0
    assert precision_at_k([], rel, 5) == 0.0
    assert hit_rate_at_k([], rel, 5) == 0.0
    assert ndcg_at_k([], rel, 5) == 0.0
    assert mrr([], rel) == 0.0
    assert average_precision([], rel) == 0.0


def test_accepts_tuples_numpy_grades_and_bools() -> None:
    rel: dict[str, Any] = {"a": np.int64(2), "b": np.float64(1.0), "c": True}
    assert recall_at_k(("a", "b", "c"), rel, 3) == 1.0
    assert ndcg_at_k(("a", "b", "c"), rel, np.int64(3)) == 1.0  # type: ignore[arg-type]


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, 2.0, 2.5, "5", None, True])
def test_k_must_be_a_whole_number_of_at_least_one(k: Any) -> None:
    for fn in (recall_at_k, precision_at_k, hit_rate_at_k, ndcg_at_k):
        with pytest.raises(ValueError, match=r"k must be a whole number of at least 1.*got"):
            fn(["a"], {"a": 1}, k)
    with pytest.raises(ValueError, match=r"k must be a whole number of at least 1.*got"):
        retrieval_summary([(["a"], {"a": 1})], k=k)


@pytest.mark.parametrize("grade", [math.nan, math.inf, -math.inf, "1", None, [1]])
def test_grades_must_be_finite_numbers(grade: Any) -> None:
    rel = {"a": 1, "b": grade}
    for fn in (mrr, average_precision):
        with pytest.raises(ValueError, match=r"grades must be finite numbers.*for document 'b'"):
            fn(["a"], rel)
    with pytest.raises(ValueError, match=r"grades must be finite numbers"):
        ndcg_at_k(["a"], rel, 3)


def test_rejects_a_string_for_ranked() -> None:
    with pytest.raises(ValueError, match=r"ranked must be a sequence of document ids.*'abc'"):
        recall_at_k("abc", {"a": 1}, 3)


def test_rejects_a_non_mapping_relevance() -> None:
    with pytest.raises(ValueError, match=r"relevance must be a mapping.*got list"):
        mrr(["a"], [("a", 1)])  # type: ignore[arg-type]


def test_rejects_unknown_gains() -> None:
    with pytest.raises(ValueError, match=r"gains must be 'linear' or 'exponential'; got 'log'"):
        ndcg_at_k(["a"], {"a": 1}, 3, gains="log")  # type: ignore[arg-type]


def test_summary_rejects_a_malformed_run() -> None:
    with pytest.raises(ValueError, match=r"pair \(ranked ids, relevance mapping\); run 1"):
        retrieval_summary([(["a"], {"a": 1}), (["a"],)])  # type: ignore[list-item]


def test_summary_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        retrieval_summary([(["a"], {"a": 1})], confidence=95)


# --- retrieval_summary -----------------------------------------------------------------


def _per_query(queries: Sequence[tuple[Sequence[str], Mapping[str, float]]], k: int) -> dict[
    str, list[float]
]:
    return {
        f"recall@{k}": [recall_at_k(r, g, k) for r, g in queries],
        f"precision@{k}": [precision_at_k(r, g, k) for r, g in queries],
        f"hit_rate@{k}": [hit_rate_at_k(r, g, k) for r, g in queries],
        "mrr": [mrr(r, g) for r, g in queries],
        f"ndcg@{k}": [ndcg_at_k(r, g, k) for r, g in queries],
        "map": [average_precision(r, g) for r, g in queries],
    }


@pytest.mark.parametrize("k", [5, 10])
def test_summary_means_equal_trec_eval_means(k: int) -> None:
    queries = _random_queries(11, 200, GRADE_SETS["graded"])
    reference = _trec_eval(queries)
    summary = retrieval_summary(queries, k=k)
    assert list(summary) == [f"recall@{k}", f"precision@{k}", f"hit_rate@{k}", "mrr",
                             f"ndcg@{k}", "map"]
    trec_names = {f"recall@{k}": f"recall_{k}", f"precision@{k}": f"P_{k}",
                  f"hit_rate@{k}": f"success_{k}", "mrr": "recip_rank",
                  f"ndcg@{k}": f"ndcg_cut_{k}", "map": "map"}
    for name, result in summary.items():
        expected = float(np.mean([reference[q][trec_names[name]] for q in reference]))
        assert result.estimate == pytest.approx(expected, abs=1e-12), name
        assert result.n == len(queries)
        assert result.ci_low <= result.estimate <= result.ci_high


def test_summary_intervals_come_from_mean_ci() -> None:
    queries = _random_queries(5, 80, GRADE_SETS["binary"])
    summary = retrieval_summary(queries, k=5, confidence=0.9)
    values = _per_query(queries, 5)
    hits = values["hit_rate@5"]
    assert summary["hit_rate@5"] == wilson_ci(int(sum(hits)), len(hits), 0.9)
    for name in ("recall@5", "precision@5", "mrr", "ndcg@5", "map"):
        assert summary[name] == mean_ci(values[name], "continuous", confidence=0.9)
        assert summary[name].method == "bootstrap_percentile"


def test_summary_is_deterministic() -> None:
    queries = _random_queries(9, 50, GRADE_SETS["graded"])
    assert retrieval_summary(queries) == retrieval_summary(queries)


def test_summary_of_no_queries_is_nan() -> None:
    summary = retrieval_summary([], k=3)
    assert list(summary) == ["recall@3", "precision@3", "hit_rate@3", "mrr", "ndcg@3", "map"]
    for result in summary.values():
        assert isinstance(result, StatResult)
        assert result.n == 0
        assert math.isnan(result.estimate) and math.isnan(result.ci_low)
        assert math.isnan(result.ci_high)
