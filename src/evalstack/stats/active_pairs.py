"""Choosing the next battles so the top of a Bradley-Terry ranking settles sooner.

Uniformly random pairs spend most battles on contestants nobody doubts. Here the next pairs are
chosen where they most shrink the uncertainty that matters for the top: from the current fit
(a maximum-a-posteriori Bradley-Terry fit with a weak Gaussian prior) and its Fisher-information
covariance, the leader and the contenders whose Wald intervals on the difference to the leader
still include 0 define the target ``sum_c w_c Var(theta_leader - theta_c)``, with ``w_c`` the
approximate probability that contender ``c`` is really ahead of the leader. One battle of pair
``(i, j)`` adds ``p (1 - p) u u^T`` to the information (``u = e_i - e_j``), so its reduction of
each variance is the rank-one (Sherman-Morrison) update; pairs are picked greedily, updating
the covariance after each pick. Contestants with fewer than ``min_battles`` battles are
explored first, disconnected groups are bridged, and a small share of random pairs keeps every
pair's estimate honest.

References:
    Chen, X., Bennett, P. N., Collins-Thompson, K. and Horvitz, E. (2013). Pairwise ranking
    aggregation in a crowdsourced setting. WSDM (choosing comparisons by expected
    information gain).

    Chiang, W.-L. et al. (2024). Chatbot Arena: an open platform for evaluating LLMs by human
    preference. ICML, section 5.2 (sampling pairs to reduce the variance of the ranking).

    Fedorov, V. V. (1972). Theory of Optimal Experiments. Academic Press (greedy sequential
    design with rank-one information updates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse, stats
from scipy.sparse import csgraph

FloatArray = NDArray[np.float64]
Pair = tuple[str, str]
Strategy = Callable[[FloatArray, Sequence[str], int, np.random.Generator], list[Pair]]

#: Prior precision on theta for choosing pairs (sd 10): finite ratings from the first battle.
PRIOR = 1e-2


def win_matrix(a: Sequence[str], b: Sequence[str], outcome: ArrayLike,
               names: Sequence[str] | None = None) -> tuple[list[str], FloatArray]:
    """The names and the win matrix ``W[i, j]`` = wins of ``i`` over ``j`` (a tie is 1/2 each).

    Examples:
        >>> names, w = win_matrix(["a", "a"], ["b", "b"], [1.0, 0.5])
        >>> names, w.tolist()
        (['a', 'b'], [[0.0, 1.5], [0.5, 0.0]])
    """
    y = np.asarray(outcome, dtype=np.float64)
    if not len(a) == len(b) == y.size:
        raise ValueError(
            f"Expected a, b and outcome of one length; received {len(a)}, {len(b)}, {y.size}."
        )
    order = sorted(set(a) | set(b)) if names is None else list(names)
    index = {n: i for i, n in enumerate(order)}
    unknown = sorted((set(a) | set(b)) - set(index))
    if unknown:
        raise ValueError(f"Expected contestants among names; received unknown {unknown}.")
    ia = np.array([index[x] for x in a], dtype=np.int64)
    ib = np.array([index[x] for x in b], dtype=np.int64)
    w = np.zeros((len(order), len(order)))
    np.add.at(w, (ia, ib), y)
    np.add.at(w, (ib, ia), 1.0 - y)
    return order, w


def next_pairs(
    wins: ArrayLike,
    names: Sequence[str],
    k: int,
    *,
    confidence: float = 0.95,
    min_battles: int = 3,
    explore: float = 0.05,
    rng: np.random.Generator | None = None,
) -> list[Pair]:
    """The next ``k`` pairs to battle, chosen to separate the leader from its contenders.

    Args:
        wins: the ``(n, n)`` win matrix so far (see :func:`win_matrix`); zeros for a start.
        names: the contestant of each row; new contestants are rows of zeros.
        k: how many pairs to return (a pair may repeat).
        confidence: the level of the Wald intervals that decide who is a contender.
        min_battles: contestants with fewer battles are given a battle first.
        explore: the share of pairs drawn uniformly at random.
        rng: randomness for exploration and tie-breaking (default seed 0).

    Returns:
        ``k`` pairs of two different names.

    Raises:
        ValueError: ``wins`` is not square with one row per name, has negative entries,
            fewer than two names are given, or ``k`` is negative.

    Examples:
        >>> next_pairs(np.zeros((3, 3)), ["a", "b", "c"], 2)
        [('c', 'a'), ('b', 'c')]
    """
    w = _check(wins, names)
    if k < 0:
        raise ValueError(f"Expected k >= 0; received {k!r}.")
    rng = np.random.default_rng(0) if rng is None else rng
    n = w.shape[0]
    games = w + w.T
    played = games.sum(axis=1)
    pairs: list[tuple[int, int]] = []
    # 1. exploration: the least-played contestants first, against their least-met opponent
    for i in np.argsort(played + rng.random(n) * 0.5, kind="stable"):
        if len(pairs) >= k or played[i] >= min_battles:
            break
        met = games[i] + rng.random(n) * 0.5
        met[i] = np.inf
        j = int(np.argmin(met))
        pairs.append((int(i), j))
        games[i, j] += 1
        games[j, i] += 1
    # 2. bridge groups that never met
    if len(pairs) < k:
        g = sparse.csr_matrix(games > 0)
        n_groups, label = csgraph.connected_components(g, directed=False)
        if n_groups > 1:
            small = np.bincount(label).argmin()
            inside, outside = np.flatnonzero(label == small), np.flatnonzero(label != small)
            pairs.append((int(rng.choice(inside)), int(rng.choice(outside))))
    # 3. the greedy variance reduction at the top, with a little random exploration
    if len(pairs) < k:
        theta, cov = _fit(w, PRIOR)
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        lead = int(np.argmax(theta))
        gap = theta[lead] - theta
        var = np.diag(cov)[lead] + np.diag(cov) - 2 * cov[lead]
        sd = np.sqrt(np.maximum(var, 1e-300))
        contender = (gap < z * sd) & (np.arange(n) != lead)
        if not contender.any():
            contender = np.arange(n) == int(np.argsort(-theta)[1])
        weight = np.where(contender, stats.norm.sf(gap / sd), 0.0)
        v = -np.eye(n)[contender]
        v[:, lead] += 1.0
        weight = weight[contender]
        iu, ju = np.triu_indices(n, 1)
        u = np.zeros((iu.size, n))
        u[np.arange(iu.size), iu] = 1.0
        u[np.arange(iu.size), ju] = -1.0
        p = 1 / (1 + np.exp(-(theta[iu] - theta[ju])))
        h = p * (1 - p)
        while len(pairs) < k:
            if rng.random() < explore:
                i, j = rng.choice(n, 2, replace=False)
                pairs.append((int(i), int(j)))
                continue
            cu = cov @ u.T  # (n, pairs)
            quad = np.einsum("pn,np->p", u, cu)
            gain = (weight[:, None] * (v @ cu) ** 2).sum(axis=0) * h / (1 + h * quad)
            best = int(np.argmax(gain))
            pairs.append((int(iu[best]), int(ju[best])))
            c = cu[:, best]
            cov = cov - np.outer(c, c) * h[best] / (1 + h[best] * quad[best])
    return [(names[i], names[j]) for i, j in pairs[:k]]


def separated(wins: ArrayLike, names: Sequence[str] | None = None,
              confidence: float = 0.95) -> bool:
    """Whether the leader is ahead of the runner-up at ``confidence`` (a Wald test).

    The maximum-likelihood ratings and their covariance (the pseudo-inverse of the Fisher
    information) give ``z = (theta_1 - theta_2) / se``; the top is separated when the
    two-sided interval on the difference excludes 0. Before the MLE exists (someone has not
    lost or not won yet) nothing is separated.

    Examples:
        >>> w = np.array([[0.0, 60.0, 70.0], [40.0, 0.0, 50.0], [30.0, 50.0, 0.0]])
        >>> separated(w), separated(w / 10)
        (True, False)
    """
    w = _check(wins, [str(i) for i in range(np.shape(wins)[0])] if names is None else names)
    beat = sparse.csr_matrix(w > 0)
    if csgraph.connected_components(beat, directed=True, connection="strong")[0] > 1:
        return False
    theta, cov = _fit(w, 0.0)
    first, second = np.argsort(-theta)[:2]
    var = cov[first, first] + cov[second, second] - 2 * cov[first, second]
    if not var > 0:
        return False
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return bool((theta[first] - theta[second]) / np.sqrt(var) > z)


def uniform_pairs(wins: FloatArray, names: Sequence[str], k: int,
                  rng: np.random.Generator) -> list[Pair]:
    """``k`` pairs drawn uniformly at random: the baseline strategy."""
    out = []
    for _ in range(k):
        i, j = rng.choice(len(names), 2, replace=False)
        out.append((names[int(i)], names[int(j)]))
    return out


def active_pairs(wins: FloatArray, names: Sequence[str], k: int,
                 rng: np.random.Generator) -> list[Pair]:
    """:func:`next_pairs` with its defaults, as a strategy."""
    return next_pairs(wins, names, k, rng=rng)


def battles_to_separate(
    strategy: Strategy | Literal["active", "uniform"],
    true_theta: ArrayLike,
    rng: np.random.Generator,
    batch: int = 10,
    max_battles: int = 20_000,
    confidence: float = 0.95,
) -> int:
    """Simulate battles from ``true_theta`` until :func:`separated`; the battles it took.

    Each round asks ``strategy`` for ``batch`` pairs, plays them under Bradley-Terry with the
    true strengths (no ties), and checks separation. Returns ``max_battles`` if it never
    separates.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> battles_to_separate("active", [1.5, 0.0, -1.5], rng, batch=10) < 400
        True
    """
    theta = np.asarray(true_theta, dtype=np.float64)
    pick: Strategy
    if strategy == "active":
        pick = active_pairs
    elif strategy == "uniform":
        pick = uniform_pairs
    elif callable(strategy):
        pick = strategy
    else:
        raise ValueError(f"Expected 'active', 'uniform' or a callable; received {strategy!r}.")
    names = [f"c{i}" for i in range(theta.size)]
    index = {n: i for i, n in enumerate(names)}
    w = np.zeros((theta.size, theta.size))
    done = 0
    while done < max_battles:
        for x, y in pick(w, names, batch, rng):
            i, j = index[x], index[y]
            if rng.random() < 1 / (1 + np.exp(theta[j] - theta[i])):
                w[i, j] += 1
            else:
                w[j, i] += 1
        done += batch
        if separated(w, names, confidence):
            return done
    return max_battles


def _check(wins: ArrayLike, names: Sequence[str]) -> FloatArray:
    w = np.asarray(wins, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] != len(names):
        raise ValueError(
            f"Expected a square win matrix with one row per name ({len(names)}); received "
            f"shape {w.shape}."
        )
    if len(names) < 2:
        raise ValueError(f"Expected at least two contestants; received {list(names)}.")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("Expected finite, non-negative win counts; received a negative or "
                         "non-finite entry.")
    return w


def _fit(w: FloatArray, prior: float) -> tuple[FloatArray, FloatArray]:
    """MAP theta (mean zero) and its covariance for a win matrix, by Newton's method."""
    n = w.shape[0]
    games = w + w.T
    theta = np.zeros(n)
    centre = np.full((n, n), 1.0 / n)
    info = np.zeros((n, n))
    for _ in range(100):
        p = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))
        grad = (w - games * p).sum(axis=1) - prior * theta
        hp = games * p * (1 - p)
        info = np.diag(hp.sum(axis=1)) - hp + prior * np.eye(n)
        step = np.linalg.solve(info + centre, grad)
        theta = theta + np.clip(step, -5.0, 5.0)
        if np.abs(step).max() < 1e-10:
            break
    cov = np.asarray(np.linalg.pinv(info) if prior == 0 else np.linalg.inv(info), dtype=np.float64)
    return theta - theta.mean(), cov
