"""Judge validation statistics against scikit-learn, scipy and evalstack.stats, by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from scipy.stats import t as student_t
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from statsmodels.stats.proportion import proportion_confint

from evalstack.analysis.judge_agreement import (
    Agreement,
    ConfusionMatrix,
    pairwise_agreement,
    pointwise_agreement,
    rate,
    to_levels,
)
from evalstack.analysis.judge_bias import Lift, fitness, lift, model_family, self_preference
from evalstack.analysis.judge_bias import corrected_mean as corrected
from evalstack.stats import cohen_kappa, paired_permutation, ppi_mean
from evalstack.stats.result import StatResult

LIKERT = [1.0, 2.0, 3.0, 4.0, 5.0]


def _likert(seed: int, n: int, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Human 1-5 scores and a judge's normalized scores that track them, with noise."""
    rng = np.random.default_rng(seed)
    human = rng.integers(1, 6, n).astype(float)
    judge = np.clip((human - 1) / 4 + rng.normal(0, noise, n), 0, 1)
    return judge, human


def _preferences(seed: int, n: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    human = rng.choice(["a", "b"], n)
    judge = np.where(rng.random(n) < 0.7, human, rng.choice(["a", "b", "tie"], n))
    return judge.tolist(), human.tolist()


# --- to_levels ---------------------------------------------------------------------------


def test_to_levels_on_a_binary_scale_sends_halfway_down():
    got = to_levels([0.0, 0.2, 0.5, 0.5000001, 0.8, 1.0], [0.0, 1.0], (0.0, 1.0))
    assert got.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_to_levels_on_a_1_to_5_scale():
    judge = [k / 4 for k in range(5)] + [0.1, 0.2, 0.95]
    assert to_levels(judge, LIKERT, (1, 5)).tolist() == [1, 2, 3, 4, 5, 1, 2, 5]


def test_to_levels_uses_only_the_levels_humans_use():
    # Averaged ratings in thirds, and a scale whose odd points no one used.
    thirds = [1 + k / 3 for k in range(13)]
    assert to_levels([0.5, 0.6], thirds, (1, 5)) == pytest.approx([3.0, 3 + 1 / 3])
    assert to_levels([0.3, 0.7], [0, 2, 4, 6, 8, 10], (0, 10)).tolist() == [2.0, 6.0]


@pytest.mark.parametrize(
    ("judge", "levels", "scale", "message"),
    [
        ([1.2], LIKERT, (1, 5), "must lie in \\[0, 1\\]; got 1.2 at position 0"),
        ([math.nan], LIKERT, (1, 5), "finite numbers"),
        ([0.5], [], (1, 5), "levels must list"),
        ([0.5], LIKERT, (5, 1), "scale must be \\(lo, hi\\) with lo < hi"),
    ],
)
def test_to_levels_rejects_bad_input(judge, levels, scale, message):
    with pytest.raises(ValueError, match=message):
        to_levels(judge, levels, scale)


# --- pointwise agreement -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_pointwise_agreement_matches_sklearn_and_scipy(seed):
    judge, human = _likert(seed, n=30 + 20 * seed, noise=0.1 + 0.05 * seed)
    a = pointwise_agreement(judge, human, levels=LIKERT, scale=(1, 5), n_resamples=0)
    judged = to_levels(judge, LIKERT, (1, 5))
    assert a.kind == "pointwise" and a.kappa_weights == "quadratic" and a.n == human.size
    assert a.accuracy.estimate == pytest.approx(np.mean(judged == human))
    expected = cohen_kappa_score(human, judged, weights="quadratic", labels=LIKERT)
    assert a.kappa.estimate == pytest.approx(expected, abs=1e-12)
    own = cohen_kappa(human, judged, weights="quadratic", labels=LIKERT).estimate
    assert a.kappa.estimate == pytest.approx(own, abs=1e-12)
    assert a.spearman.estimate == pytest.approx(spearmanr(judge, human).statistic, abs=1e-12)
    counts = confusion_matrix(human, judged, labels=LIKERT)
    assert a.confusion.labels == ("1", "2", "3", "4", "5")
    assert np.array_equal(np.array(a.confusion.counts), counts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.sampled_from(LIKERT)), min_size=2, max_size=40))
