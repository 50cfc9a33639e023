"""Sample sizes: textbook figures, statsmodels, their inverses, and power by simulation."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    samplesize_proportions_2indep_onetail,
)

from evalstack.stats import (
    PowerResult,
    mcnemar,
    minimum_detectable_effect,
    noninferiority,
    sample_size_noninferiority,
    sample_size_paired,
    sample_size_unpaired,
)

Z = NormalDist().inv_cdf

# --- textbook figures ----------------------------------------------------------------------


def test_textbook_unpaired() -> None:
    # Fleiss et al. (2003) without continuity correction: 0.50 vs 0.55, 5% two-sided, 80%.
    r = sample_size_unpaired(0.5, 0.05)
    assert r.n == 1565
    assert r.estimate == pytest.approx(1564.67, abs=0.01)
    assert (r.alpha, r.power, r.method) == (0.05, 0.8, "two_proportions_fleiss")


def test_textbook_paired() -> None:
    # Connor (1987): delta 0.05 with 15% discordant pairs needs about 470 pairs.
    r = sample_size_paired(0.05, 0.15)
    assert r.n == 469
    assert r.estimate == pytest.approx(468.57, abs=0.01)
    assert r.method == "mcnemar_connor"
    # Pairing pays: the unpaired design needs 3.3 times as many samples per arm.
    assert sample_size_unpaired(0.7, 0.05).n > 2.5 * r.n


# --- against statsmodels and the formulas ----------------------------------------------------

UNPAIRED = [
    (p1, delta, alpha, power)
    for p1 in (0.05, 0.3, 0.5, 0.8)
    for delta in (0.01, 0.05, -0.04, 0.15)
    for alpha, power in ((0.05, 0.8), (0.01, 0.9), (0.1, 0.5))
    if 0 < p1 + delta < 1
]


@pytest.mark.parametrize(("p1", "delta", "alpha", "power"), UNPAIRED)
def test_unpaired_equals_statsmodels(p1, delta, alpha, power) -> None:
    r = sample_size_unpaired(p1, delta, alpha, power)
    expected = samplesize_proportions_2indep_onetail(
        diff=delta, prop2=p1, power=power, alpha=alpha, alternative="two-sided"
    )
    assert r.estimate == pytest.approx(expected, rel=1e-9)
    assert r.n == math.ceil(expected)
    # At the unrounded n, statsmodels' power (which adds the negligible far tail) is ~power.
    achieved = power_proportions_2indep(
        delta, p1, r.estimate, alpha=alpha, alternative="two-sided", return_results=False
    )
    far_tail = NormalDist().cdf(-Z(1 - alpha / 2) * 2)  # generous bound on the other tail
    assert power - 1e-9 <= achieved <= power + far_tail


PAIRED = [
    (delta, psi, alpha, power)
    for psi in (0.05, 0.15, 0.4, 1.0)
    for delta in (0.01, 0.05, -0.03, 0.2)
    for alpha, power in ((0.05, 0.8), (0.01, 0.95))
    if abs(delta) <= psi
]


@pytest.mark.parametrize(("delta", "psi", "alpha", "power"), PAIRED)
def test_paired_equals_connor_formula(delta, psi, alpha, power) -> None:
    r = sample_size_paired(delta, psi, alpha, power)
    za, zb = Z(1 - alpha / 2), Z(power)
    expected = (za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2
    assert r.estimate == pytest.approx(expected, rel=1e-12)
    assert r.n == math.ceil(expected)


@pytest.mark.parametrize(
    ("margin", "sd", "alpha", "power", "expected_delta"),
    [(0.1, 0.5, 0.05, 0.8, 0.0), (0.02, 0.3, 0.025, 0.9, 0.01), (0.0, 1.0, 0.05, 0.8, 0.2),
     (0.05, 0.39, 0.1, 0.7, -0.01)],
)
def test_noninferiority_equals_statsmodels(margin, sd, alpha, power, expected_delta) -> None:
    r = sample_size_noninferiority(margin, sd, alpha, power, expected_delta)
    effect = (margin + expected_delta) / sd
    solver = NormalIndPower()
    # ratio=0 makes NormalIndPower a one-sample z-test.
    achieved = solver.power(effect, nobs1=r.estimate, alpha=alpha, ratio=0, alternative="larger")
    assert achieved == pytest.approx(power, abs=1e-9)
    solved = solver.solve_power(
        effect, nobs1=None, alpha=alpha, power=power, ratio=0, alternative="larger"
    )
    assert r.estimate == pytest.approx(solved, rel=1e-6)
    assert r.n == math.ceil(r.estimate - 1e-6)
    assert r.method == "noninferiority_z"


def test_noninferiority_known_value() -> None:
    # ((1.6449 + 0.8416) * 0.5 / 0.1)^2 = 154.6 (Chow et al. 2008, sec. 3.1).
    assert sample_size_noninferiority(0.1, 0.5).n == 155


# --- minimum detectable effect: the inverse -------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=20, max_value=100_000),
    p=st.floats(min_value=0.02, max_value=0.9),
    power=st.sampled_from([0.5, 0.8, 0.9]),
)
def test_mde_inverts_unpaired(n: int, p: float, power: float) -> None:
    try:
        r = minimum_detectable_effect(n, p, power=power)
    except ValueError as err:  # too small to detect anything up to 1 - p
        assert "too small" in str(err)
        return
    assert 0 < r.estimate <= 1 - p
    assert (r.n, r.method) == (n, "mde_two_proportions_fleiss")
    back = sample_size_unpaired(p, min(r.estimate, 1 - p - 1e-12), power=power)
    assert back.estimate == pytest.approx(n, rel=1e-6)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=10, max_value=100_000),
    p=st.floats(min_value=0.05, max_value=0.9),
    psi=st.floats(min_value=0.02, max_value=0.6),
)
def test_mde_inverts_paired(n: int, p: float, psi: float) -> None:
    try:
        r = minimum_detectable_effect(n, p, paired=True, discordance=psi)
    except ValueError as err:
        assert "too small" in str(err)
        return
    assert 0 < r.estimate <= min(psi, 1 - p)
    assert r.method == "mde_mcnemar_connor"
    back = sample_size_paired(r.estimate, psi)
    if r.estimate < min(psi, 1 - p):  # else n was more than the largest delta needs
        assert back.estimate == pytest.approx(n, rel=1e-6)


def test_mde_textbook_inverses() -> None:
    assert minimum_detectable_effect(1565, 0.5).estimate == pytest.approx(0.05, abs=2e-5)
    r = minimum_detectable_effect(469, 0.7, paired=True, discordance=0.15)
    assert r.estimate == pytest.approx(0.05, abs=5e-5) and r.n == 469
    # More samples detect smaller effects.
    assert minimum_detectable_effect(4 * 1565, 0.5).estimate < 0.026


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sample_size_unpaired(0.0, 0.05), r"p1 must be strictly between 0 and 1"),
        (lambda: sample_size_unpaired(0.5, 0.0), r"delta must be nonzero"),
        (lambda: sample_size_unpaired(0.9, 0.1), r"range is \(-0.9, 0.1\)"),
        (lambda: sample_size_unpaired(0.5, 0.05, alpha=1.5), "alpha must be strictly"),
        (lambda: sample_size_unpaired(0.5, 0.05, power=1.0), "power must be strictly"),
        (lambda: sample_size_unpaired(0.5, math.nan), "delta must be a finite number"),
        (lambda: sample_size_paired(0.2, 0.15), r"\|delta\| <= 0.15"),
        (lambda: sample_size_paired(0.05, 0.0), r"discordance must be in \(0, 1\]"),
        (lambda: sample_size_paired(0.0, 0.1), "delta must be nonzero"),
        (lambda: sample_size_noninferiority(-0.1, 0.5), "margin must be non-negative"),
        (lambda: sample_size_noninferiority(0.1, 0.0), "sd must be positive"),
        (lambda: sample_size_noninferiority(0.1, 0.5, expected_delta=-0.2),
         "margin \\+ expected_delta must be positive"),
        (lambda: minimum_detectable_effect(0, 0.5), "n must be at least 1"),
        (lambda: minimum_detectable_effect(100, 1.0), "p must be strictly between 0 and 1"),
        (lambda: minimum_detectable_effect(100, 0.5, paired=True), "needs discordance"),
        (lambda: minimum_detectable_effect(100, 0.5, discordance=0.2), "only used with paired"),
        (lambda: minimum_detectable_effect(3, 0.5), r"n=3 is too small.*needs n >= \d+"),
        (lambda: minimum_detectable_effect(5, 0.5, paired=True, discordance=0.1), "too small"),
    ],
)
def test_rejects_bad_arguments(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_mde_rejects_fractional_n() -> None:
    with pytest.raises(TypeError, match="whole number"):
        minimum_detectable_effect(100.5, 0.5)  # type: ignore[arg-type]


def test_power_result_is_frozen() -> None:
    r = sample_size_paired(0.05, 0.15)
    assert isinstance(r, PowerResult)
    with pytest.raises(AttributeError):
        r.n = 1  # type: ignore[misc]


# --- the planned n has the planned power, by simulation ---------------------------------------

SIMS = 200_000  # counts only: cheap. Monte Carlo SE of a power near 0.8 is about 0.001.


def test_unpaired_n_gives_80_percent_power() -> None:
    n = sample_size_unpaired(0.5, 0.05).n
    rng = np.random.default_rng(101)
    x1 = rng.binomial(n, 0.5, SIMS)
    x2 = rng.binomial(n, 0.55, SIMS)
    pooled = (x1 + x2) / (2 * n)
    z = (x2 - x1) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    rejected = np.abs(z) > Z(0.975)
    assert rejected.mean() >= 0.797  # 0.800 in theory


def _paired_counts(n: int, p01: float, p10: float, sims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, [p01, p10, 1 - p01 - p10], size=sims)[:, :2]


def _mcnemar_on_counts(counts: np.ndarray, **kwargs) -> np.ndarray:
    """Our mcnemar's p-value for each row (n01, n10), called once per distinct row."""
    distinct, inverse = np.unique(counts, axis=0, return_inverse=True)
    p = np.empty(len(distinct))
    for k, (n01, n10) in enumerate(distinct):
        a = np.r_[np.zeros(n01), np.ones(n10)]
        b = np.r_[np.ones(n01), np.zeros(n10)]
        p[k] = mcnemar(a, b, **kwargs).p_value
    return p[inverse.reshape(-1)]


