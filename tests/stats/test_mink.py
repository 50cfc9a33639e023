"""Min-K% Prob, Min-K%++ and the AUC with its DeLong interval, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalstack.stats.mink import auc_with_interval, min_k_plus_plus, min_k_prob, token_z_scores


def test_min_k_prob_is_mean_of_lowest_fraction() -> None:
    lp = [-0.1, -2.0, -0.3, -5.0, -1.0, -0.2, -4.0, -0.5, -0.4, -3.0]
    # k=0.3 of 10 tokens: the three lowest, -5, -4, -3
    assert min_k_prob(lp, k=0.3) == pytest.approx(-4.0)
    assert min_k_prob(lp, k=1.0) == pytest.approx(np.mean(lp))
    # int(3 * 0.2) = 0 tokens: at least one is kept
    assert min_k_prob([-1.0, -2.0, -3.0], k=0.2) == -3.0
    assert math.isnan(min_k_prob([], k=0.2))


def test_min_k_plus_plus_standardises_each_token() -> None:
    lp = [-1.0, -6.0, -2.0, -0.5]
    mu = [-2.0, -3.0, -2.0, -1.0]
    var = [4.0, 9.0, 1.0, 0.25]
    z = token_z_scores(lp, mu, var)
    assert z.tolist() == pytest.approx([0.5, -1.0, 0.0, 1.0])
    assert min_k_plus_plus(lp, mu, var, k=0.5) == pytest.approx(-0.5)
    # a one-hot distribution has sigma 0: its token scores 0, not nan
    assert token_z_scores([0.0], [0.0], [0.0]).tolist() == [0.0]


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, True, "0.2"])
def test_k_outside_unit_interval_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="k, the fraction"):
        min_k_prob([-1.0], k=bad)  # type: ignore[arg-type]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one length"):
        min_k_plus_plus([-1.0, -2.0], [-1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 0"):
        token_z_scores([-1.0], [-1.0], [-1.0])


def _mann_whitney_auc(x: list[float], y: list[float]) -> float:
    total = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
    return total / (len(x) * len(y))


def test_auc_matches_sklearn_and_mann_whitney() -> None:
    rng = np.random.default_rng(3)
    members = np.round(rng.normal(0.6, 1.0, 37), 1)  # rounded: ties on purpose
    nonmembers = np.round(rng.normal(0.0, 1.0, 41), 1)
    r = auc_with_interval(members, nonmembers)
    assert r.estimate == pytest.approx(_mann_whitney_auc(list(members), list(nonmembers)))
    sklearn = pytest.importorskip("sklearn.metrics")
    labels = [1] * len(members) + [0] * len(nonmembers)
    expected = sklearn.roc_auc_score(labels, np.concatenate([members, nonmembers]))
    assert r.estimate == pytest.approx(expected, abs=1e-12)
    assert r.n == 78 and r.method == "delong"
    assert r.ci_low < r.estimate < r.ci_high


def test_delong_interval_by_hand() -> None:
    # members 3, 2, 0.5; non-members 1, 0, 2
    # member placements: 1, 2.5/3, 1/3; non-member placements: 2/3, 1, 1.5/3
    r = auc_with_interval([3.0, 2.0, 0.5], [1.0, 0.0, 2.0])
    assert r.estimate == pytest.approx(6.5 / 9)
    v10 = np.array([1.0, 2.5 / 3, 1 / 3])
    v01 = np.array([2 / 3, 1.0, 0.5])
    se = math.sqrt(v10.var(ddof=1) / 3 + v01.var(ddof=1) / 3)
    assert r.se == pytest.approx(se)
    assert r.ci_low == pytest.approx(max(0.0, 6.5 / 9 - 1.959963984540054 * se))
    assert r.ci_high == pytest.approx(min(1.0, 6.5 / 9 + 1.959963984540054 * se))
    assert r.p_value is not None and 0 < r.p_value < 1


def test_perfect_separation_keeps_a_nonzero_width() -> None:
    r = auc_with_interval([5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0])
    assert r.estimate == 1.0 and r.ci_high == 1.0
    assert r.method == "wilson_min_n" and r.ci_low < 0.6  # Wilson with 3 trials: ~0.44
    assert r.n == 7


def test_reversed_scores_give_one_minus_auc() -> None:
    a, b = [0.3, 1.2, 2.2, -0.4], [0.1, -1.0, 0.9]
    assert auc_with_interval(a, b).estimate == pytest.approx(1 - auc_with_interval(b, a).estimate)


def test_empty_group_gives_nan_with_n() -> None:
    r = auc_with_interval([], [1.0, 2.0])
    assert math.isnan(r.estimate) and r.n == 2
    with pytest.raises(ValueError, match="finite"):
        auc_with_interval([float("nan")], [1.0])