def test_pointwise_kappa_equals_sklearn_property(pairs):
    judge, human = (np.array(x) for x in zip(*pairs, strict=True))
    a = pointwise_agreement(judge, human, levels=LIKERT, scale=(1, 5), n_resamples=0)
    judged = to_levels(judge, LIKERT, (1, 5))
    if len(set(judged) | set(human)) == 1:
        assert math.isnan(a.kappa.estimate)
    else:
        expected = cohen_kappa_score(human, judged, weights="quadratic", labels=LIKERT)
        assert a.kappa.estimate == pytest.approx(expected, abs=1e-9)


def test_pointwise_agreement_on_a_binary_scale():
    # A summary-consistency judge giving 1-5 scores, normalized, against 0/1 human labels.
    judge = np.array([0, 0.25, 0.5, 0.75, 1, 1, 0.75, 0, 0.25, 1])
    human = np.array([0, 0, 1, 1, 1, 0, 1, 0, 1, 1], dtype=float)
    a = pointwise_agreement(judge, human, levels=[0, 1], scale=(0, 1), n_resamples=0)
    judged = (judge > 0.5).astype(float)
    assert a.accuracy.estimate == pytest.approx(0.7)
    assert a.kappa.estimate == pytest.approx(
        cohen_kappa_score(human, judged, weights="quadratic"))
    assert a.confusion.counts == ((3, 1), (2, 4))


def test_bootstrap_intervals_are_percentiles_of_shared_resamples():
    judge, human = _likert(3, n=40)
    a = pointwise_agreement(judge, human, levels=LIKERT, scale=(1, 5), n_resamples=500, seed=7)
    idx = np.random.default_rng(7).integers(0, 40, (500, 40))
    judged = to_levels(judge, LIKERT, (1, 5))
    acc = (judged[idx] == human[idx]).mean(axis=1)
    low, high = np.quantile(acc, (0.025, 0.975))
    assert (a.accuracy.ci_low, a.accuracy.ci_high) == pytest.approx((low, high))
    kappas = [cohen_kappa_score(human[i], judged[i], weights="quadratic", labels=LIKERT)
              for i in idx[:50]]
    rhos = [spearmanr(judge[i], human[i]).statistic for i in idx[:50]]
    again = pointwise_agreement(judge, human, levels=LIKERT, scale=(1, 5), n_resamples=50,
                                seed=7)
    assert (again.kappa.ci_low, again.kappa.ci_high) == pytest.approx(
        tuple(np.quantile(kappas, (0.025, 0.975))))
    assert (again.spearman.ci_low, again.spearman.ci_high) == pytest.approx(
        tuple(np.quantile(rhos, (0.025, 0.975))))


def test_intervals_contain_the_estimate_and_shrink_with_n():
    widths = []
    for n in (40, 640):
        judge, human = _likert(11, n=n, noise=0.2)
        a = pointwise_agreement(judge, human, levels=LIKERT, scale=(1, 5), n_resamples=1000)
        for r in (a.accuracy, a.kappa, a.spearman):
            assert r.ci_low <= r.estimate <= r.ci_high and r.n == n
        for row in a.confusion.share:
            for cell in row:
                assert cell.ci_low <= cell.estimate <= cell.ci_high
        assert sum(c.estimate for row in a.confusion.share for c in row) == pytest.approx(1)
        widths.append([r.ci_high - r.ci_low for r in (a.accuracy, a.kappa, a.spearman)])
    for small, large in zip(*widths, strict=True):
        assert large < small / 2.5  # 16x the items: about a quarter of the width


def test_same_seed_same_interval_other_seed_other_interval():
    judge, human = _likert(5, n=60)
    run = lambda seed: pointwise_agreement(  # noqa: E731
        judge, human, levels=LIKERT, scale=(1, 5), n_resamples=300, seed=seed)
    assert run(1) == run(1)
    assert run(1).kappa != run(2).kappa


def test_undefined_kappa_is_nan_and_has_no_interval():
    a = pointwise_agreement([1.0] * 5, [5.0] * 5, levels=LIKERT, scale=(1, 5))
    assert a.accuracy.estimate == 1.0
    assert math.isnan(a.kappa.estimate) and math.isnan(a.kappa.ci_low)
    assert math.isnan(a.spearman.estimate)


