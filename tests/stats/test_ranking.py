"""evalstack.stats.ranking against choix, scikit-learn, scipy and FastChat's compute_elo."""

from __future__ import annotations

import math

import choix
import numpy as np
import pytest
from scipy import optimize
from sklearn.linear_model import LogisticRegression

from evalstack.stats.ranking import (
    ELO_PER_THETA,
    RIDGE,
    DisconnectedComparisons,
    _Battles,
    _fit_counts,
    bradley_terry,
    online_elo,
    predicted_win_rate,
)


def _battles(seed: int, k: int = 8, n: int = 1500, tie_rate: float = 0.2
             ) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.8, k)
    ia = rng.integers(0, k, n)
    ib = (ia + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(-(theta[ia] - theta[ib])))
    u = rng.random(n)
    y = np.where(rng.random(n) < tie_rate, 0.5, (u < p).astype(float))
    names = [f"m{i}" for i in range(k)]
    return [names[i] for i in ia], [names[i] for i in ib], y, rng.integers(0, n // 10, n)


def _unpenalised_lr() -> LogisticRegression:
    # penalty=None, spelt C=inf: scikit-learn 1.8 deprecates the penalty argument.
    return LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000,
                              solver="newton-cg")


def _theta(fit_ratings: dict[str, float], k: int) -> np.ndarray:
    return np.array([fit_ratings[f"m{i}"] for i in range(k)])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equals_choix_mle_with_ties(seed: int) -> None:
    a, b, y, _ = _battles(seed, k=9)
    # choix takes (winner, loser) pairs. A tie is half a win each way; doubling every
    # decisive battle and giving a tie one win each way doubles the log-likelihood, which
    # has the same maximiser.
    data: list[tuple[int, int]] = []
    for x, z, o in zip(a, b, y, strict=True):
        i, j = int(x[1:]), int(z[1:])
        if o == 1.0:
            data += [(i, j), (i, j)]
        elif o == 0.0:
            data += [(j, i), (j, i)]
        else:
            data += [(i, j), (j, i)]
    ref = choix.ilsr_pairwise(9, data, alpha=0.0, tol=1e-14, max_iter=10_000)
    ref = ref - ref.mean()
    fit = bradley_terry(a, b, y)
    assert fit.mle_exists and fit.warning is None
    np.testing.assert_allclose(_theta(fit.ratings, 9), ref, atol=1e-6)
    assert np.mean(list(fit.ratings.values())) == pytest.approx(0.0, abs=1e-12)
    assert np.mean(list(fit.elo.values())) == pytest.approx(1000.0, abs=1e-9)
    assert list(fit.names) == sorted(fit.ratings, key=lambda n: -fit.ratings[n])


@pytest.mark.parametrize("seed", [4, 5])
def test_equals_sklearn_logistic_regression_like_fastchat(seed: int) -> None:
    a, b, y, _ = _battles(seed, k=8)
    k, n = 8, len(a)
    # FastChat's compute_mle_elo: one row per battle, columns +-log(BASE); a tie is two rows,
    # "a won" and "b won", with half the weight each.
    x = np.zeros((n, k))
    x[np.arange(n), [int(s[1:]) for s in a]] = math.log(10)
    x[np.arange(n), [int(s[1:]) for s in b]] = -math.log(10)
    tie = y == 0.5
    xx = np.vstack([x, x[tie]])
    yy = np.concatenate([np.where(tie, 1.0, y), np.zeros(tie.sum())])
    ww = np.concatenate([np.where(tie, 0.5, 1.0), np.full(tie.sum(), 0.5)])
    lr = _unpenalised_lr()
    lr.fit(xx, yy, sample_weight=ww)
    elo = 400 * lr.coef_[0]
    elo = elo - elo.mean() + 1000
    fit = bradley_terry(a, b, y)
    np.testing.assert_allclose([fit.elo[f"m{i}"] for i in range(k)], elo, atol=1e-5 * 400)
    np.testing.assert_allclose(_theta(fit.ratings, k), (elo - 1000) / ELO_PER_THETA, atol=1e-5)


