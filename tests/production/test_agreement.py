"""Human-vs-automated agreement per week, and the drift flag when the judge starts to disagree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evalstack.production.agreement import LabelledPair, weekly_agreement
from evalstack.stats import cohen_kappa, wilson_ci
from evalstack.testing.traffic import JudgeConfig, simulate_judge_pairs

D0 = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("on", ["kappa", "accuracy"])
def test_drift_is_flagged_in_week_3_and_not_before(seed: int, on: str) -> None:
    pairs = simulate_judge_pairs(seed)
    weeks = weekly_agreement(pairs, on=on)  # type: ignore[arg-type]
    assert [w.start for w in weeks] == [D0 + timedelta(days=7 * i) for i in range(4)]
    assert [w.reference for w in weeks] == [True, True, False, False]
    assert [w.drift for w in weeks] == [False, False, True, True]
    third = weeks[2]
    assert third.test is not None and third.test.p_value is not None
    assert third.test.estimate < 0 and third.test.ci_high < 0 and third.test.p_value < 0.001


@pytest.mark.parametrize("seed", range(3))
def test_a_fixed_reference_level_tests_every_week(seed: int) -> None:
    cfg = JudgeConfig()
    weeks = weekly_agreement(simulate_judge_pairs(seed), reference_level=cfg.true_kappa(0),
                             alpha=0.01)
    assert [w.reference for w in weeks] == [False] * 4
    assert [w.drift for w in weeks] == [False, False, True, True]
    # the weekly 95% kappa intervals cover the true kappa of most weeks
    assert sum(w.kappa.ci_low <= cfg.true_kappa(i) <= w.kappa.ci_high
               for i, w in enumerate(weeks)) >= 3


def test_no_drift_is_rarely_flagged() -> None:
    flags = 0
    for seed in range(10):
        weeks = weekly_agreement(simulate_judge_pairs(seed, JudgeConfig(drift_week=None)),
                                 alpha=0.01)
        flags += sum(w.drift for w in weeks)
    assert flags <= 2  # 20 tested weeks at alpha 0.01: 0.2 expected by chance


def test_weekly_statistics_are_those_of_evalstack_stats() -> None:
    pairs = simulate_judge_pairs(7, JudgeConfig(weeks=3, pairs_per_week=60))
    weeks = weekly_agreement(pairs, reference_weeks=1, n_resamples=200)
    for i, w in enumerate(weeks):
        chunk = [p for p in pairs if (p.timestamp - D0).days // 7 == i]
        agree = sum(p.human == p.automated for p in chunk)
        assert w.accuracy.estimate == wilson_ci(agree, len(chunk)).estimate
        assert w.accuracy.ci_low == wilson_ci(agree, len(chunk)).ci_low
        kappa = cohen_kappa([p.human for p in chunk], [p.automated for p in chunk])
        assert w.kappa.estimate == pytest.approx(kappa.estimate)
        assert w.kappa.n == len(chunk) and w.kappa.se is not None


def test_empty_weeks_and_bad_arguments() -> None:
    pairs = [LabelledPair(f"t{i}", D0 + timedelta(days=14 * (i % 2), hours=i), "pass" if i % 3
                          else "fail", "pass" if i % 4 else "fail") for i in range(40)]
    weeks = weekly_agreement(pairs, reference_weeks=1, n_resamples=100)
    assert [w.accuracy.n for w in weeks] == [20, 0, 20]
    assert weeks[1].drift is False and weeks[1].test is not None
    assert weekly_agreement([]) == ()
    with pytest.raises(ValueError, match="no week is left to test"):
        weekly_agreement(pairs[:1])
    with pytest.raises(ValueError, match="on must be 'kappa' or 'accuracy'"):
        weekly_agreement(pairs, on="f1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference_weeks must be an integer of at least 1"):
        weekly_agreement(pairs, reference_weeks=0)