@pytest.mark.parametrize(
    ("judge", "human", "message"),
    [
        ([0.5, 0.5], [3.0], "one value per item"),
        ([], [], "at least one item"),
        ([0.5], [3.5], "every human score must be one of the levels"),
    ],
)
def test_pointwise_agreement_rejects_bad_input(judge, human, message):
    with pytest.raises(ValueError, match=message):
        pointwise_agreement(judge, human, levels=LIKERT, scale=(1, 5))


# --- pairwise agreement ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_agreement_matches_sklearn_and_scipy(seed):
    judge, human = _preferences(seed, n=25 + 30 * seed)
    a = pairwise_agreement(judge, human, n_resamples=0)
    assert a.kind == "pairwise" and a.kappa_weights is None
    assert a.accuracy.estimate == pytest.approx(np.mean(np.array(judge) == np.array(human)))
    assert a.kappa.estimate == pytest.approx(cohen_kappa_score(human, judge), abs=1e-12)
    code = {"a": 1, "tie": 0, "b": -1}
    rho = spearmanr([code[x] for x in judge], [code[x] for x in human]).statistic
    assert a.spearman.estimate == pytest.approx(rho, abs=1e-12)
    assert a.confusion.labels == ("a", "b", "tie")
    expected = confusion_matrix(human, judge, labels=["a", "b", "tie"])
    assert np.array_equal(np.array(a.confusion.counts), expected)


def test_pairwise_intervals_contain_the_estimates():
    judge, human = _preferences(9, n=200)
    a = pairwise_agreement(judge, human)
    for r in (a.accuracy, a.kappa, a.spearman):
        assert r.ci_low < r.estimate < r.ci_high


def test_pairwise_agreement_rejects_unknown_preferences():
    with pytest.raises(ValueError, match="judge preferences must be 'a', 'b' or 'tie'; got 'A'"):
        pairwise_agreement(["a", "A"], ["a", "b"])


def test_rate_is_the_wilson_interval():
    r = rate(3, 40)
    assert (r.estimate, r.n) == (0.075, 40)
    assert (r.ci_low, r.ci_high) == pytest.approx(proportion_confint(3, 40, method="wilson"))


# --- lifts -------------------------------------------------------------------------------


def test_lift_detects_a_planted_lift():
    rng = np.random.default_rng(1)
    clean = rng.uniform(0, 0.7, 60)
    probe = np.clip(clean + 0.15 + rng.normal(0, 0.1, 60), 0, 1)
    r = lift("ignore the rubric", clean, probe)
    assert r.p_value < 0.001
    assert 0.1 < r.delta.ci_low < r.delta.estimate < r.delta.ci_high
    assert r.delta.estimate == pytest.approx(np.mean(probe - clean))
    assert r.flipped_to_pass == int(np.sum((clean < 0.5) & (probe >= 0.5))) > 0
    assert (r.mean_clean, r.mean_probe) == pytest.approx((clean.mean(), probe.mean()))


def test_lift_does_not_detect_a_null_one():
    rng = np.random.default_rng(2)
    clean = rng.uniform(0, 1, 60)
    probe = np.clip(clean + rng.normal(0, 0.1, 60), 0, 1)
    r = lift("padded", clean, probe)
    assert r.p_value > 0.05
    assert r.delta.ci_low < 0 < r.delta.ci_high


def test_lift_p_value_is_one_sided_from_the_sign_flip_test():
    clean, probe = [0.2, 0.4, 0.3, 0.1, 0.5], [0.6, 0.5, 0.2, 0.4, 0.9]
    two_sided = paired_permutation(clean, probe).p_value
    assert lift("x", clean, probe).p_value == pytest.approx(two_sided / 2)
    assert lift("x", probe, clean).p_value == pytest.approx(1 - two_sided / 2)
    assert lift("x", clean, clean).p_value == 1.0
    empty = lift("x", [], [])
    assert empty.n == 0 and math.isnan(empty.p_value)


