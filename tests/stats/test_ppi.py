"""Prediction-powered means: coverage by simulation, the formulas written out, bad inputs."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalstack.stats import mean_ci, ppi_mean

Z95 = NormalDist().inv_cdf(0.975)

# The simulated evaluation: humans pass 60% of items; the judge agrees with them on 85%
# of items and errs towards passing (it passes 95% of what humans pass and 30% of what
# they fail), so the judge's mean is 0.69, not 0.6.
TRUE_MEAN = 0.6
P_JUDGE_PASS_GIVEN_PASS = 0.95
P_JUDGE_PASS_GIVEN_FAIL = 0.30
N_UNLABELED, N_LABELED, N_DATASETS = 2000, 200, 2000


def _binary_datasets(seed: int = 20231110) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Judge scores on unlabelled items, and judge and human scores on labelled ones."""
    rng = np.random.default_rng(seed)
    shape = (N_DATASETS, N_UNLABELED + N_LABELED)
    human = (rng.random(shape) < TRUE_MEAN).astype(float)
    p_pass = np.where(human == 1, P_JUDGE_PASS_GIVEN_PASS, P_JUDGE_PASS_GIVEN_FAIL)
    judge = (rng.random(shape) < p_pass).astype(float)
    # The labelled items are the last N_LABELED of i.i.d. items: a uniform random subset.
    return judge[:, :N_UNLABELED], judge[:, N_UNLABELED:], human[:, N_UNLABELED:]


@pytest.fixture(scope="module")
def binary_study() -> dict[str, np.ndarray]:
    f_u, f_l, y = _binary_datasets()
    out: dict[str, list[tuple[float, float]]] = {"ppi": [], "ppi++": [], "judge": [], "human": []}
    for i in range(N_DATASETS):
        for method, tuned in (("ppi", False), ("ppi++", True)):
            r = ppi_mean(f_u[i], f_l[i], y[i], power_tuning=tuned)
            assert r.method == method
            out[method].append((r.ci_low, r.ci_high))
        judge_all = np.concatenate((f_u[i], f_l[i]))
        r = mean_ci(judge_all)  # Wilson on all the judge's scores: the judge-only number
        out["judge"].append((r.ci_low, r.ci_high))
        r = mean_ci(y[i])  # Wilson on the human labels alone
        out["human"].append((r.ci_low, r.ci_high))
    return {k: np.array(v) for k, v in out.items()}


def _coverage(intervals: np.ndarray, truth: float = TRUE_MEAN) -> float:
    return float(np.mean((intervals[:, 0] <= truth) & (truth <= intervals[:, 1])))


def _mean_width(intervals: np.ndarray) -> float:
    return float(np.mean(intervals[:, 1] - intervals[:, 0]))


# --- coverage by simulation ------------------------------------------------------------


@pytest.mark.parametrize("method", ["ppi", "ppi++"])
def test_ppi_interval_covers_the_human_mean_about_95_percent(
    binary_study: dict[str, np.ndarray], method: str
) -> None:
    # 2,000 datasets: the Monte Carlo standard error of a 95% coverage is about 0.5 points.
    assert 0.93 <= _coverage(binary_study[method]) <= 0.97


def test_judge_only_interval_misses_the_human_mean(binary_study: dict[str, np.ndarray]) -> None:
    # The judge's interval is narrow and centred on 0.69: it is an interval for the judge.
    assert _coverage(binary_study["judge"]) < 0.5
    assert _coverage(binary_study["judge"], truth=0.69) > 0.9


def test_ppi_plus_plus_is_no_wider_than_human_labels_alone(
    binary_study: dict[str, np.ndarray],
) -> None:
    human_width = _mean_width(binary_study["human"])
    assert _mean_width(binary_study["ppi++"]) <= human_width
    # Power tuning never does worse than classic PPI on average.
    assert _mean_width(binary_study["ppi++"]) <= _mean_width(binary_study["ppi"]) + 1e-12


def test_continuous_scores_with_a_nonlinear_judge_are_covered() -> None:
    # 1-10 ratings: the judge compresses the scale, adds noise and rounds.
    rng = np.random.default_rng(7)
    datasets, big_n, n = 1000, 1000, 100
    human = rng.normal(6.0, 2.0, size=(datasets, big_n + n))
    judge = np.round(np.clip(5.0 + 0.5 * human + rng.normal(0, 1.0, human.shape), 1, 10))
    for tuned in (False, True):
        hits = 0
        for i in range(datasets):
            r = ppi_mean(judge[i, :big_n], judge[i, big_n:], human[i, big_n:], power_tuning=tuned)
            hits += r.ci_low <= 6.0 <= r.ci_high
        assert 0.93 <= hits / datasets <= 0.97


# --- the formulas, written out ---------------------------------------------------------


def _small_example() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    f_u = rng.random(50)
    f_l = rng.random(12)
    y = np.clip(f_l + rng.normal(0.1, 0.2, 12), 0, 1)
    return f_u, f_l, y


