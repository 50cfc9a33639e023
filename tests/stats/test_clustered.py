"""The cluster-robust standard error against statsmodels' cluster-robust OLS."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evalstack.stats import clustered_se


def _clustered_data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    seed = {"balanced": 1, "unbalanced": 2, "binary": 3, "singletons": 4}[kind]
    rng = np.random.default_rng(seed)
    if kind == "singletons":
        return rng.normal(size=50), np.arange(50)
    sizes = rng.integers(1, 9, size=40) if kind != "balanced" else np.full(40, 5)
    groups = np.repeat(np.arange(sizes.size), sizes)
    effect = rng.normal(size=sizes.size)[groups]
    if kind == "binary":
        return (rng.uniform(size=groups.size) < 0.5 + 0.3 * np.tanh(effect)).astype(float), groups
    return 2.0 + effect + rng.normal(size=groups.size), groups


@pytest.mark.parametrize("kind", ["balanced", "unbalanced", "binary", "singletons"])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_equals_statsmodels_cluster_robust_ols(kind: str, confidence: float) -> None:
    values, groups = _clustered_data(kind)
    fit = sm.OLS(values, np.ones(values.size)).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
    )
    r = clustered_se(values, groups, confidence)
    assert r.estimate == pytest.approx(fit.params[0], rel=1e-12)
    assert r.se == pytest.approx(fit.bse[0], rel=1e-9)
    # statsmodels also uses t with G - 1 degrees of freedom for clustered inference.
    low, high = fit.conf_int(alpha=1 - confidence)[0]
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert (r.n, r.method, r.p_value) == (values.size, "clustered_se", None)


def test_singleton_clusters_give_the_usual_standard_error() -> None:
    values, groups = _clustered_data("singletons")
    r = clustered_se(values, groups)
    assert r.se == pytest.approx(values.std(ddof=1) / math.sqrt(values.size), rel=1e-12)
    half = stats.t.ppf(0.975, values.size - 1) * r.se
    assert r.ci_high - r.estimate == pytest.approx(half, rel=1e-12)


def test_correlated_clusters_widen_the_interval() -> None:
    rng = np.random.default_rng(3)
    per_cluster = rng.normal(size=30)
    values = np.repeat(per_cluster, 10)  # ten identical items per cluster
    r = clustered_se(values, np.repeat(np.arange(30), 10))
    naive = values.std(ddof=1) / math.sqrt(values.size)
    assert r.se / naive > 2.5  # ~sqrt(10)


def test_labels_of_any_sortable_kind() -> None:
    values = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0]
    by_int = clustered_se(values, [0, 0, 1, 1, 2, 2])
    by_str = clustered_se(values, ["b", "b", "a", "a", "c", "c"])
    assert by_int == by_str


def test_one_cluster_and_empty() -> None:
    r = clustered_se([1.0, 2.0, 3.0], ["x", "x", "x"])
    assert r.estimate == 2.0 and math.isnan(r.se) and math.isnan(r.ci_low)
    e = clustered_se([], [])
    assert math.isnan(e.estimate) and math.isnan(e.se) and e.n == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"clusters": None}, TypeError, "got None"),
        ({"clusters": [0, 1]}, ValueError, "got 2 labels for 3 values"),
        ({"values": [1.0, math.nan, 2.0]}, ValueError, "finite"),
        ({"confidence": 1.0}, ValueError, "strictly between 0 and 1"),
    ],
)
def test_rejects_bad_input(kwargs, error, match) -> None:
    args = {"values": [1.0, 2.0, 3.0], "clusters": [0, 0, 1], **kwargs}
    with pytest.raises(error, match=match):
        clustered_se(**args)


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(-1e3, 1e3), st.integers(0, 6)), min_size=2, max_size=40
    ),
    confidence=st.floats(0.5, 0.999),
)
def test_properties(data, confidence) -> None:
    values = np.array([v for v, _ in data])
    groups = np.array([g for _, g in data])
    r = clustered_se(values, groups, confidence)
    if np.unique(groups).size < 2:
        assert math.isnan(r.se)
        return
    assert r.ci_low <= r.estimate <= r.ci_high
    assert r.ci_high - r.estimate == pytest.approx(r.estimate - r.ci_low, abs=1e-9)
    # Shifting every value shifts the interval and leaves the standard error alone.
    shifted = clustered_se(values + 10.0, groups, confidence)
    assert shifted.se == pytest.approx(r.se, rel=1e-6, abs=1e-9)