def _davidson_nll(params: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray) -> float:
    theta = np.concatenate([[0.0], params[:-1]])  # theta_0 fixed at 0, centred afterwards
    nu = math.exp(params[-1])
    pi_a, pi_b = np.exp(theta[ia]), np.exp(theta[ib])
    tie = nu * np.sqrt(pi_a * pi_b)
    den = pi_a + pi_b + tie
    lik = np.where(y == 1.0, pi_a, np.where(y == 0.0, pi_b, tie)) / den
    return float(-np.log(lik).sum())


@pytest.mark.parametrize("seed", [6, 7])
def test_davidson_equals_direct_scipy_maximisation(seed: int) -> None:
    a, b, y, _ = _battles(seed, k=8, n=1200, tie_rate=0.25)
    ia = np.array([int(s[1:]) for s in a])
    ib = np.array([int(s[1:]) for s in b])
    res = optimize.minimize(_davidson_nll, np.zeros(8), args=(ia, ib, y), method="BFGS",
                            options={"gtol": 1e-9, "maxiter": 10_000})
    theta = np.concatenate([[0.0], res.x[:-1]])
    fit = bradley_terry(a, b, y, ties="davidson")
    np.testing.assert_allclose(_theta(fit.ratings, 8), theta - theta.mean(), atol=1e-5)
    assert fit.tie_param == pytest.approx(math.exp(res.x[-1]), rel=1e-5)
    assert fit.ties == "davidson"
    w = fit.win_rate
    np.testing.assert_allclose(w + w.T, 1.0, atol=1e-12)


def test_style_coefficient_recovered_and_equals_sklearn() -> None:
    rng = np.random.default_rng(11)
    k, n, beta = 6, 30_000, np.array([0.7, -0.3])
    theta = rng.normal(0, 0.6, k)
    ia = rng.integers(0, k, n)
    ib = (ia + rng.integers(1, k, n)) % k
    # style differences correlated with the contestants (a verbose model is also a strong one)
    s = np.column_stack([rng.normal(size=n) + 0.5 * (theta[ia] - theta[ib]), rng.normal(size=n)])
    p = 1 / (1 + np.exp(-(theta[ia] - theta[ib] + s @ beta)))
    y = (rng.random(n) < p).astype(float)
    names = [f"m{i}" for i in range(k)]
    a, b = [names[i] for i in ia], [names[i] for i in ib]
    fit = bradley_terry(a, b, y, style=s)
    assert fit.style_coef is not None
    np.testing.assert_allclose(fit.style_coef, beta, atol=0.06)  # SE about 0.015
    np.testing.assert_allclose(_theta(fit.ratings, k), theta - theta.mean(), atol=0.1)
    x = np.zeros((n, k))
    x[np.arange(n), ia] = 1.0
    x[np.arange(n), ib] = -1.0
    lr = _unpenalised_lr().fit(np.hstack([x, s]), y)
    ref = lr.coef_[0]
    np.testing.assert_allclose(fit.style_coef, ref[k:], atol=1e-5)
    np.testing.assert_allclose(_theta(fit.ratings, k), ref[:k] - ref[:k].mean(), atol=1e-5)
    # the style-free fit absorbs the style advantage into the ratings
    plain = bradley_terry(a, b, y)
    assert plain.style_coef is None
    assert np.ptp(_theta(plain.ratings, k)) > np.ptp(_theta(fit.ratings, k))


def test_style_bootstrap_and_one_column() -> None:
    a, b, y, prompts = _battles(12, k=5, n=600, tie_rate=0.1)
    s = np.random.default_rng(0).normal(size=len(a))
    fit = bradley_terry(a, b, y, style=s, prompts=prompts, n_boot=20)
    assert fit.style_coef is not None and len(fit.style_coef) == 1
    assert fit.intervals is not None and fit.method == "prompt-clustered bootstrap, B=20"
    with pytest.raises(ValueError, match="ties='half' with style"):
        bradley_terry(a, b, y, style=s, ties="davidson")
    with pytest.raises(ValueError, match="style as finite numbers"):
        bradley_terry(a, b, y, style=s[:-1])