# --- self-preference ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("openai/gpt-4o", "gpt"), ("gpt-4o-mini-2024-07-18", "gpt"), ("o1-preview", "gpt"),
        ("anthropic/claude-3-5-sonnet", "claude"), ("claude-3-5", "claude"),
        ("local/smollm2", "smollm"), ("HuggingFaceTB/SmolLM2-360M-Instruct", "smollm"),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", "llama"), ("codellama-7b", "llama"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen"), ("mistralai/Mixtral-8x7B", "mistral"),
        ("google/gemma-3-270m", "gemma"), ("gemini-1.5-pro", "gemini"),
        ("microsoft/Phi-3-mini", "phi"), ("deepseek-chat", "deepseek"),
        ("BERTS2S", "berts"), ("Nucleus Decoding (p = 0.5)", "nucleus"), ("gpt", "gpt"),
    ],
)
def test_model_family(model, family):
    assert model_family(model) == family
    assert model_family(family) == family


def test_self_preference_is_none_without_own_family_or_without_others():
    scores = [0.5, 0.6, 0.7]
    assert self_preference("openai/gpt-4o", ["llama-3", "qwen2", "qwen2"], scores, None) is None
    assert self_preference("openai/gpt-4o", ["gpt-4o", "gpt-4o-mini", "gpt-4"], scores,
                           None) is None


def test_self_preference_subtracts_the_human_gap():
    families = ["gpt-4o"] * 4 + ["llama-3"] * 4
    judge = [0.9, 0.8, 0.9, 0.8, 0.5, 0.6, 0.5, 0.6]
    human = [0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6]
    r = self_preference("openai/gpt-4o-2024-08-06", families, judge, human)
    assert r is not None and r.judge_family == "gpt"
    assert (r.own.estimate, r.others.estimate) == pytest.approx((0.85, 0.55))
    assert (r.human_own, r.human_others) == pytest.approx((0.7, 0.6))
    assert r.gap.estimate == pytest.approx(0.2)
    assert (r.own.n, r.others.n, r.gap.n) == (4, 4, 8)
    without = self_preference("gpt-4o", families, judge, None)
    assert without is not None and without.gap.estimate == pytest.approx(0.3)
    assert without.human_own is None


def test_self_preference_detects_a_planted_bias_and_not_a_real_difference():
    rng = np.random.default_rng(4)
    families = ["gpt-4o"] * 80 + ["claude-3"] * 80
    human = np.concatenate([rng.uniform(0.5, 1, 80), rng.uniform(0.3, 0.8, 80)])
    honest = np.clip(human + rng.normal(0, 0.05, 160), 0, 1)
    biased = np.clip(honest + np.r_[np.full(80, 0.1), np.zeros(80)], 0, 1)
    fair = self_preference("gpt-4o", families, honest, human)
    unfair = self_preference("gpt-4o", families, biased, human)
    assert fair is not None and unfair is not None
    assert fair.gap.ci_low < 0 < fair.gap.ci_high
    assert 0 < unfair.gap.ci_low < unfair.gap.estimate < unfair.gap.ci_high
    assert fair.own.ci_low < fair.own.estimate < fair.own.ci_high


# --- judge-corrected means ---------------------------------------------------------------


@pytest.mark.parametrize("power_tuning", [True, False])
def test_corrected_mean_wraps_ppi_mean(power_tuning):
    rng = np.random.default_rng(6)
    human_all = rng.uniform(0, 1, 600)
    judge_all = np.clip(human_all + 0.15 + rng.normal(0, 0.1, 600), 0, 1)
    unlabeled, labeled, human = judge_all[100:], judge_all[:100], human_all[:100]
    c = corrected(unlabeled, labeled, human, power_tuning=power_tuning)
    r = ppi_mean(unlabeled, labeled, human, power_tuning=power_tuning)
    assert (c.corrected.estimate, c.corrected.ci_low, c.corrected.ci_high, c.corrected.n) == (
        r.estimate, r.ci_low, r.ci_high, r.n)
    assert c.method == ("PPI++" if power_tuning else "PPI")
    assert (c.n_labeled, c.n_unlabeled) == (100, 500)
    t_low, t_high = student_t.interval(0.95, 499, loc=unlabeled.mean(),
                                       scale=unlabeled.std(ddof=1) / math.sqrt(500))
    assert (c.judge_only.ci_low, c.judge_only.ci_high) == pytest.approx((t_low, t_high))
    assert c.human_only.estimate == pytest.approx(human.mean())
    # The lenient judge's own interval misses the human mean; the corrected one covers it.
    assert c.judge_only.ci_low > human_all.mean()
    assert c.corrected.ci_low < human_all.mean() < c.corrected.ci_high


