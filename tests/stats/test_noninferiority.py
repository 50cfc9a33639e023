"""Non-inferiority against statsmodels' z-test, the Agresti-Min interval and clustered SEs."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.weightstats import ztest

from evalstack.stats import clustered_se, mcnemar, noninferiority

NORMAL = NormalDist()


def _continuous(n: int = 120, shift: float = -0.01, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(size=n)
    return a, np.clip(a + shift + rng.normal(0, 0.1, n), 0, 1)


def _binary(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = (rng.uniform(size=n) < 0.8).astype(int)
    flip = rng.uniform(size=n) < 0.08  # 8% discordant, slightly more losses than wins
    b = np.where(flip, 1 - a, a)
    return a, b


@pytest.mark.parametrize("margin", [0.0, 0.01, 0.03, 0.1])
@pytest.mark.parametrize("alpha", [0.05, 0.025, 0.1])
def test_z_equals_statsmodels_ztest(margin: float, alpha: float) -> None:
    a, b = _continuous()
    d = b - a
    r = noninferiority(a, b, margin, alpha)
    stat, p = ztest(d, value=-margin, alternative="larger")
    assert r.p_value == pytest.approx(p, abs=1e-12)
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert r.se == pytest.approx(se, rel=1e-12)
    assert (r.estimate + margin) / r.se == pytest.approx(stat, rel=1e-12)
    z = NORMAL.inv_cdf(1 - alpha)
    assert (r.ci_low, r.ci_high) == pytest.approx((d.mean() - z * se, d.mean() + z * se))
    assert (r.method, r.n) == ("noninferiority_z", d.size)
    assert (r.p_value < alpha) == (r.ci_low > -margin)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha", [0.05, 0.025])
def test_binary_uses_the_agresti_min_interval(seed: int, alpha: float) -> None:
    a, b = _binary(seed=seed)
    margin = 0.03
    r = noninferiority(a, b, margin, alpha)
    ref = mcnemar(a, b, confidence=1 - 2 * alpha)  # the same interval, two-sided
    assert (r.estimate, r.ci_low, r.ci_high, r.se) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high, ref.se), abs=1e-12
    )
    n = a.size
    n01, n10 = int(np.sum((a == 0) & (b == 1))), int(np.sum((a == 1) & (b == 0)))
    center = (n01 - n10) / (n + 2)
    se = math.sqrt((n01 + n10 + 1) - (n01 - n10) ** 2 / (n + 2)) / (n + 2)
    assert r.p_value == pytest.approx(1 - NORMAL.cdf((center + margin) / se), abs=1e-12)
    assert r.method == "noninferiority_agresti_min"


def test_kind_chooses_the_method() -> None:
    a, b = _binary()
    assert noninferiority(a, b, 0.02, kind="binary").method == "noninferiority_agresti_min"
    assert noninferiority(a, b, 0.02, kind="continuous").method == "noninferiority_z"
    assert noninferiority(a, b, 0.02, kind="ordinal").method == "noninferiority_z"
    with pytest.raises(ValueError, match="b must hold 0/1 outcomes only; got 0.5"):
        noninferiority([1, 0], [1, 0.5], 0.02, kind="binary")
    with pytest.raises(ValueError, match="kind must be"):
        noninferiority(a, b, 0.02, kind="boolean")


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_clustered_uses_clustered_se_and_t(alpha: float) -> None:
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(25), rng.integers(1, 6, 25))
    a, b = _continuous(groups.size, seed=5)
    b = b + rng.normal(0, 0.05, 25)[groups]
    d = b - a
    margin = 0.02
    r = noninferiority(a, b, margin, alpha, clusters=groups)
    fit = sm.OLS(d, np.ones(d.size)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert r.se == pytest.approx(fit.bse[0], rel=1e-9)
    ref = clustered_se(d, groups, confidence=1 - 2 * alpha)
    assert (r.ci_low, r.ci_high, r.se) == pytest.approx((ref.ci_low, ref.ci_high, ref.se))
    from scipy import stats

    assert r.p_value == pytest.approx(stats.t.sf((d.mean() + margin) / r.se, 24), abs=1e-12)
    assert (r.p_value < alpha) == (r.ci_low > -margin)
    assert r.method == "noninferiority_clustered"
    a01, b01 = _binary(groups.size)
    binary = noninferiority(a01, b01, margin, clusters=groups)
    assert binary.method == "noninferiority_clustered"


def test_edges() -> None:
    same = noninferiority([0.2, 0.4, 0.6], [0.2, 0.4, 0.6], 0.01)
    assert (same.estimate, same.se, same.p_value) == (0.0, 0.0, 0.0)  # no doubt at all
    worse = noninferiority([0.5, 0.5], [0.4, 0.4], 0.05)
    assert worse.p_value == 1.0
    one = noninferiority([0.5], [0.4], 0.05)
    assert one.estimate == pytest.approx(-0.1) and math.isnan(one.p_value)
    assert noninferiority([1], [0], 0.05).p_value > 0.5  # binary: Agresti-Min works at n=1
    empty = noninferiority([], [], 0.05)
    assert math.isnan(empty.estimate) and math.isnan(empty.p_value) and empty.n == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"margin": -0.01}, "margin must be a non-negative number"),
        ({"margin": math.inf}, "margin must be a non-negative number"),
        ({"alpha": 0.5}, "strictly between 0 and 0.5"),
        ({"alpha": 0.0}, "strictly between 0 and 0.5"),
        ({"b": [1.0]}, r"len\(a\)=2 and len\(b\)=1"),
        ({"clusters": [1]}, "one label per value"),
    ],
)
def test_rejects_bad_input(kwargs, match) -> None:
    args = {"a": [0.1, 0.2], "b": [0.2, 0.1], "margin": 0.05, **kwargs}
    with pytest.raises(ValueError, match=match):
        noninferiority(**args)


def test_type_one_error_at_the_margin() -> None:
    # True difference exactly -margin: H0 holds (at its boundary), so about 5% reject.
    rng = np.random.default_rng(77)
    sims, n, margin = 2000, 150, 0.05
    rejected = 0
    zeros = np.zeros(n)
    for _ in range(sims):
        rejected += noninferiority(zeros, rng.normal(-margin, 0.3, n), margin).p_value < 0.05
    assert rejected / sims <= 0.06


@settings(max_examples=200, deadline=None)
@given(
    cells=st.tuples(*[st.integers(0, 80)] * 4).filter(lambda c: sum(c) > 0),
    margin=st.floats(0, 0.3),
    alpha=st.floats(0.01, 0.2),
)
def test_binary_properties(cells, margin, alpha) -> None:
    n11, n10, n01, n00 = cells
    a = np.repeat([1, 1, 0, 0], cells)
    b = np.repeat([1, 0, 1, 0], cells)
    r = noninferiority(a, b, margin, alpha)
    assert -1 <= r.ci_low <= r.estimate <= r.ci_high <= 1
    assert 0 <= r.p_value <= 1
    # The test and the lower bound agree (away from rounding at the boundary).
    if abs(r.ci_low + margin) > 1e-9:
        assert (r.p_value < alpha) == (r.ci_low > -margin)
    # A larger margin is easier to meet.
    assert noninferiority(a, b, margin + 0.05, alpha).p_value <= r.p_value