def test_bad_outcome_names_index_and_value() -> None:
    with pytest.raises(ValueError, match=r"received 0\.7 at index 1"):
        bradley_terry(["a", "b", "a"], ["b", "c", "c"], [1.0, 0.7, 0.0])
    with pytest.raises(ValueError, match="one length"):
        bradley_terry(["a", "b"], ["b"], [1.0, 0.0])


def test_self_battle_names_first_index() -> None:
    with pytest.raises(ValueError, match=r"'b' against itself at index 2"):
        bradley_terry(["a", "b", "b", "c"], ["b", "c", "b", "c"], [1, 0, 1, 1])


def test_disconnected_groups() -> None:
    a = ["x", "y", "p", "q", "r"]
    b = ["y", "x", "q", "r", "p"]
    with pytest.raises(DisconnectedComparisons) as info:
        bradley_terry(a, b, [1, 1, 0, 1, 0.5])
    assert info.value.groups == [["p", "q", "r"], ["x", "y"]]
    assert "{p, q, r}; {x, y}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_contestant_without_losses_is_finite_with_warning() -> None:
    a, b, y, _ = _battles(13, k=6, n=400)
    # "champ" wins all its battles
    a2 = a + ["champ"] * 10
    b2 = b + [f"m{i % 6}" for i in range(10)]
    y2 = np.concatenate([y, np.ones(10)])
    fit = bradley_terry(a2, b2, y2, n_boot=30)
    assert not fit.mle_exists
    assert fit.warning is not None and "no losses: champ" in fit.warning
    assert all(math.isfinite(v) for v in fit.ratings.values())
    assert fit.names[0] == "champ"
    # the others are hardly moved by the prior
    ref = bradley_terry(a, b, y)
    assert max(abs((fit.ratings[n] - fit.ratings["m0"]) - (ref.ratings[n] - ref.ratings["m0"]))
               for n in ref.ratings) < 1e-2
    # a tie is a "scored against" edge both ways: a > b > c with c tying a is a cycle
    cycle = bradley_terry(["a", "b", "a"], ["b", "c", "c"], [1.0, 1.0, 0.5])
    assert cycle.mle_exists
    loser = bradley_terry(["a", "b", "a"], ["b", "c", "c"], [1.0, 1.0, 1.0])
    assert not loser.mle_exists and loser.warning is not None
    assert "no losses: a" in loser.warning and "no wins: c" in loser.warning
    assert str(RIDGE) in loser.warning or f"{RIDGE:g}" in loser.warning


def test_davidson_without_ties_warns() -> None:
    fit = bradley_terry(["a", "b", "c", "a"], ["b", "c", "a", "c"], [1, 1, 1, 0], ties="davidson")
    assert not fit.mle_exists and fit.warning is not None and "no ties" in fit.warning
    assert fit.tie_param is not None and fit.tie_param < 1e-2


def _fastchat_compute_elo(battles: list[tuple[str, str, str]], K: float = 4, SCALE: float = 400,
                          BASE: float = 10, INIT_RATING: float = 1000) -> dict[str, float]:
    # A plain transcription of FastChat's fastchat/serve/monitor/elo_analysis.py compute_elo.
    from collections import defaultdict

    rating: defaultdict[str, float] = defaultdict(lambda: INIT_RATING)
    for model_a, model_b, winner in battles:
        ra = rating[model_a]
        rb = rating[model_b]
        ea = 1 / (1 + BASE ** ((rb - ra) / SCALE))
        eb = 1 / (1 + BASE ** ((ra - rb) / SCALE))
        if winner == "model_a":
            sa = 1.0
        elif winner == "model_b":
            sa = 0.0
        elif winner == "tie" or winner == "tie (bothbad)":
            sa = 0.5
        else:
            raise Exception(f"unexpected vote {winner}")
        rating[model_a] += K * (sa - ea)
        rating[model_b] += K * (1 - sa - eb)
    return dict(rating)


