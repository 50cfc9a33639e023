"""Paired tests against scipy and statsmodels, and their type I error by simulation."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from evalstack.stats import (
    bootstrap_ci,
    mcnemar,
    paired_bootstrap,
    paired_permutation,
    wilcoxon_signed_rank,
)

Z95 = NormalDist().inv_cdf(0.975)


def _pairs_from_counts(n11: int, n10: int, n01: int, n00: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 outcomes of a (baseline) and b (candidate) with the given cell counts, shuffled."""
    a = np.repeat([1, 1, 0, 0], [n11, n10, n01, n00])
    b = np.repeat([1, 0, 1, 0], [n11, n10, n01, n00])
    order = np.random.default_rng(n11 + 7 * n10 + 31 * n01).permutation(a.size)
    return a[order], b[order]


def _agresti_min_direct(n10: int, n01: int, n: int, conf: float) -> tuple[float, float, float]:
    """Agresti & Min (2005): add 1/2 to each cell, then the Wald interval (written out)."""
    z = NormalDist().inv_cdf(1 - (1 - conf) / 2)
    cells = np.array([n10, n01]) + 0.5
    total = n + 2.0
    p10, p01 = cells / total
    se = math.sqrt((p01 + p10 - (p01 - p10) ** 2) / total)
    center = p01 - p10
    return max(-1.0, center - z * se), min(1.0, center + z * se), se


# --- McNemar -----------------------------------------------------------------------------

TABLES = [
    (n11, n10, n01, n00)
    for n11, n00 in ((40, 30), (0, 0), (500, 200))
    for n10, n01 in ((0, 0), (3, 0), (5, 9), (12, 12), (10, 14), (13, 12), (30, 50), (150, 86))
]


@pytest.mark.parametrize(("n11", "n10", "n01", "n00"), TABLES)
def test_mcnemar_equals_statsmodels_and_scipy(n11, n10, n01, n00) -> None:
    a, b = _pairs_from_counts(n11, n10, n01, n00)
    if a.size == 0:
        return
    table = [[n11, n10], [n01, n00]]
    exact = mcnemar(a, b, exact=True)
    chi2 = mcnemar(a, b, exact=False)
    auto = mcnemar(a, b)
    assert exact.p_value == pytest.approx(sm_mcnemar(table, exact=True).pvalue, abs=1e-12)
    if n10 + n01:
        binom = stats.binomtest(min(n10, n01), n10 + n01, 0.5).pvalue
        assert exact.p_value == pytest.approx(binom, abs=1e-10)
        expected = sm_mcnemar(table, exact=False, correction=True).pvalue
        assert chi2.p_value == pytest.approx(expected, abs=1e-12)
    else:
        assert exact.p_value == chi2.p_value == 1.0  # no discordant pairs
    assert (exact.method, chi2.method) == ("mcnemar_exact", "mcnemar_chi2")
    assert auto == (exact if n10 + n01 < 25 else chi2)
    n = a.size
    assert exact.estimate == pytest.approx(b.mean() - a.mean(), abs=1e-15)
    low, high, se = _agresti_min_direct(n10, n01, n, 0.95)
    assert exact.se == pytest.approx(se, rel=1e-12)
    assert exact.ci_low == pytest.approx(min(low, exact.estimate), abs=1e-12)
    assert exact.ci_high == pytest.approx(max(high, exact.estimate), abs=1e-12)
    assert exact.n == n


def test_mcnemar_textbook_interval() -> None:
    # Agresti, Categorical Data Analysis: presidential approval of 1,600 people in two
    # surveys (794, 150, 86, 570): the approval fell by 0.04, 95% CI (0.021, 0.059).
    a, b = _pairs_from_counts(794, 150, 86, 570)
    r = mcnemar(a, b)
    assert r.estimate == pytest.approx(-0.04)
    assert (round(r.ci_low, 3), round(r.ci_high, 3)) == (-0.059, -0.021)
    assert r.method == "mcnemar_chi2" and r.p_value < 1e-4


def test_mcnemar_switches_to_chi2_at_25_discordant_pairs() -> None:
    assert mcnemar(*_pairs_from_counts(5, 10, 14, 5)).method == "mcnemar_exact"
    assert mcnemar(*_pairs_from_counts(5, 10, 15, 5)).method == "mcnemar_chi2"


