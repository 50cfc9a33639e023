"""Judged metrics: which judge scored them (compare and gate refuse a change of judge), and
how much an ``llm_jury``'s jurors agreed (checked against krippendorff, statsmodels, sklearn).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from evalstack.analysis.compare import compare_pairing
from evalstack.analysis.gate import GateConfig, run_gate
from evalstack.analysis.judges import (
    JudgeSetup,
    check_same_judges,
    judge_setups,
    jury_agreement,
    jury_metrics,
)
from evalstack.analysis.pairs import RunScores, pair_runs
from evalstack.core.errors import UserError
from evalstack.core.records import ScoreRow
from tests.analysis.judge_runs import (  # noqa: F401
    CLAUDE,
    GPT,
    NEW_TEMPLATE,
    NEW_VERSION,
    judge_score,
    judged_pair,
    jury_score,
    store_run,
)


def _scores(rows: Sequence[dict[str, dict[str, Any]]], errors: Sequence[int] = ()
            ) -> RunScores:
    return RunScores.from_rows(None, [
        ScoreRow(f"s{i:03d}", 0, s, "boom" if i in errors else None, False, None, None, None,
                 0.0, ("algebra", "geometry")[i % 2])
        for i, s in enumerate(rows)
    ])


# --- judge setups and the check --------------------------------------------------------------


def test_setups_come_from_successful_judged_samples_only():
    a, _ = judged_pair()
    a[3] = {"exact_match": a[3]["exact_match"], "llm_judge": judge_score(2.0, CLAUDE)}
    rs = _scores(a, errors=[3])
    assert judge_setups(rs.rows.values()) == {"llm_judge": frozenset({JudgeSetup(*GPT)})}
    assert judge_setups(_scores(a).rows.values())["llm_judge"] == frozenset(
        {JudgeSetup(*GPT), JudgeSetup(*CLAUDE)})


def test_same_judge_is_no_mismatch():
    a, b = judged_pair()
    assert check_same_judges(_scores(a), _scores(b)) == []


@pytest.mark.parametrize(("judge_b", "expected"), [
    (NEW_TEMPLATE, "llm_judge: the judge template hash differs: 1a2b3c4d5e6f in A, "
                   "9f8e7d6c5b4a in B (judge openai/gpt-4o, version gpt-4o-2024-08-06)."),
    (NEW_VERSION, "llm_judge: the judge reported version differs: gpt-4o-2024-08-06 in A, "
                  "gpt-4o-2024-11-20 in B (judge openai/gpt-4o, template 1a2b3c4d5e6f)."),
    (CLAUDE, "llm_judge: judged by openai/gpt-4o (version gpt-4o-2024-08-06, template "
             "1a2b3c4d5e6f) in A but by anthropic/claude-sonnet-4 (version "
             "claude-sonnet-4-20250514, template 1a2b3c4d5e6f) in B."),
])
def test_each_differing_field_is_named(judge_b, expected):
    a, b = judged_pair(judge_b)
    assert check_same_judges(_scores(a), _scores(b)) == [expected]


def test_a_run_mixing_judges_is_a_mismatch_even_against_itself():
    a, _ = judged_pair()
    a[5]["llm_judge"] = judge_score(3.0, NEW_VERSION)
    found = check_same_judges(_scores(a), _scores(a), labels=("baseline", "candidate"))
    assert len(found) == 1
    assert found[0].startswith("llm_judge: baseline mixes 2 judge setups (openai/gpt-4o "
                               "(version gpt-4o-2024-08-06, template 1a2b3c4d5e6f); ")
    assert "candidate mixes 2 judge setups" in found[0]


def test_one_side_without_a_judge_and_metric_filter():
    a, b = judged_pair(NEW_TEMPLATE)
    for s in b:
        s["llm_judge"] = {"value": s["llm_judge"]["value"], "kind": "continuous"}
    assert check_same_judges(_scores(a), _scores(b)) == [
        "llm_judge: A was judged by openai/gpt-4o (version gpt-4o-2024-08-06, template "
        "1a2b3c4d5e6f); B records no judge."]
    assert check_same_judges(_scores(a), _scores(b), ["exact_match"]) == []


def test_compare_refuses_a_changed_judge_unless_allowed():
    a, b = judged_pair(NEW_TEMPLATE)
    pairing = pair_runs(_scores(a), _scores(b))
    with pytest.raises(UserError) as err:
        compare_pairing(pairing)
    msg = str(err.value)
    assert "1a2b3c4d5e6f in A, 9f8e7d6c5b4a in B" in msg
    assert "pass --allow-judge-mismatch" in msg
    c = compare_pairing(pairing, allow_judge_mismatch=True)
    assert [m.metric for m in c.metrics] == ["exact_match", "llm_judge"]
    assert c.judge_mismatches == check_same_judges(_scores(a), _scores(b))
    assert any(n.startswith("Judges differ (--allow-judge-mismatch): llm_judge: ")
               for n in c.notes)
    assert "judge_mismatches" in c.to_dict()


def test_compare_of_non_judge_metrics_ignores_the_judge():
    a, b = judged_pair(CLAUDE)
    c = compare_pairing(pair_runs(_scores(a), _scores(b), ["exact_match"]))
    assert c.judge_mismatches == [] and not any("Judges differ" in n for n in c.notes)
    same = compare_pairing(pair_runs(*map(_scores, judged_pair())))
    assert same.judge_mismatches == []
    assert same.metrics[1].delta == pytest.approx(10 / 40 / 4)  # +1 point on 10 of 40


def test_gate_refuses_a_changed_judge_on_its_metric_only():
    a, b = judged_pair(NEW_VERSION)
    pairing = pair_runs(_scores(a), _scores(b))
    with pytest.raises(UserError, match="reported version differs: gpt-4o-2024-08-06 in "
                                        "baseline, gpt-4o-2024-11-20 in candidate"):
        run_gate(pairing, GateConfig(metric="llm_judge"))
    allowed = run_gate(pairing, GateConfig(metric="llm_judge"), allow_judge_mismatch=True)
    assert allowed.judge_mismatches and allowed.checks[0].n == 40
    assert any("--allow-judge-mismatch" in n for n in allowed.notes)
    assert run_gate(pairing, GateConfig(metric="exact_match")).judge_mismatches == []


# --- jury agreement --------------------------------------------------------------------------


def _jury_rows(ratings: np.ndarray, errors: Sequence[int] = ()) -> list[ScoreRow]:
    """ScoreRows of an llm_jury metric from a raters x items matrix of overall scores."""
    return [
        ScoreRow(f"s{i:03d}", 0, {"llm_jury": jury_score(ratings[:, i].tolist()),
                                  "exact_match": {"value": 1.0}},
                 "boom" if i in errors else None, False, None, None, None, 0.0, None)
        for i in range(ratings.shape[1])
    ]


def _correlated_ratings(n: int, seed: int, noise: float = 0.8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, n)
    return np.clip(truth + np.rint(rng.normal(0, noise, (3, n))), 1, 5).astype(float)


def test_jury_agreement_matches_the_reference_implementations():
    ratings = _correlated_ratings(120, seed=3)
    ag = jury_agreement(_jury_rows(ratings), "llm_jury", n_resamples=500)
    assert ag is not None
    assert ag.jurors == ("a/x", "b/y", "c/z") and ag.n == 120 and ag.scale == (1.0, 5.0)
    assert ag.alpha_interval.estimate == pytest.approx(
        krippendorff.alpha(ratings, level_of_measurement="interval"))
    assert ag.alpha_ordinal.estimate == pytest.approx(
        krippendorff.alpha(ratings, level_of_measurement="ordinal"))
    assert ag.fleiss.estimate == pytest.approx(sm_fleiss(aggregate_raters(ratings.T)[0]))
    assert [(p.a, p.b) for p in ag.pairs] == [("a/x", "b/y"), ("a/x", "c/z"), ("b/y", "c/z")]
    for p, (i, j) in zip(ag.pairs, [(0, 1), (0, 2), (1, 2)], strict=True):
        assert p.kappa.estimate == pytest.approx(
            cohen_kappa_score(ratings[i], ratings[j], weights="quadratic"))
    for r in (ag.alpha_interval, ag.alpha_ordinal, ag.fleiss, *(p.kappa for p in ag.pairs)):
        assert r.ci_low < r.estimate < r.ci_high


def test_agreement_separates_a_consistent_jury_from_a_random_one():
    good = jury_agreement(_jury_rows(_correlated_ratings(200, 1, noise=0.4)), "llm_jury",
                          n_resamples=300)
    rng = np.random.default_rng(2)
    noise = jury_agreement(_jury_rows(rng.integers(1, 6, (3, 200)).astype(float)),
                           "llm_jury", n_resamples=300)
    assert good.alpha_interval.ci_low > 0.7
    assert noise.alpha_interval.ci_low < 0 < noise.alpha_interval.ci_high
    assert noise.fleiss.ci_high < good.fleiss.ci_low


def test_errored_samples_skipped_fractional_scores_rounded_for_kappas():
    ratings = _correlated_ratings(60, seed=4)
    ratings[0, :10] += 0.4  # e.g. a mean over criteria: 3.4 counts as level 3 for kappa
    ratings = np.clip(ratings, 1, 5)
    ag = jury_agreement(_jury_rows(ratings, errors=[0, 1]), "llm_jury", n_resamples=0)
    kept = ratings[:, 2:]
    assert ag.n == 58
    assert ag.alpha_interval.estimate == pytest.approx(
        krippendorff.alpha(kept, level_of_measurement="interval"))
    assert ag.fleiss.estimate == pytest.approx(
        sm_fleiss(aggregate_raters(np.rint(kept).T)[0]))


def test_a_juror_missing_on_a_sample_is_a_missing_rating():
    ratings = _correlated_ratings(50, seed=5)
    rows = _jury_rows(ratings)
    short = rows[7].scores["llm_jury"]
    short["metadata"]["jurors"] = short["metadata"]["jurors"][:2]
    ag = jury_agreement(rows, "llm_jury", n_resamples=0)
    expected = ratings.copy()
    expected[2, 7] = np.nan
    assert ag.alpha_interval.estimate == pytest.approx(
        krippendorff.alpha(expected, level_of_measurement="interval"))
    assert ag.fleiss.n == 49 and ag.pairs[0].kappa.n == 50 and ag.pairs[2].kappa.n == 49


def test_no_jury_or_one_juror_is_none_and_unanimity_is_undefined():
    ratings = _correlated_ratings(10, seed=6)
    rows = _jury_rows(ratings)
    assert jury_metrics(rows) == ["llm_jury"]
    assert jury_agreement(rows, "exact_match") is None
    assert jury_agreement(rows, "missing") is None
    solo = [ScoreRow("s", 0, {"llm_jury": jury_score([3.0], ["a/x"])}, None, False, None,
                     None, None, 0.0, None)]
    assert jury_agreement(solo, "llm_jury") is None
    same = jury_agreement(_jury_rows(np.full((3, 10), 4.0)), "llm_jury", n_resamples=50)
    d = same.to_dict()
    assert d["krippendorff_alpha_interval"]["estimate"] is None
    json.dumps(d, allow_nan=False)  # JSON-safe: nan became None


def test_repeated_juror_models_get_their_own_names():
    ratings = _correlated_ratings(20, seed=7)
    rows = [
        ScoreRow(f"s{i}", 0, {"j": jury_score(ratings[:, i].tolist(), ["m/a", "m/a", "m/b"])},
                 None, False, None, None, None, 0.0, None)
        for i in range(20)
    ]
    ag = jury_agreement(rows, "j", n_resamples=0)
    assert ag.jurors == ("m/a", "m/a #2", "m/b")
    assert (ag.pairs[0].a, ag.pairs[0].b) == ("m/a", "m/a #2")