def test_online_elo_equals_fastchat_compute_elo() -> None:
    a, b, y, _ = _battles(14, k=8, n=3000)
    label = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    ref = _fastchat_compute_elo([(x, z, label[float(o)]) for x, z, o in zip(a, b, y, strict=True)])
    got = online_elo(a, b, y)
    assert got.keys() == ref.keys()
    for n in ref:
        assert got[n] == ref[n]
    got32 = online_elo(a, b, y, k=32, init=1500)
    ref32 = _fastchat_compute_elo([(x, z, label[float(o)]) for x, z, o in zip(a, b, y,
                                                                              strict=True)],
                                  K=32, INIT_RATING=1500)
    assert got32 == ref32


def test_predicted_win_rate_matrix() -> None:
    a, b, y, _ = _battles(15, k=8)
    fit = bradley_terry(a, b, y)
    w = fit.win_rate
    assert w.shape == (8, 8)
    np.testing.assert_allclose(w + w.T, 1.0, atol=1e-12)
    np.testing.assert_allclose(np.diag(w), 0.5)
    # names are best first, so the upper triangle favours the row
    assert np.all(w[np.triu_indices(8, 1)] >= 0.5)
    i, j = fit.names[0], fit.names[3]
    assert w[0, 3] == pytest.approx(1 / (1 + math.exp(fit.ratings[j] - fit.ratings[i])))
    np.testing.assert_allclose(predicted_win_rate(fit.ratings), w)
    dav = predicted_win_rate({"x": 0.4, "y": 0.0}, ["x", "y"], tie_param=0.8)
    pi_x, pi_y = math.exp(0.4), 1.0
    t = 0.8 * math.sqrt(pi_x * pi_y)
    assert dav[0, 1] == pytest.approx((pi_x + t / 2) / (pi_x + pi_y + t))


def test_bootstrap_intervals_ranks_and_method() -> None:
    a, b, y, prompts = _battles(16, k=8, n=2000)
    fit = bradley_terry(a, b, y, prompts=prompts, n_boot=200, seed=3)
    assert fit.method == "prompt-clustered bootstrap, B=200"
    assert fit.n_prompts == len(set(prompts.tolist()))
    assert fit.intervals is not None and fit.rank_intervals is not None
    assert fit.boot_elo is not None and fit.boot_elo.shape == (200, 8)
    for n in fit.names:
        lo, hi = fit.intervals[n]
        assert lo < fit.elo[n] < hi
        r_lo, r_hi = fit.rank_intervals[n]
        assert 1 <= r_lo <= r_hi <= 8
    assert fit.rank_intervals[fit.names[0]][0] == 1
    again = bradley_terry(a, b, y, prompts=prompts, n_boot=200, seed=3)
    assert again.intervals == fit.intervals
    battle = bradley_terry(a, b, y, prompts=prompts, n_boot=200, cluster=False)
    assert battle.method == "battle bootstrap, B=200"
    plain = bradley_terry(a, b, y, n_boot=50, confidence=0.9)
    assert plain.method == "battle bootstrap, B=50" and plain.confidence == 0.9
    dav = bradley_terry(a, b, y, prompts=prompts, n_boot=50, ties="davidson")
    assert dav.intervals is not None and dav.tie_param is not None
    with pytest.raises(ValueError, match="one prompt per battle"):
        bradley_terry(a, b, y, prompts=prompts[:-1], n_boot=5)
    with pytest.raises(ValueError, match="confidence"):
        bradley_terry(a, b, y, confidence=1.0)


@pytest.mark.parametrize("ties", ["half", "davidson"])
def test_batched_newton_equals_one_fit_at_a_time(ties: str) -> None:
    a, b, y, _ = _battles(17, k=7, n=1500)
    cells = _Battles.build(a, b, y).cells()
    base = np.bincount(cells.cell, minlength=cells.n_cells).astype(float)
    rng = np.random.default_rng(0)
    counts = rng.poisson(base, size=(5, base.size)).astype(float)
    batch, lam = _fit_counts(counts, cells, 7, ties, 0.0)
    for r in range(5):
        one, lam1 = _fit_counts(counts[r:r + 1], cells, 7, ties, 0.0)
        np.testing.assert_allclose(batch[r], one[0], atol=1e-10)
        if lam is not None and lam1 is not None:
            assert lam[r] == pytest.approx(lam1[0], abs=1e-10)