def test_mcnemar_small_and_empty() -> None:
    r = mcnemar([0], [1])
    assert (r.estimate, r.ci_high, r.p_value, r.n) == (1.0, 1.0, 1.0, 1)
    assert -1.0 <= r.ci_low < 1.0
    empty = mcnemar([], [])
    assert math.isnan(empty.estimate) and math.isnan(empty.ci_low) and math.isnan(empty.p_value)
    assert (empty.n, empty.method) == (0, "mcnemar_exact")
    assert mcnemar([], [], exact=False).method == "mcnemar_chi2"


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "error", "match"),
    [
        ([1, 0, 1], [1, 0], {}, ValueError, r"len\(a\)=3 and len\(b\)=2"),
        ([1, 0.5], [1, 0], {}, ValueError, "a must hold 0/1 outcomes only; got 0.5"),
        ([1, 0], [2, 0], {}, ValueError, "b must hold 0/1 outcomes only; got 2.0"),
        ([1, math.nan], [1, 0], {}, ValueError, "a must be finite"),
        ([[1, 0]], [[1, 0]], {}, ValueError, "a must be one-dimensional"),
        ([1, 0], [1, 0], {"confidence": 95}, ValueError, "strictly between 0 and 1"),
        ([1, 0], [1, 0], {"exact": "yes"}, TypeError, "exact must be True, False or None"),
    ],
)
def test_mcnemar_rejects_bad_input(a, b, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        mcnemar(a, b, **kwargs)


@pytest.mark.parametrize(("n", "psi"), [(30, 0.2), (100, 0.1), (400, 0.3)])
def test_mcnemar_type_one_error_at_most_nominal(n: int, psi: float) -> None:
    # No difference: p01 = p10. 2,000 datasets; the tests are conservative, so at most 5%
    # (plus Monte Carlo error, SE 0.5%) reject.
    rng = np.random.default_rng(n)
    counts = rng.multinomial(n, [psi / 2, psi / 2, 1 - psi], size=2000)
    rejected = 0
    for n01, n10, _ in counts:
        a = np.r_[np.zeros(n01), np.ones(n10), np.zeros(n - n01 - n10)]
        b = np.r_[np.ones(n01), np.zeros(n10), np.zeros(n - n01 - n10)]
        rejected += mcnemar(a, b).p_value < 0.05
    assert rejected / 2000 <= 0.055


@settings(max_examples=200, deadline=None)
@given(
    cells=st.tuples(*[st.integers(0, 60)] * 4).filter(lambda c: sum(c) > 0),
    conf=st.floats(0.8, 0.99),
)
def test_mcnemar_properties(cells, conf) -> None:
    a, b = _pairs_from_counts(*cells)
    r = mcnemar(a, b, confidence=conf)
    assert -1.0 <= r.ci_low <= r.estimate <= r.ci_high <= 1.0
    assert 0.0 < r.p_value <= 1.0 and r.se > 0
    flipped = mcnemar(b, a, confidence=conf)  # swapping the systems mirrors everything
    assert flipped.estimate == -r.estimate and flipped.p_value == r.p_value
    assert flipped.ci_low == pytest.approx(-r.ci_high) and flipped.se == r.se


# --- paired bootstrap --------------------------------------------------------------------


def _scores(n: int = 80, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(size=n)  # shared by both systems: what pairing removes
    a = difficulty + rng.normal(0, 0.5, n)
    b = difficulty + 0.15 + rng.normal(0, 0.5, n)
    return a, b


def test_paired_bootstrap_interval_is_bootstrap_ci_of_differences() -> None:
    a, b = _scores()
    labels = np.repeat(np.arange(20), 4)
    for clusters in (None, labels):
        r = paired_bootstrap(a, b, n_resamples=3000, clusters=clusters)
        ref = bootstrap_ci(b - a, n_resamples=3000, clusters=clusters)
        assert (r.estimate, r.ci_low, r.ci_high, r.n) == (
            ref.estimate, ref.ci_low, ref.ci_high, ref.n)
    assert r.method == "cluster_paired_bootstrap"
    assert paired_bootstrap(a, b).method == "paired_bootstrap"


def test_paired_bootstrap_matches_scipy() -> None:
    a, b = _scores(60, seed=2)
    r = paired_bootstrap(a, b, n_resamples=20_000)
    ref = stats.bootstrap(
        (a, b), lambda x, y, axis: np.mean(y - x, axis=axis), paired=True,
        method="percentile", n_resamples=20_000, rng=np.random.default_rng(3),
    )
    d = b - a
    tol = 0.12 * d.std(ddof=1) / math.sqrt(d.size)  # Monte Carlo error of the bounds
    assert r.ci_low == pytest.approx(ref.confidence_interval.low, abs=tol)
    assert r.ci_high == pytest.approx(ref.confidence_interval.high, abs=tol)
    assert r.se == pytest.approx(ref.standard_error, rel=0.03)
    # The centred p-value from scipy's bootstrap distribution, as Hall & Wilson (1991).
    dist = ref.bootstrap_distribution
    p_ref = (1 + np.sum(np.abs(dist - d.mean()) >= abs(d.mean()))) / (dist.size + 1)
    assert r.p_value == pytest.approx(p_ref, abs=3 * math.sqrt(p_ref * (1 - p_ref) / 20_000))
    # ... and near the normal approximation's.
    p_normal = 2 * NormalDist().cdf(-abs(d.mean()) / (d.std(ddof=1) / math.sqrt(d.size)))
    assert r.p_value == pytest.approx(p_normal, abs=0.01)


def test_paired_bootstrap_no_difference_and_empty() -> None:
    r = paired_bootstrap([0.5, 0.2, 0.9], [0.5, 0.2, 0.9], n_resamples=100)
    assert (r.estimate, r.ci_low, r.ci_high, r.p_value, r.se) == (0.0, 0.0, 0.0, 1.0, 0.0)
    e = paired_bootstrap([], [])
    assert math.isnan(e.estimate) and math.isnan(e.p_value) and e.n == 0
    assert paired_bootstrap([], [], clusters=[]).method == "cluster_paired_bootstrap"


@settings(max_examples=100, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=1,
                   max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_paired_bootstrap_properties(pairs, seed) -> None:
    a, b = (np.array(v) for v in zip(*pairs, strict=True))
    r = paired_bootstrap(a, b, n_resamples=200, rng=np.random.default_rng(seed))
    d = b - a
    slack = 1e-9 * max(1.0, float(np.abs(d).max()))
    assert d.min() - slack <= r.ci_low <= r.estimate <= r.ci_high <= d.max() + slack
    assert 1 / 201 <= r.p_value <= 1.0 and r.n == len(pairs)


# --- paired permutation ------------------------------------------------------------------


def _scipy_permutation_p(a: np.ndarray, b: np.ndarray, n_resamples: float) -> float:
    res = stats.permutation_test(
        (a, b), lambda x, y, axis: np.mean(y - x, axis=axis), permutation_type="samples",
        n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(5),
    )
    return float(res.pvalue)


@pytest.mark.parametrize("n", [2, 5, 9, 13, 16])
@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_permutation_exact_equals_scipy(n: int, kind: str) -> None:
    rng = np.random.default_rng(n)
    if kind == "binary":  # many tied and zero differences
        a, b = rng.integers(0, 2, n), (rng.uniform(size=n) < 0.7).astype(int)
    else:
        a, b = _scores(n, seed=n)
    r = paired_permutation(a, b, n_resamples=500)
    assert r.p_value == pytest.approx(_scipy_permutation_p(a, b, np.inf), abs=1e-12)
    assert r.method == "paired_permutation"


@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_permutation_sampled_matches_scipy(kind: str) -> None:
    rng = np.random.default_rng(40)
    n = 40
    if kind == "binary":
        a, b = rng.integers(0, 2, n), (rng.uniform(size=n) < 0.55).astype(int)
    else:
        a, b = _scores(n, seed=40)
    ours = paired_permutation(a, b, n_resamples=20_000).p_value
    theirs = _scipy_permutation_p(a, b, 20_000)
    assert 0.001 < theirs < 0.5  # a p-value where Monte Carlo error can be judged
    se = math.sqrt(theirs * (1 - theirs) / 20_000)
    assert ours == pytest.approx(theirs, abs=5 * se)


@pytest.mark.parametrize("n_clusters", [7, 16, 30])
def test_permutation_flips_whole_clusters(n_clusters: int) -> None:
    # Three identical pairs per cluster: flipping clusters is flipping per-cluster means.
    a, b = _scores(n_clusters, seed=n_clusters)
    labels = np.repeat([f"q{i}" for i in range(n_clusters)], 3)
    r = paired_permutation(np.repeat(a, 3), np.repeat(b, 3), clusters=labels,
                           n_resamples=20_000)
    if n_clusters <= 16:
        assert r.p_value == pytest.approx(_scipy_permutation_p(a, b, np.inf), abs=1e-12)
    else:
        theirs = _scipy_permutation_p(a, b, 20_000)
        assert r.p_value == pytest.approx(theirs, abs=5 * math.sqrt(theirs / 20_000) + 1e-4)
    assert r.n == 3 * n_clusters


def test_permutation_interval_is_the_paired_bootstrap() -> None:
    a, b = _scores(50, seed=8)
    labels = np.repeat(np.arange(25), 2)
    for clusters in (None, labels):
        perm = paired_permutation(a, b, clusters=clusters, rng=np.random.default_rng(4))
        boot = paired_bootstrap(a, b, clusters=clusters, rng=np.random.default_rng(4))
        assert (perm.estimate, perm.ci_low, perm.ci_high, perm.se) == (
            boot.estimate, boot.ci_low, boot.ci_high, boot.se)


def test_permutation_is_reproducible_and_handles_edges() -> None:
    a, b = _scores(30, seed=9)
    assert paired_permutation(a, b) == paired_permutation(a, b)
    same = paired_permutation(a, a)
    assert (same.estimate, same.p_value) == (0.0, 1.0)
    one = paired_permutation([0.0], [1.0])  # both sign patterns are as extreme
    assert (one.estimate, one.p_value, one.n) == (1.0, 1.0, 1)
    empty = paired_permutation([], [])
    assert math.isnan(empty.p_value) and empty.n == 0


def _null_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    difficulty = rng.normal(size=n)
    return difficulty + rng.normal(size=n), difficulty + rng.normal(size=n)


def test_permutation_type_one_error_at_most_nominal() -> None:
    rng = np.random.default_rng(2024)
    sims, rejected, rejected_clustered = 2000, 0, 0
    labels = np.repeat(np.arange(20), 3)
    for _ in range(sims):
        a, b = _null_pairs(rng, 30)  # 30 pairs: sampled signs
        rejected += paired_permutation(a, b, n_resamples=400, rng=rng).p_value < 0.05
        # 20 clusters of 3 with a shared, symmetric cluster effect on the difference.
        a, b = _null_pairs(rng, 60)
        b = b + np.repeat(rng.normal(size=20), 3)
        r = paired_permutation(a, b, n_resamples=400, clusters=labels, rng=rng)
        rejected_clustered += r.p_value < 0.05
    assert rejected / sims <= 0.06  # 0.05 in theory; Monte Carlo SE 0.005
    assert rejected_clustered / sims <= 0.06


# --- Wilcoxon ----------------------------------------------------------------------------


def _wilcoxon_data() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(12)
    out = [
        (np.array([3, 4, 2, 5, 3, 4, 2, 3]), np.array([4, 6, 3, 5, 5, 6, 3, 4])),  # zero, ties
        _scores(12, seed=12),  # small: exact distribution
        _scores(80, seed=13),  # large: normal approximation
    ]
    a = rng.integers(1, 6, 200)
    out.append((a, np.clip(a + rng.integers(-1, 3, 200), 1, 5)))  # many zeros and ties
    return out


@pytest.mark.parametrize("data", _wilcoxon_data(), ids=["ties", "exact", "approx", "ordinal"])
@pytest.mark.parametrize("zero_method", ["pratt", "wilcox", "zsplit"])
def test_wilcoxon_equals_scipy(data, zero_method: str) -> None:
    a, b = data
    r = wilcoxon_signed_rank(a, b, zero_method=zero_method, n_resamples=2000)
    expected = stats.wilcoxon(b - a, zero_method=zero_method).pvalue
    assert r.p_value == pytest.approx(expected, abs=1e-12)
    boot = paired_bootstrap(a, b, n_resamples=2000)
    assert (r.estimate, r.ci_low, r.ci_high, r.se) == (
        boot.estimate, boot.ci_low, boot.ci_high, boot.se)
    assert r.method == "wilcoxon_signed_rank"


def test_wilcoxon_edges() -> None:
    r = wilcoxon_signed_rank([1, 2, 3], [1, 2, 3])
    assert (r.estimate, r.p_value) == (0.0, 1.0)
    assert wilcoxon_signed_rank([1.0], [2.0]).p_value == pytest.approx(1.0)
    assert math.isnan(wilcoxon_signed_rank([], []).p_value)
    with pytest.raises(ValueError, match="zero_method must be 'pratt', 'wilcox' or 'zsplit'"):
        wilcoxon_signed_rank([1, 2], [2, 3], zero_method="drop")


# --- shared validation ---------------------------------------------------------------------


@pytest.mark.parametrize("fn", [paired_bootstrap, paired_permutation, wilcoxon_signed_rank])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"b": [1.0, 2.0]}, ValueError, r"len\(a\)=3 and len\(b\)=2"),
        ({"b": [1.0, math.inf, 2.0]}, ValueError, "b must be finite"),
        ({"confidence": 0.0}, ValueError, "strictly between 0 and 1"),
        ({"rng": 1}, TypeError, "numpy.random.Generator"),
        ({"n_resamples": 0}, ValueError, "at least 1"),
        ({"clusters": [1, 2]}, ValueError, "one label per value"),
    ],
)
def test_paired_functions_reject_bad_input(fn, kwargs, error, match) -> None:
    if "clusters" in kwargs and fn is wilcoxon_signed_rank:
        return  # wilcoxon has no clusters
    args = {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.5, 2.0], **kwargs}
    with pytest.raises(error, match=match):
        fn(**args)