def test_corrected_mean_passes_on_ppi_errors():
    with pytest.raises(ValueError, match="at least 2 human-labelled items"):
        corrected([0.5, 0.6], [0.5], [1.0])


# --- fitness -----------------------------------------------------------------------------

def _iv(estimate: float, low: float, high: float, n: int) -> StatResult:
    return StatResult(estimate, low, high, n, "bootstrap_percentile")


CELL = _iv(0.5, 0.4, 0.6, 100)
CONFUSION = ConfusionMatrix(("a", "b", "tie"), ((0,) * 3,) * 3, ((CELL,) * 3,) * 3)


def _agreement(low: float, high: float, weights: str | None = "quadratic") -> Agreement:
    kappa = _iv((low + high) / 2, low, high, 100)
    return Agreement("pointwise", 100, CELL, kappa, weights, CELL, CONFUSION)


def _lift(name: str, delta: float, p: float) -> Lift:
    return Lift(name, 50, 0.4, 0.4 + delta, _iv(delta, delta - 0.05, delta + 0.05, 50),
                7, p)


def test_fitness_fit():
    f = fitness(_agreement(0.65, 0.85), [_lift("padded", 0.01, 0.4), _lift("inject", -0.02, 0.9)],
                max_inconsistency=_iv(0.1, 0.05, 0.18, 100))
    assert (f.fit, f.threshold, f.statistic) == (True, 0.6, "weighted kappa")
    assert f.reasons[0] == ("Weighted kappa 0.75 [0.65, 0.85] is at or above the 0.60 "
                            "threshold over its whole interval.")
    assert f.reasons[1] == ("No significant lift from 2 probes (padded, inject; p >= 0.05); "
                            "the largest is 'padded' at +0.01 (p=0.40).")
    assert f.reasons[2] == ("The verdict flips with the answers' order in 10% of pairs "
                            "[5%, 18%], within the 20% limit.")


def test_fitness_not_fit_on_low_agreement():
    f = fitness(_agreement(0.2, 0.5, None), [])
    assert (f.fit, f.statistic) == (False, "kappa")
    assert f.reasons == ("Kappa 0.35 [0.20, 0.50] is below the 0.60 threshold over its whole "
                         "interval.",)


def test_fitness_not_fit_on_a_significant_lift_even_with_high_agreement():
    f = fitness(_agreement(0.7, 0.9), [_lift("fake verdict", 0.3, 0.001)])
    assert f.fit is False
    assert f.reasons[1] == ("'fake verdict' raises the judge's score by +0.30 [0.25, 0.35] on "
                            "the 0-1 scale (p=0.001 < 0.05; 7 of 50 items flip to pass): the "
                            "judge can be gamed this way.")


def test_fitness_not_fit_on_position_bias():
    f = fitness(_agreement(0.7, 0.9), [], max_inconsistency=_iv(0.35, 0.3, 0.4, 100))
    assert f.fit is False
    assert "flips with the answers' order in 35% of pairs [30%, 40%], above the 20% limit" in (
        f.reasons[1])


def test_fitness_inconclusive_when_kappa_straddles_the_threshold():
    f = fitness(_agreement(0.5, 0.7), [_lift("padded", 0.01, 0.4)])
    assert f.fit is None
    assert "straddles the 0.60 threshold: inconclusive" in f.reasons[0]
    # ... but a bias still makes it unfit.
    assert fitness(_agreement(0.5, 0.7), [_lift("x", 0.2, 0.01)]).fit is False
    assert fitness(_agreement(0.5, 0.7), [], threshold=0.5).fit is True


def test_fitness_inconclusive_when_kappa_is_undefined():
    nan = _iv(math.nan, math.nan, math.nan, 100)
    a = Agreement("pairwise", 100, CELL, nan, None, CELL, CONFUSION)
    f = fitness(a, [])
    assert f.fit is None and "undefined" in f.reasons[0]
