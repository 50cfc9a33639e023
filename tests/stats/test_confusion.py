"""Confusion-matrix rates: counts by hand, Wilson intervals against statsmodels."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from evalstack.stats import ConfusionRates, StatResult, confusion_rates, wilson_ci

RATES = (
    "false_positive_rate",
    "false_negative_rate",
    "true_positive_rate",
    "true_negative_rate",
    "precision",
    "accuracy",
)


def _fractions(r: ConfusionRates) -> dict[str, tuple[int, int]]:
    """Each rate's numerator and denominator, from the definitions."""
    return {
        "false_positive_rate": (r.fp, r.fp + r.tn),
        "false_negative_rate": (r.fn, r.fn + r.tp),
        "true_positive_rate": (r.tp, r.tp + r.fn),
        "true_negative_rate": (r.tn, r.tn + r.fp),
        "precision": (r.tp, r.tp + r.fp),
        "accuracy": (r.tp + r.tn, r.n),
    }


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
@pytest.mark.parametrize("seed", range(10))
def test_intervals_equal_statsmodels_wilson(seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n = int(rng.integers(1, 400))
        actual = rng.random(n) < rng.random()
        # A classifier of random quality: each decision is right with probability `skill`.
        skill = rng.random()
        predicted = np.where(rng.random(n) < skill, actual, ~actual)
        r = confusion_rates(list(predicted), list(actual), confidence)
        assert r.tp == int(np.sum(predicted & actual))
        assert r.fp == int(np.sum(predicted & ~actual))
        assert r.tn == int(np.sum(~predicted & ~actual))
        assert r.fn == int(np.sum(~predicted & actual))
        assert r.n == n == r.tp + r.fp + r.tn + r.fn
        for name, (count, nobs) in _fractions(r).items():
            result: StatResult = getattr(r, name)
            assert result.n == nobs, name
            assert result.method == "wilson"
            if nobs == 0:
                assert math.isnan(result.estimate) and math.isnan(result.ci_low), name
                continue
            low, high = proportion_confint(count, nobs, alpha=1 - confidence, method="wilson")
            assert result.estimate == count / nobs, name
            assert result.ci_low == pytest.approx(low, abs=1e-12), name
            assert result.ci_high == pytest.approx(high, abs=1e-12), name


def test_hand_computed_guardrail() -> None:
    # 10 harmful inputs, 8 blocked; 20 benign inputs, 3 blocked.
    actual = [True] * 10 + [False] * 20
    predicted = [True] * 8 + [False] * 2 + [True] * 3 + [False] * 17
    r = confusion_rates(predicted, actual)
    assert (r.tp, r.fp, r.tn, r.fn, r.n) == (8, 3, 17, 2, 30)
    assert r.false_positive_rate == wilson_ci(3, 20)  # benign inputs blocked
    assert r.false_negative_rate == wilson_ci(2, 10)  # harmful inputs let through
    assert r.true_positive_rate == wilson_ci(8, 10)
    assert r.recall == r.true_positive_rate
    assert r.true_negative_rate == wilson_ci(17, 20)
    assert r.precision == wilson_ci(8, 11)
    assert r.accuracy == wilson_ci(25, 30)
    # Wilson (1927) for 8/10 at 95%, as printed in textbook tables.
    assert (round(r.true_positive_rate.ci_low, 4), round(r.true_positive_rate.ci_high, 4)) == (
        0.4902,
        0.9433,
    )


def test_rates_with_no_denominator_are_nan() -> None:
    # Only benign inputs, none blocked: no harmful inputs and nothing predicted positive.
    r = confusion_rates([False] * 5, [False] * 5)
    assert (r.tp, r.fp, r.tn, r.fn, r.n) == (0, 0, 5, 0, 5)
    for name in ("false_negative_rate", "true_positive_rate", "precision"):
        result = getattr(r, name)
        assert result.n == 0 and math.isnan(result.estimate), name
        assert math.isnan(result.ci_low) and math.isnan(result.ci_high), name
    assert r.false_positive_rate == wilson_ci(0, 5)
    assert r.false_positive_rate.ci_low == 0.0
    assert r.accuracy.estimate == 1.0


def test_no_inputs() -> None:
    r = confusion_rates([], [])
    assert (r.tp, r.fp, r.tn, r.fn, r.n) == (0, 0, 0, 0, 0)
    for name in RATES:
        result = getattr(r, name)
        assert result.n == 0 and math.isnan(result.estimate), name


def test_accepts_numpy_bool_arrays_and_tuples() -> None:
    p = np.array([True, False, True])
    a = np.array([True, True, False])
    assert confusion_rates(p, a) == confusion_rates(  # type: ignore[arg-type]
        (True, False, True), (True, True, False)
    )


def test_is_frozen() -> None:
    r = confusion_rates([True], [True])
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.tp = 2  # type: ignore[misc]


# --- errors ----------------------------------------------------------------------------


def test_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match=r"same length; got 3 predicted and 2 actual"):
        confusion_rates([True, False, True], [True, False])


@pytest.mark.parametrize("bad", [1, 0, 1.0, "True", None, np.int64(1)])
def test_rejects_non_booleans(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"predicted must hold only True or False; got .* at "
                                          r"position 1"):
        confusion_rates([True, bad], [True, False])
    with pytest.raises(ValueError, match=r"actual must hold only True or False"):
        confusion_rates([True, False], [False, bad])


def test_rejects_strings_and_non_sequences() -> None:
    with pytest.raises(ValueError, match=r"predicted must be a sequence of bools.*string"):
        confusion_rates("TF", [True, False])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"actual must be a sequence of bools.*got int"):
        confusion_rates([True], 1)  # type: ignore[arg-type]


def test_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        confusion_rates([True], [True], confidence=1.5)