def test_classic_ppi_matches_the_formula() -> None:
    f_u, f_l, y = _small_example()
    r = ppi_mean(f_u, f_l, y, power_tuning=False)
    assert r.estimate == pytest.approx(f_u.mean() + (y - f_l).mean(), rel=1e-14)
    se = math.sqrt(f_u.var(ddof=1) / f_u.size + (y - f_l).var(ddof=1) / y.size)
    assert r.se == pytest.approx(se, rel=1e-14)
    assert (r.ci_low, r.ci_high) == pytest.approx((r.estimate - Z95 * se, r.estimate + Z95 * se))
    assert (r.n, r.method, r.p_value) == (12, "ppi", None)


def test_ppi_plus_plus_matches_the_formula() -> None:
    f_u, f_l, y = _small_example()
    n, big_n = y.size, f_u.size
    lam = np.cov(y, f_l)[0, 1] / ((1 + n / big_n) * np.concatenate((f_l, f_u)).var(ddof=1))
    lam = float(np.clip(lam, 0, 1))
    assert 0 < lam < 1  # the example exercises an unclipped weight
    r = ppi_mean(f_u, f_l, y)
    assert r.estimate == pytest.approx(lam * f_u.mean() + (y - lam * f_l).mean(), rel=1e-14)
    se = math.sqrt(lam**2 * f_u.var(ddof=1) / big_n + (y - lam * f_l).var(ddof=1) / n)
    assert r.se == pytest.approx(se, rel=1e-14)
    assert r.method == "ppi++"


def test_useless_judge_gives_the_human_only_estimate() -> None:
    # A constant judge, or one negatively correlated with the humans, gets weight 0.
    y = np.array([1.0, 0, 1, 1, 0, 1, 0, 1])
    for f_l, f_u in (
        (np.full(8, 0.7), np.full(40, 0.7)),
        (1 - y, np.tile([0.0, 1.0], 20)),
    ):
        r = ppi_mean(f_u, f_l, y)
        assert r.estimate == pytest.approx(y.mean())
        assert r.se == pytest.approx(y.std(ddof=1) / math.sqrt(y.size))


def test_perfect_judge_gives_the_judge_mean() -> None:
    f_l = np.array([1.0, 0, 1, 1, 0])
    f_u = np.array([1.0, 1, 0, 1])
    r = ppi_mean(f_u, f_l, f_l, power_tuning=False)
    assert r.estimate == pytest.approx(f_u.mean())


def test_confidence_level_changes_only_the_width() -> None:
    f_u, f_l, y = _small_example()
    r95, r80 = ppi_mean(f_u, f_l, y), ppi_mean(f_u, f_l, y, confidence=0.8)
    assert (r80.estimate, r80.se) == (r95.estimate, r95.se)
    assert r95.ci_low < r80.ci_low < r80.ci_high < r95.ci_high


_scores = st.lists(
    st.floats(-100, 100, allow_nan=False, allow_infinity=False), min_size=2, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(
    f_u=_scores,
    labelled=st.lists(
        st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=2, max_size=30
    ),
    shift=st.floats(-50, 50),
    tuned=st.booleans(),
)
def test_a_constant_judge_bias_is_removed_exactly(
    f_u: list[float], labelled: list[tuple[float, float]], shift: float, tuned: bool
) -> None:
    f_l = np.array([p[0] for p in labelled])
    y = np.array([p[1] for p in labelled])
    r = ppi_mean(f_u, f_l, y, power_tuning=tuned)
    shifted = ppi_mean(np.add(f_u, shift), f_l + shift, y, power_tuning=tuned)
    scale = 1 + abs(shift) + max(abs(v) for v in [*f_u, *f_l, *y])
    assert shifted.estimate == pytest.approx(r.estimate, abs=1e-9 * scale)
    assert r.ci_low <= r.estimate <= r.ci_high


# --- bad inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1, 0, 1], [1, 0, 1], [1, 0]), {}, "got 3 judge scores and 2 human scores"),
        (
            ([1, 0, 1], [1], [1]),
            {},
            "at least 2 human-labelled items to measure the judge.s error; got 1",
        ),
        (([1], [1, 0], [1, 1]), {}, r"at least 2 judge-only \(unlabelled\) items; got 1"),
        (([1, 0, math.nan], [1, 0], [1, 1]), {}, "judge_unlabeled must be finite"),
        (([1, 0], [1, 0], [1, math.inf]), {}, "human_labeled must be finite"),
        (([[1, 0]], [1, 0], [1, 1]), {}, "judge_unlabeled must be one-dimensional"),
        (([1, 0], [1, 0], [1, 1]), {"confidence": 95}, "strictly between 0 and 1"),
    ],
)
def test_bad_inputs_are_rejected_with_the_fix(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ppi_mean(*args, **kwargs)


def test_power_tuning_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="power_tuning must be True"):
        ppi_mean([1, 0], [1, 0], [1, 1], power_tuning="yes")  # type: ignore[arg-type]
