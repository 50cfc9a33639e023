"""The misclassification-corrected rate and paired difference: formula, coverage, errors."""

from __future__ import annotations

import numpy as np
import pytest

from evalstack.stats.intervals import wilson_ci
from evalstack.stats.misclassification import (
    DetectorError,
    corrected_difference,
    corrected_rate,
)


def _simulate(rng, n: int, truth: float, se: float, sp: float) -> tuple[np.ndarray, np.ndarray]:
    true = rng.random(n) < truth
    seen = np.where(true, rng.random(n) < se, rng.random(n) >= sp)
    return true, seen


def _labels(rng, k: int, truth: float, se: float, sp: float) -> DetectorError:
    true, seen = _simulate(rng, k, truth, se, sp)
    return DetectorError(tp=int((true & seen).sum()), fn=int((true & ~seen).sum()),
                         tn=int((~true & ~seen).sum()), fp=int((~true & seen).sum()))


def test_the_point_estimate_is_rogan_gladen():
    err = DetectorError(tp=90, fn=10, tn=70, fp=30)  # se 0.9, sp 0.7
    r = corrected_rate(480, 1000, err)
    assert r.corrected.estimate == pytest.approx((0.48 + 0.7 - 1) / (0.9 + 0.7 - 1))
    assert r.observed == wilson_ci(480, 1000)
    assert r.corrected.n == 1000 and r.labels == 200 and r.note == ""
    # clipped to [0, 1] when the observed rate is below the false-positive rate
    assert corrected_rate(100, 1000, err).corrected.estimate == 0.0


def test_the_interval_covers_the_true_rate_where_the_raw_one_does_not():
    rng = np.random.default_rng(7)
    truth, se, sp = 0.3, 0.9, 0.7
    covered = raw_covered = 0
    reps = 200
    for i in range(reps):
        _, seen = _simulate(rng, 400, truth, se, sp)
        err = _labels(rng, 150, 0.5, se, sp)
        r = corrected_rate(int(seen.sum()), 400, err, seed=i)
        covered += r.corrected.ci_low <= truth <= r.corrected.ci_high
        raw_covered += r.observed.ci_low <= truth <= r.observed.ci_high
    assert covered / reps >= 0.92, covered
    assert raw_covered / reps < 0.05, raw_covered


def test_the_paired_difference_covers_the_truth_and_holds_its_level():
    rng = np.random.default_rng(11)
    se, sp = 0.85, 0.8
    covered = rejected_when_equal = 0
    reps = 200
    for i in range(reps):
        err = _labels(rng, 150, 0.5, se, sp)
        latent = rng.random(300)
        true_a, true_b = latent < 0.4, latent < 0.25  # B blocks some of A's successes
        noise = rng.random((2, 300))
        seen_a = np.where(true_a, noise[0] < se, noise[0] >= sp)
        seen_b = np.where(true_b, noise[1] < se, noise[1] >= sp)
        d = corrected_difference(seen_b.astype(int), seen_a.astype(int), err, seed=i)
        covered += d.ci_low <= true_b.mean() - true_a.mean() <= d.ci_high
        same = np.where(true_a, noise[1] < se, noise[1] >= sp)  # B = A's truth, new errors
        rejected_when_equal += corrected_difference(same.astype(int), seen_a.astype(int),
                                                    err, seed=i).p_value < 0.05
    assert covered / reps >= 0.92, covered
    assert rejected_when_equal / reps <= 0.08, rejected_when_equal


def test_a_detector_no_better_than_chance_cannot_correct():
    r = corrected_rate(50, 100, DetectorError(tp=5, fn=5, tn=5, fp=5))
    assert "no better than chance" in r.note
    d = corrected_difference([1, 0, 1], [0, 0, 1], DetectorError(tp=2, fn=8, tn=3, fp=7))
    assert np.isnan(d.estimate) and d.p_value is not None


@pytest.mark.parametrize("counts", [dict(tp=0, fn=0, tn=5, fp=1), dict(tp=-1, fn=2, tn=3, fp=1),
                                    dict(tp=True, fn=2, tn=3, fp=1)])
def test_bad_counts_say_what_was_expected(counts):
    with pytest.raises(ValueError, match="expected|both outcomes"):
        DetectorError(**counts)