def test_paired_n_gives_80_percent_power() -> None:
    # delta = p01 - p10 = 0.05 and psi = p01 + p10 = 0.15.
    n = sample_size_paired(0.05, 0.15).n
    counts = _paired_counts(n, 0.10, 0.05, SIMS, seed=102)
    n01, n10 = counts[:, 0], counts[:, 1]
    # Connor's formula is for McNemar's test without continuity correction.
    z = (n01 - n10) / np.sqrt(np.maximum(n01 + n10, 1))
    assert (np.abs(z) > Z(0.975)).mean() >= 0.797
    # mcnemar's own (continuity-corrected) test is a little more conservative, as its
    # docstring says: about 77%.
    corrected = (_mcnemar_on_counts(counts[:20_000]) < 0.05).mean()
    assert 0.75 <= corrected < 0.80


def test_noninferiority_n_gives_80_percent_power() -> None:
    n = sample_size_noninferiority(0.1, 0.5).n
    rng = np.random.default_rng(103)
    sims = 4000
    d = rng.normal(0.0, 0.5, size=(sims, n))
    zeros = np.zeros(n)
    rejected = sum(noninferiority(zeros, row, margin=0.1).p_value < 0.05 for row in d)
    assert rejected / sims >= 0.78  # 0.80 in theory; Monte Carlo SE 0.006
