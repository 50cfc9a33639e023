"""Intervals against reference implementations (statsmodels, scipy) and by simulation."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evalstack.stats
from evalstack.stats import StatResult, bootstrap_ci, intervals, mean_ci, wilson_ci

# --- Wilson --------------------------------------------------------------------------

WILSON_CASES = [
    (k, n, conf)
    for n in (1, 2, 3, 7, 10, 37, 100, 999, 12_345)
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n})
    for conf in (0.8, 0.9, 0.95, 0.99)
    if 0 <= k <= n
]


@pytest.mark.parametrize(("k", "n", "conf"), WILSON_CASES)
def test_wilson_equals_statsmodels(k: int, n: int, conf: float) -> None:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    r = wilson_ci(k, n, conf)
    assert r.ci_low == pytest.approx(low, abs=1e-12)
    assert r.ci_high == pytest.approx(high, abs=1e-12)
    assert r.estimate == k / n
    assert (r.n, r.method, r.p_value) == (n, "wilson", None)


def test_wilson_known_value() -> None:
    # Wilson (1927) for 8/10 at 95%: (0.4902, 0.9433), as printed in textbook tables.
    r = wilson_ci(8, 10)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (0.4902, 0.9433)


def test_wilson_accepts_numpy_and_integral_floats() -> None:
    assert wilson_ci(np.int64(3), np.int64(10)) == wilson_ci(3, 10)
    assert wilson_ci(3.0, 10.0) == wilson_ci(3, 10)


def test_wilson_empty_is_nan() -> None:
    r = wilson_ci(0, 0)
    assert math.isnan(r.estimate) and math.isnan(r.ci_low) and math.isnan(r.ci_high)
    assert (r.n, r.method) == (0, "wilson")


@pytest.mark.parametrize(
    ("k", "n", "conf", "match"),
    [
        (11, 10, 0.95, "at most n"),
        (-1, 10, 0.95, "non-negative whole number"),
        (1.5, 10, 0.95, "non-negative whole number"),
        (1, 10, 1.0, "strictly between 0 and 1"),
        (1, 10, 0.0, "strictly between 0 and 1"),
        (1, 10, 95, "strictly between 0 and 1"),
    ],
)
def test_wilson_rejects_bad_input(k: float, n: int, conf: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        wilson_ci(k, n, conf)  # type: ignore[arg-type]


def test_wilson_coverage_by_simulation() -> None:
    # 1,000 binomial experiments with p and n drawn at random: a 95% interval should cover
    # the true p in about 950 (the binomial standard error of the count is about 7).
    rng = np.random.default_rng(20240601)
    covered = 0
    for _ in range(1000):
        p, n = rng.uniform(0.05, 0.95), int(rng.integers(20, 400))
        r = wilson_ci(int(rng.binomial(n, p)), n)
        covered += r.ci_low <= p <= r.ci_high
    assert 930 <= covered <= 970


@pytest.mark.parametrize("n", [20, 50, 100, 400])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_wilson_exact_coverage_stays_near_nominal(p: float, n: int) -> None:
    from scipy.stats import binom

    ks = np.arange(n + 1)
    inside = [wilson_ci(int(k), n).ci_low <= p <= wilson_ci(int(k), n).ci_high for k in ks]
    coverage = float(binom.pmf(ks, n, p)[inside].sum())
    assert 0.925 <= coverage <= 0.98


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=10**7),
    frac=st.floats(min_value=0, max_value=1),
    conf=st.floats(min_value=0.5, max_value=0.999),
)
def test_wilson_properties(n: int, frac: float, conf: float) -> None:
    k = min(n, int(round(frac * n)))
    r = wilson_ci(k, n, conf)
    assert 0.0 <= r.ci_low <= r.estimate <= r.ci_high <= 1.0
    wider = wilson_ci(k, n, min(0.9999, conf + 0.0005))
    assert wider.ci_low <= r.ci_low and wider.ci_high >= r.ci_high


# --- bootstrap against scipy --------------------------------------------------------


def _scipy_interval(x: np.ndarray, statistic, method: str) -> tuple[float, float]:
    from scipy import stats

    res = stats.bootstrap(
        (x,), statistic, method=method, n_resamples=20_000, rng=np.random.default_rng(7)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _data(kind: str) -> np.ndarray:
    rng = np.random.default_rng(42)
    if kind == "normal":
        return rng.normal(10.0, 2.0, size=60)
    return rng.exponential(1.0, size=40) ** 2  # strongly right-skewed


def _tolerance(x: np.ndarray) -> float:
    # Monte Carlo error of a 2.5% quantile over 20,000 resamples is ~0.02 standard errors.
    return 0.12 * x.std(ddof=1) / math.sqrt(x.size)


@pytest.mark.parametrize("data", ["normal", "skewed"])
@pytest.mark.parametrize(("ours", "theirs"), [("percentile", "percentile"), ("bca", "BCa")])
def test_bootstrap_mean_matches_scipy(data: str, ours: str, theirs: str) -> None:
    x = _data(data)
    r = bootstrap_ci(x, "mean", n_resamples=20_000, method=ours)  # type: ignore[arg-type]
    low, high = _scipy_interval(x, np.mean, theirs)
    assert r.estimate == pytest.approx(x.mean())
    assert r.ci_low == pytest.approx(low, abs=_tolerance(x))
    assert r.ci_high == pytest.approx(high, abs=_tolerance(x))
    assert r.method == f"bootstrap_{ours}"


def test_bca_differs_from_percentile_on_skewed_data() -> None:
    # The comparison with scipy above can only tell BCa from percentile if they differ.
    x = _data("skewed")
    pct = bootstrap_ci(x, n_resamples=20_000)
    bca = bootstrap_ci(x, n_resamples=20_000, method="bca")
    assert bca.ci_high - pct.ci_high > 3 * _tolerance(x)


@pytest.mark.parametrize(("ours", "theirs"), [("percentile", "percentile"), ("bca", "BCa")])
@pytest.mark.parametrize("statistic", ["median", "std_axis", "std_rowwise"])
def test_bootstrap_other_statistics_match_scipy(statistic: str, ours: str, theirs: str) -> None:
    x = _data("normal")
    ours_stat = {
        "median": "median",
        "std_axis": np.std,  # accepts axis: vectorised
        "std_rowwise": lambda row: float(np.std(row)),  # called once per resample
    }[statistic]
    ref = np.median if statistic == "median" else np.std
    r = bootstrap_ci(x, ours_stat, n_resamples=20_000, method=ours)  # type: ignore[arg-type]
    low, high = _scipy_interval(x, ref, theirs)
    tol = 2.5 * _tolerance(x)  # medians of 60 values jump between order statistics
    assert r.estimate == pytest.approx(float(ref(x)))
    assert r.ci_low == pytest.approx(low, abs=tol)
    assert r.ci_high == pytest.approx(high, abs=tol)


def _ratings() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], p=[0.1, 0.2, 0.3, 0.25, 0.15], size=400)


@pytest.mark.parametrize(
    ("statistic", "method"), [("mean", "percentile"), ("mean", "bca"), ("median", "percentile")]
)
def test_discrete_data_matches_scipy(statistic: str, method: str) -> None:
    # Few distinct values take the multinomial-counts path; it must agree with resampling.
    x = _ratings()
    r = bootstrap_ci(x, statistic, n_resamples=20_000, method=method)  # type: ignore[arg-type]
    ref = np.mean if statistic == "mean" else np.median
    low, high = _scipy_interval(x, ref, "BCa" if method == "bca" else "percentile")
    assert r.ci_low == pytest.approx(low, abs=_tolerance(x))
    assert r.ci_high == pytest.approx(high, abs=_tolerance(x))


def test_bca_median_of_discrete_data_has_zero_acceleration() -> None:
    # Every leave-one-out median of 400 ratings is the same, so the jackknife acceleration
    # is 0/0; scipy returns nan there, we take a = 0 (bias correction only).
    x = _ratings()
    r = bootstrap_ci(x, "median", n_resamples=5000, method="bca")
    assert r.method == "bootstrap_bca"
    assert r.ci_low <= r.estimate == 3.0 <= r.ci_high
    assert {r.ci_low, r.ci_high} <= {2.0, 2.5, 3.0, 3.5, 4.0}


def test_bootstrap_mean_coverage_by_simulation() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    sims = 300
    for _ in range(sims):
        x = rng.normal(5.0, 3.0, size=30)
        r = bootstrap_ci(x, n_resamples=1000, rng=rng)
        covered += r.ci_low <= 5.0 <= r.ci_high
    assert 0.90 * sims <= covered <= 0.97 * sims


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=40
    ),
    statistic=st.sampled_from(["mean", "median"]),
    method=st.sampled_from(["percentile", "bca"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_bootstrap_properties(values: list[float], statistic: str, method: str, seed: int) -> None:
    x = np.array(values)
    r = bootstrap_ci(
        x, statistic, n_resamples=200, rng=np.random.default_rng(seed), method=method  # type: ignore[arg-type]
    )
    assert r.ci_low <= r.estimate <= r.ci_high
    slack = 1e-9 * max(1.0, float(np.abs(x).max()))
    assert x.min() - slack <= r.ci_low and r.ci_high <= x.max() + slack
    assert r.n == x.size


# --- clusters ------------------------------------------------------------------------


def test_cluster_bootstrap_is_wider_when_clusters_are_perfectly_correlated() -> None:
    rng = np.random.default_rng(5)
    per_cluster = rng.integers(0, 2, size=30).astype(float)
    values = np.repeat(per_cluster, 10)  # 10 identical items per cluster
    labels = np.repeat(np.arange(30), 10)
    naive = bootstrap_ci(values)
    clustered = bootstrap_ci(values, clusters=labels)
    assert clustered.estimate == naive.estimate
    ratio = (clustered.ci_high - clustered.ci_low) / (naive.ci_high - naive.ci_low)
    assert ratio > 2.5  # sqrt(10) ~ 3.2 in expectation
    assert clustered.method == "cluster_bootstrap_percentile"
    assert clustered.n == 300


@pytest.mark.parametrize(
    ("statistic", "reference"),
    [("mean", "mean"), ("median", "median"), (lambda row: float(np.mean(row)), "mean")],
)
def test_cluster_bootstrap_equals_bootstrap_of_cluster_values(statistic, reference) -> None:
    # Equal-sized clusters of identical items: resampling the clusters of the items is
    # resampling the per-cluster values, and both draw the same indices from the same seed.
    per_cluster = np.random.default_rng(8).normal(size=25)
    values = np.repeat(per_cluster, 4)
    labels = np.repeat([f"c{i:02d}" for i in range(25)], 4)
    a = bootstrap_ci(values, statistic, n_resamples=3000, clusters=labels, method="bca")
    b = bootstrap_ci(per_cluster, reference, n_resamples=3000, method="bca")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.ci_low == pytest.approx(b.ci_low, rel=1e-9)
    assert a.ci_high == pytest.approx(b.ci_high, rel=1e-9)
    assert a.n == 100 and b.n == 25


@pytest.mark.parametrize("statistic", ["mean", "median", np.mean])
def test_cluster_bca_runs_and_contains_estimate(statistic) -> None:
    rng = np.random.default_rng(9)
    values = rng.exponential(size=120)
    labels = np.repeat(np.arange(40), 3)
    r = bootstrap_ci(values, statistic, n_resamples=2000, clusters=labels, method="bca")
    assert r.method == "cluster_bootstrap_bca"
    assert r.ci_low < r.estimate < r.ci_high


def test_single_cluster_or_single_value_gives_a_point_interval() -> None:
    r = bootstrap_ci([1.0, 2.0, 3.0], clusters=["a", "a", "a"], method="bca")
    assert (r.ci_low, r.estimate, r.ci_high) == (2.0, 2.0, 2.0)
    r = bootstrap_ci([4.5], method="bca")
    assert (r.ci_low, r.estimate, r.ci_high, r.n) == (4.5, 4.5, 4.5, 1)


# --- reproducibility, chunking, jackknife ------------------------------------------------


def test_default_rng_is_reproducible_and_explicit_rng_is_used() -> None:
    x = _data("normal")
    assert bootstrap_ci(x) == bootstrap_ci(x)
    a = bootstrap_ci(x, rng=np.random.default_rng(1))
    assert a == bootstrap_ci(x, rng=np.random.default_rng(1))
    assert a != bootstrap_ci(x, rng=np.random.default_rng(2))


def test_threads_and_chunks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(4).normal(size=3000)
    monkeypatch.setattr(intervals, "_CHUNK_ELEMENTS", 50_000)  # 16 rows per chunk
    monkeypatch.setattr(intervals, "_PARALLEL_MIN_ELEMENTS", 10**12)
    sequential = bootstrap_ci(x, n_resamples=1000)
    monkeypatch.setattr(intervals, "_PARALLEL_MIN_ELEMENTS", 1)
    monkeypatch.setattr(intervals.os, "cpu_count", lambda: 4)
    threaded = bootstrap_ci(x, n_resamples=1000)
    assert threaded == sequential


@pytest.mark.parametrize("n", [2, 3, 4, 9, 10, 51])
def test_jackknife_median_matches_leave_one_out(n: int) -> None:
    x = np.random.default_rng(n).integers(0, 5, size=n).astype(float)  # with ties
    expected = [np.median(np.delete(x, i)) for i in range(n)]
    np.testing.assert_array_equal(intervals._jackknife_median(x), expected)


def test_large_bootstrap_is_fast_enough() -> None:
    import time

    x = np.random.default_rng(0).normal(size=20_000)
    start = time.perf_counter()
    bootstrap_ci(x, n_resamples=5_000)
    assert time.perf_counter() - start < 5.0


# --- validation and edge cases -------------------------------------------------------


def test_bootstrap_empty_is_nan() -> None:
    r = bootstrap_ci([])
    assert math.isnan(r.estimate) and math.isnan(r.ci_low) and math.isnan(r.ci_high)
    assert (r.n, r.method) == (0, "bootstrap_percentile")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"values": [1.0, math.nan]}, ValueError, "finite"),
        ({"values": [[1.0, 2.0]]}, ValueError, "one-dimensional"),
        ({"statistic": "mode"}, ValueError, "'mean', 'median' or a callable"),
        ({"statistic": 3}, TypeError, "'mean', 'median' or a callable"),
        ({"confidence": 1.5}, ValueError, "strictly between 0 and 1"),
        ({"n_resamples": 0}, ValueError, "at least 1"),
        ({"n_resamples": 10.5}, ValueError, "whole number"),
        ({"method": "bc"}, ValueError, "'percentile' or 'bca'"),
        ({"clusters": [1, 2]}, ValueError, "one label per value"),
        ({"rng": 3}, TypeError, "numpy.random.Generator"),
    ],
)
def test_bootstrap_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"values": [1.0, 2.0, 3.0], **kwargs}
    with pytest.raises(error, match=match):
        bootstrap_ci(**args)


# --- mean_ci -------------------------------------------------------------------------


def test_mean_ci_picks_the_interval_by_kind() -> None:
    binary = [1, 0, 1, 1, 0, 1, 1, 1]
    assert mean_ci(binary) == wilson_ci(6, 8)
    assert mean_ci(binary, "binary") == wilson_ci(6, 8)
    assert mean_ci(binary, "continuous").method == "bootstrap_percentile"
    assert mean_ci([0.5, 1.0, 0.25], "ordinal").method == "bootstrap_percentile"
    assert mean_ci([0.5, 1.0, 0.25]).method == "bootstrap_percentile"
    assert mean_ci([0.5, 1.0, 0.25], method="bca").method == "bootstrap_bca"
    clustered = mean_ci(binary, "binary", clusters=[0, 0, 1, 1, 2, 2, 3, 3])
    assert clustered.method == "cluster_bootstrap_percentile"
    assert mean_ci([]).n == 0


def test_mean_ci_rejects_bad_kind_and_non_binary_values() -> None:
    with pytest.raises(ValueError, match="0 or 1; got 0.5"):
        mean_ci([1, 0.5], "binary")
    with pytest.raises(ValueError, match="kind must be"):
        mean_ci([1, 0], "boolean")


def test_stat_result_is_frozen_and_slotted() -> None:
    r = StatResult(0.5, 0.4, 0.6, 10, "wilson")
    with pytest.raises(AttributeError):
        r.estimate = 1.0  # type: ignore[misc]
    assert not hasattr(r, "__dict__")
    assert evalstack.stats.__all__ == [
        "Adjusted", "Cohort", "ConfusionRates", "PassAtK", "PowerResult", "StatResult",
        "WindowStat", "average_precision", "benjamini_hochberg", "bootstrap_ci",
        "clustered_se", "cohen_kappa", "confusion_rates", "decline_test", "fleiss_kappa",
        "hit_rate_at_k", "holm", "krippendorff_alpha", "mcnemar", "mean_ci",
        "minimum_detectable_effect", "mrr", "ndcg_at_k", "noninferiority", "paired_bootstrap",
        "paired_permutation", "pass_at_k", "pass_at_k_by_problem", "ppi_mean",
        "precision_at_k", "recall_at_k", "retention_cohorts", "retrieval_summary",
        "sample_size_noninferiority", "sample_size_paired", "sample_size_unpaired",
        "wilcoxon_signed_rank", "wilson_ci", "wilson_rate", "window_at", "window_index",
        "window_start", "windowed_mean", "windowed_rate",
    ]
    assert StatResult(0.5, 0.4, 0.6, 10, "wilson").se is None  # se is optional


# --- the layer boundary --------------------------------------------------------------


def test_stats_imports_nothing_from_evalstack_outside_stats() -> None:
    package_dir = Path(evalstack.stats.__file__).resolve().parent.parent
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys, types

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                inside = name == "evalstack.stats" or name.startswith("evalstack.stats.")
                if name.startswith("evalstack.") and not inside:
                    raise ImportError("stats must not import " + name)
                return None

        sys.meta_path.insert(0, Block())
        # An empty parent package, so evalstack/__init__.py (which may import core) is skipped.
        parent = types.ModuleType("evalstack")
        parent.__path__ = [{str(package_dir)!r}]
        sys.modules["evalstack"] = parent

        import evalstack.stats as s
        import evalstack.stats.intervals, evalstack.stats.result
        import evalstack.stats.clustered, evalstack.stats.paired, evalstack.stats.power
        import evalstack.stats.multiple, evalstack.stats.noninferiority
        s.bootstrap_ci([1.0, 2.0, 4.0], n_resamples=50, method="bca")
        s.mean_ci([1, 0, 1])
        s.holm([0.01, 0.2])
        s.sample_size_paired(0.05, 0.15)
        leaked = sorted(m for m in sys.modules
                        if m.startswith("evalstack.") and not m.startswith("evalstack.stats"))
        assert not leaked, leaked
        assert "scipy" not in sys.modules, "stats must not import scipy at import time"
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
