"""Bradley-Terry ratings from pairwise battles, with prompt-clustered bootstrap intervals.

A battle is one judgement "``a`` against ``b``": 1.0 when ``a`` won, 0.0 when ``b`` won and 0.5
for a tie. The Bradley-Terry model says ``P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j)))``.
Ratings are fitted by maximum likelihood on the aggregated counts (a tie is half a win each
way, or a third outcome under Davidson's model) with Newton's method, many fits at once: the
bootstrap replicates are count tables too, so a thousand replicates are one batched Newton
solve rather than a thousand logistic regressions.

Battles on the same prompt share the prompt's difficulty and its quirks, so they are not
independent. With ``prompts`` given, the bootstrap resamples whole prompts (a cluster
bootstrap); resampling single battles makes the intervals too narrow whenever prompts matter
(``tests/stats/test_ranking_sim.py`` measures by how much).

References:
    Bradley, R. A. and Terry, M. E. (1952). Rank analysis of incomplete block designs: I. The
    method of paired comparisons. Biometrika 39(3/4), 324-345.

    Davidson, R. R. (1970). On extending the Bradley-Terry model to accommodate ties in paired
    comparison experiments. JASA 65(329), 317-328.

    Ford, L. R. (1957). Solution of a ranking problem from binary comparisons. American
    Mathematical Monthly 64(8), 28-33 (the MLE exists iff the "beat" graph is strongly
    connected).

    Chiang, W.-L. et al. (2024). Chatbot Arena: an open platform for evaluating LLMs by human
    preference. ICML. FastChat ``fastchat/serve/monitor/elo_analysis.py`` (``compute_elo``,
    ``compute_mle_elo``: the Elo scale 400 / ln 10 per unit of theta, centred at 1000), and
    the lmarena style-control note (2024) for the style covariates.

    Field, C. A. and Welsh, A. H. (2007). Bootstrapping clustered data. JRSS B 69(3), 369-390.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse import csgraph

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Elo points per unit of natural-log strength: FastChat's SCALE / ln(BASE) = 400 / ln 10.
ELO_PER_THETA = 400.0 / math.log(10.0)
#: The mean Elo rating (FastChat's INIT_RATING).
ELO_CENTRE = 1000.0
#: The precision of the Gaussian prior on theta (and log nu) used when the MLE does not exist,
#: and in every bootstrap replicate: a prior sd of 100 natural-log units. It keeps a contestant
#: that never lost finite (about log(its wins / RIDGE)), and moves well-determined ratings by
#: less than 1e-6 when there are hundreds of battles.
RIDGE = 1e-4
_GRAD_TOL = 1e-12  # per battle: stop when max |gradient| <= 1e-12 * number of battles
_MAX_ITER = 200
_BOOT_CELLS = 5_000_000  # bootstrap weights held at once (replicates x prompts)


class DisconnectedComparisons(ValueError):
    """The battles split the contestants into groups that never met one another.

    Ratings in different groups are not comparable (each group's mean is arbitrary), so no
    single ranking exists. ``groups`` lists the groups, largest first, each sorted.

    Examples:
        >>> try:
        ...     bradley_terry(["x", "z"], ["y", "w"], [1.0, 0.0])
        ... except DisconnectedComparisons as e:
        ...     e.groups
        [['w', 'z'], ['x', 'y']]
    """

    def __init__(self, groups: list[list[str]]) -> None:
        self.groups = groups
        shown = "; ".join("{" + ", ".join(g) + "}" for g in groups)
        super().__init__(
            f"Expected battles that connect every contestant; received {len(groups)} groups "
            f"that never met each other: {shown}. Add battles between the groups, or rate "
            "each group separately."
        )


@dataclass(frozen=True, eq=False)
class BradleyTerry:
    """A Bradley-Terry fit, with bootstrap intervals when ``n_boot > 0``.

    Attributes:
        ratings: log-strength theta per contestant (natural log, mean zero).
        elo: ``1000 + 400 / ln(10) * theta`` (FastChat's scale, mean 1000).
        names: the contestants, best first.
        n_battles: the number of battles fitted.
        win_rate: predicted expected score of row over column (``P(win) + P(tie) / 2``),
            ``names`` order; ``win_rate + win_rate.T == 1`` and the diagonal is 0.5.
        mle_exists: False when the maximum-likelihood estimate does not exist (some
            contestants never lost or never won); the fit then used the ``RIDGE`` prior.
        warning: why ``mle_exists`` is False, naming the contestants, else ``None``.
        ties: ``"half"`` or ``"davidson"``.
        tie_param: Davidson's ``nu`` (``None`` for ``ties="half"``).
        style_coef: the style coefficients ``beta`` (``None`` without ``style``).
        intervals: percentile interval per contestant on the Elo scale (bootstrap only).
        rank_intervals: percentile interval of the rank (1 = best) across replicates.
        method: how the intervals were made, e.g. ``"prompt-clustered bootstrap, B=1000"``.
        n_prompts: distinct prompts (``None`` without ``prompts``).
        confidence: the two-sided level of the intervals.
        boot_elo: the replicates' Elo ratings, shape ``(n_boot, len(names))``, ``names`` order.

    Examples:
        >>> fit = bradley_terry(["a", "a", "b", "c"], ["b", "c", "c", "a"], [1, 1, 0.5, 1])
        >>> fit.names, round(fit.ratings["a"], 3)
        (('a', 'c', 'b'), 0.583)
    """

    ratings: dict[str, float]
    elo: dict[str, float]
    names: tuple[str, ...]
    n_battles: int
    win_rate: FloatArray
    mle_exists: bool = True
    warning: str | None = None
    ties: str = "half"
    tie_param: float | None = None
    style_coef: tuple[float, ...] | None = None
    intervals: dict[str, tuple[float, float]] | None = None
    rank_intervals: dict[str, tuple[int, int]] | None = None
    method: str = "mle"
    n_prompts: int | None = None
    confidence: float = 0.95
    boot_elo: FloatArray | None = None


# --- public functions ----------------------------------------------------------------------


def bradley_terry(
    a: Sequence[str],
    b: Sequence[str],
    outcome: Sequence[float] | ArrayLike,
    *,
    prompts: Sequence[str] | ArrayLike | None = None,
    ties: Literal["half", "davidson"] = "half",
    n_boot: int = 0,
    cluster: bool = True,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    style: ArrayLike | None = None,
) -> BradleyTerry:
    """Fit Bradley-Terry ratings by maximum likelihood (Bradley & Terry 1952).

    The log-likelihood of the aggregated win counts is maximised by Newton's method with a
    mean-zero constraint until the gradient is below ``1e-12`` per battle. With ``ties="half"``
    a tie counts half a win each way (FastChat's ``compute_mle_elo``); with ``"davidson"`` a
    tie has probability ``nu sqrt(pi_i pi_j) / (pi_i + pi_j + nu sqrt(pi_i pi_j))`` (Davidson
    1970) and ``nu`` is fitted too. ``style`` adds per-battle covariates (lmarena style
    control): ``logit P(a wins) = theta_a - theta_b + beta . s``, fitted on battle rows with
    the outcome as the fractional response.

    With ``n_boot > 0`` the fit is repeated on ``n_boot`` bootstrap resamples and percentile
    intervals are returned. With ``prompts`` and ``cluster=True`` whole prompts are
    resampled (every battle of a prompt together); otherwise single battles are.

    Args:
        a: the first contestant of each battle.
        b: the second contestant of each battle.
        outcome: 1.0 where ``a`` won, 0.0 where ``b`` won, 0.5 for a tie.
        prompts: the prompt (cluster) of each battle.
        ties: ``"half"`` or ``"davidson"``.
        n_boot: bootstrap replicates (0 for none).
        cluster: resample prompts (True) or battles (False) when ``prompts`` is given.
        confidence: two-sided level of the percentile intervals, in (0, 1).
        seed: seed or ``numpy.random.Generator`` for the bootstrap.
        style: per-battle covariate differences ``a - b``, shape ``(n,)`` or ``(n, k)``.

    Returns:
        The fit; see :class:`BradleyTerry`.

    Raises:
        ValueError: lengths differ, an outcome is not 0, 0.5 or 1, a battle has one
            contestant on both sides, ``style`` is combined with Davidson ties, or an argument
            is out of range.
        DisconnectedComparisons: the contestants fall into groups that never met.

    Examples:
        >>> fit = bradley_terry(["a", "b", "a", "c"], ["b", "c", "c", "b"], [1, 0, 0.5, 0.5])
        >>> fit.names
        ('a', 'c', 'b')
        >>> round(fit.elo["a"] - fit.elo["b"], 1)
        341.0
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"Expected confidence in (0, 1); received {confidence!r}.")
    if n_boot < 0:
        raise ValueError(f"Expected n_boot >= 0; received {n_boot!r}.")
    if ties not in ("half", "davidson"):
        raise ValueError(f"Expected ties='half' or 'davidson'; received {ties!r}.")
    data = _Battles.build(a, b, outcome)
    s = None if style is None else _style_matrix(style, data.n)
    if s is not None and ties == "davidson":
        raise ValueError(
            "Expected ties='half' with style covariates; received ties='davidson'. Style "
            "control fits a logistic model with ties as half wins."
        )
    groups = _weak_groups(data)
    if len(groups) > 1:
        raise DisconnectedComparisons(groups)
    warning = _mle_warning(data, ties)
    ridge = 0.0 if warning is None else RIDGE
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    prompt_idx: IntArray | None = None
    n_prompts: int | None = None
    if prompts is not None:
        p = np.asarray(prompts)
        if p.shape != (data.n,):
            raise ValueError(
                f"Expected one prompt per battle ({data.n}); received shape {p.shape}."
            )
        _, inv = np.unique(p, return_inverse=True)
        prompt_idx = inv.astype(np.int64)
        n_prompts = int(prompt_idx.max()) + 1 if data.n else 0

    tie_param: float | None = None
    coef: tuple[float, ...] | None = None
    boot: FloatArray | None = None
    if s is None:
        cells = data.cells()
        counts = np.bincount(cells.cell, minlength=cells.n_cells).astype(np.float64)
        theta, lam = _fit_counts(counts[None, :], cells, data.k, ties, ridge)
        theta0 = theta[0]
        if lam is not None:
            tie_param = float(math.exp(lam[0]))
        if n_boot:
            boot = _boot_counts(cells, data, prompt_idx, cluster, n_boot, ties, rng)
    else:
        theta0, beta = _fit_style(data, s, np.ones(data.n), ridge)
        coef = tuple(float(x) for x in beta)
        if n_boot:
            boot = _boot_style(data, s, prompt_idx, cluster, n_boot, rng)

    order = sorted(range(data.k), key=lambda i: (-theta0[i], data.names[i]))
    names = tuple(data.names[i] for i in order)
    ratings = {data.names[i]: float(theta0[i]) for i in order}
    elo = {n: ELO_CENTRE + ELO_PER_THETA * t for n, t in ratings.items()}
    win = predicted_win_rate(ratings, names, tie_param)
    if boot is None:
        return BradleyTerry(ratings, elo, names, data.n, win, warning is None, warning, ties,
                            tie_param, coef, n_prompts=n_prompts, confidence=confidence)
    boot_elo = ELO_CENTRE + ELO_PER_THETA * boot[:, order]
    alpha = 1.0 - confidence
    lo, hi = np.quantile(boot_elo, [alpha / 2, 1 - alpha / 2], axis=0)
    ranks = 1 + (boot_elo[:, None, :] > boot_elo[:, :, None]).sum(axis=2)
    rlo = np.quantile(ranks, alpha / 2, axis=0, method="lower")
    rhi = np.quantile(ranks, 1 - alpha / 2, axis=0, method="higher")
    kind = ("prompt-clustered bootstrap" if prompt_idx is not None and cluster
            else "battle bootstrap")
    return BradleyTerry(
        ratings, elo, names, data.n, win, warning is None, warning, ties, tie_param, coef,
        intervals={n: (float(lo[i]), float(hi[i])) for i, n in enumerate(names)},
        rank_intervals={n: (int(rlo[i]), int(rhi[i])) for i, n in enumerate(names)},
        method=f"{kind}, B={n_boot}", n_prompts=n_prompts, confidence=confidence,
        boot_elo=boot_elo,
    )


def predicted_win_rate(
    ratings: Mapping[str, float],
    names: Sequence[str] | None = None,
    tie_param: float | None = None,
) -> FloatArray:
    """The predicted expected score ``P(i beats j) + P(tie) / 2`` for every pair.

    Without ``tie_param`` this is ``1 / (1 + exp(theta_j - theta_i))``; with Davidson's
    ``nu`` it is ``(pi_i + nu sqrt(pi_i pi_j) / 2) / (pi_i + pi_j + nu sqrt(pi_i pi_j))``.
    Either way ``W + W.T == 1`` and the diagonal is 0.5.

    Args:
        ratings: natural-log strengths theta (``BradleyTerry.ratings``).
        names: the row and column order; default best first.
        tie_param: Davidson's ``nu``, if the fit used Davidson ties.

    Returns:
        A ``(k, k)`` array in ``names`` order.

    Examples:
        >>> w = predicted_win_rate({"a": math.log(3.0), "b": 0.0})
        >>> w.round(2).tolist()
        [[0.5, 0.75], [0.25, 0.5]]
    """
    if names is None:
        names = sorted(ratings, key=lambda n: -ratings[n])
    th = np.array([ratings[n] for n in names], dtype=np.float64)
    d = th[:, None] - th[None, :]
    if tie_param is None:
        w: FloatArray = 0.5 * (1.0 + np.tanh(d / 2.0))
        return w
    c = np.cosh(d / 2.0)
    w = (np.exp(d / 2.0) + tie_param / 2.0) / (2.0 * c + tie_param)
    return w


def online_elo(
    a: Sequence[str],
    b: Sequence[str],
    outcome: Sequence[float] | ArrayLike,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
) -> dict[str, float]:
    """Sequential Elo updates in battle order, exactly FastChat's ``compute_elo``.

    Each battle moves ``a`` by ``k * (s_a - e_a)`` and ``b`` by ``k * (1 - s_a - e_b)`` with
    ``e_a = 1 / (1 + base ** ((r_b - r_a) / scale))``. The result depends on the order of
    the battles; prefer :func:`bradley_terry`, which does not.

    Args:
        a: the first contestant of each battle.
        b: the second contestant of each battle.
        outcome: 1.0 where ``a`` won, 0.0 where ``b`` won, 0.5 for a tie.
        k: the update step (FastChat's K = 4).
        scale: rating points per factor ``base`` in odds.
        base: the odds base.
        init: every contestant's starting rating.

    Returns:
        The final rating per contestant, in order of first appearance.

    Examples:
        >>> r = online_elo(["a"], ["b"], [1.0])
        >>> r["a"], r["b"]
        (1002.0, 998.0)
    """
    data = _Battles.build(a, b, outcome)
    rating: dict[str, float] = {}
    for x, y, s in zip(a, b, data.outcome.tolist(), strict=True):
        ra = rating.setdefault(x, init)
        rb = rating.setdefault(y, init)
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        rating[x] += k * (s - ea)
        rating[y] += k * (1 - s - eb)
    return rating


# --- data preparation ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Cells:
    """Battles as cells ``3 * pair + {0: lower index won, 1: tie, 2: higher index won}``."""

    lo: IntArray  # per observed pair
    hi: IntArray
    cell: IntArray  # per battle
    k: int

    @property
    def n_cells(self) -> int:
        return 3 * int(self.lo.size)


@dataclass(frozen=True)
class _Battles:
    names: list[str]
    ia: IntArray
    ib: IntArray
    outcome: FloatArray

    @property
    def n(self) -> int:
        return int(self.ia.size)

    @property
    def k(self) -> int:
        return len(self.names)

    @staticmethod
    def build(a: Sequence[str], b: Sequence[str], outcome: Sequence[float] | ArrayLike
              ) -> _Battles:
        y = np.asarray(outcome, dtype=np.float64).reshape(-1)
        if not len(a) == len(b) == y.size:
            raise ValueError(
                f"Expected a, b and outcome of one length; received {len(a)}, {len(b)} and "
                f"{y.size}."
            )
        bad = np.flatnonzero((y != 0.0) & (y != 0.5) & (y != 1.0))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"Expected outcomes 1.0 (a won), 0.0 (b won) or 0.5 (tie); received "
                f"{float(y[i])!r} at index {i}. Map winner labels to these three values."
            )
        names = sorted({str(x) for x in set(a) | set(b)})
        index = {n: i for i, n in enumerate(names)}
        ia = np.fromiter((index[str(x)] for x in a), np.int64, y.size)
        ib = np.fromiter((index[str(x)] for x in b), np.int64, y.size)
        same = np.flatnonzero(ia == ib)
        if same.size:
            i = int(same[0])
            raise ValueError(
                f"Expected two different contestants per battle; received {a[i]!r} against "
                f"itself at index {i}. Drop self-battles before rating."
            )
        return _Battles(names, ia, ib, y)

    def cells(self) -> _Cells:
        lo, hi = np.minimum(self.ia, self.ib), np.maximum(self.ia, self.ib)
        pair_key = lo * self.k + hi
        keys, pair = np.unique(pair_key, return_inverse=True)
        low_score = np.where(self.ia == lo, self.outcome, 1.0 - self.outcome)
        kind = np.where(low_score == 1.0, 0, np.where(low_score == 0.5, 1, 2))
        return _Cells(keys // self.k, keys % self.k, 3 * pair.astype(np.int64) + kind, self.k)


def _style_matrix(style: ArrayLike, n: int) -> FloatArray:
    s = np.asarray(style, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] != n or not np.all(np.isfinite(s)):
        raise ValueError(
            f"Expected style as finite numbers of shape ({n},) or ({n}, k); received shape "
            f"{np.shape(style)}."
        )
    return s


def _weak_groups(data: _Battles) -> list[list[str]]:
    g = sparse.coo_matrix((np.ones(data.n), (data.ia, data.ib)), shape=(data.k, data.k))
    n, label = csgraph.connected_components(g, directed=True, connection="weak")
    groups = [sorted(data.names[i] for i in np.flatnonzero(label == c)) for c in range(n)]
    return sorted(groups, key=lambda grp: (-len(grp), grp))


def _mle_warning(data: _Battles, ties: str) -> str | None:
    """Why the MLE does not exist (Ford 1957), or ``None`` when it does."""
    # i -> j when i scored against j (a win or a tie): the MLE exists iff strongly connected.
    score_a = data.outcome > 0.0
    score_b = data.outcome < 1.0
    src = np.concatenate([data.ia[score_a], data.ib[score_b]])
    dst = np.concatenate([data.ib[score_a], data.ia[score_b]])
    g = sparse.coo_matrix((np.ones(src.size), (src, dst)), shape=(data.k, data.k))
    n, label = csgraph.connected_components(g, directed=True, connection="strong")
    notes = []
    if n > 1:
        scored = np.bincount(src, minlength=data.k) > 0
        conceded = np.bincount(dst, minlength=data.k) > 0
        never_lost = [data.names[i] for i in np.flatnonzero(~conceded)]
        never_won = [data.names[i] for i in np.flatnonzero(~scored)]
        if never_lost:
            notes.append("no losses: " + ", ".join(never_lost))
        if never_won:
            notes.append("no wins: " + ", ".join(never_won))
        if not notes:
            comps = ["{" + ", ".join(data.names[i] for i in np.flatnonzero(label == c)) + "}"
                     for c in range(n)]
            notes.append("some groups won every battle against the rest: " + "; ".join(comps))
    if ties == "davidson":
        n_ties = int(np.count_nonzero(data.outcome == 0.5))
        if n_ties == 0:
            notes.append("no ties, so Davidson's nu is 0")
        elif n_ties == data.n:
            notes.append("only ties, so Davidson's nu is infinite")
    if not notes:
        return None
    return ("The maximum-likelihood ratings do not exist (" + "; ".join(notes) + "); fitted "
            f"with a Gaussian prior of precision {RIDGE:g} instead, so those ratings are "
            "bounded only by the prior.")


# --- batched Newton on count tables --------------------------------------------------------


def _fit_counts(counts: FloatArray, cells: _Cells, k: int, ties: str, ridge: float
                ) -> tuple[FloatArray, FloatArray | None]:
    """Fit every row of ``counts`` (shape ``(B, n_cells)``); theta ``(B, k)``, log nu ``(B,)``."""
    m = counts.reshape(counts.shape[0], -1, 3)
    n_pair = m.sum(axis=2)
    n_tot = n_pair.sum(axis=1)
    inc = np.zeros((cells.lo.size, k))
    rows = np.arange(cells.lo.size)
    inc[rows, cells.lo] = 1.0
    inc[rows, cells.hi] = -1.0
    outer = (inc[:, :, None] * inc[:, None, :]).reshape(cells.lo.size, k * k)
    dav = ties == "davidson"
    if dav:
        diff, n_tie = m[:, :, 0] - m[:, :, 2], m[:, :, 1]
    else:
        w_lo = m[:, :, 0] + 0.5 * m[:, :, 1]
    n_par = k + 1 if dav else k
    x = np.zeros((counts.shape[0], n_par))
    if dav:  # start nu at the tie share's moment estimate
        share = (n_tie.sum(axis=1) + 0.5) / (n_tot + 1.0)
        x[:, k] = np.log(2.0 * share / (1.0 - share + 1e-12) + 1e-12)

    def objective(x: FloatArray) -> FloatArray:
        d = x[:, :k] @ inc.T
        if dav:
            lam = x[:, k:]
            ll = (diff * d / 2 + n_tie * lam
                  - n_pair * np.logaddexp(np.logaddexp(d / 2, -d / 2), lam)).sum(axis=1)
        else:
            ll = (w_lo * d - n_pair * np.logaddexp(0.0, d)).sum(axis=1)
        out: FloatArray = ll - 0.5 * ridge * (x * x).sum(axis=1)
        return out

    centre = np.zeros((n_par, n_par))
    centre[:k, :k] = 1.0 / k
    eye = np.eye(n_par)
    obj = objective(x)
    for _ in range(_MAX_ITER):
        d = x[:, :k] @ inc.T
        if dav:
            lam = x[:, k:]
            top = np.maximum(np.abs(d) / 2, lam)
            e1, e2, e3 = np.exp(d / 2 - top), np.exp(-d / 2 - top), np.exp(lam - top)
            den = e1 + e2 + e3
            s_d, c_d, nu_d = (e1 - e2) / 2 / den, (e1 + e2) / 2 / den, e3 / den
            inv_d2 = (np.exp(-top) / den) ** 2
            g_d = diff / 2 - n_pair * s_d
            h_dd = -n_pair * (inv_d2 + nu_d * c_d / 2)
            h_dl = n_pair * s_d * nu_d
            h_ll = -n_pair * nu_d * 2 * c_d
            grad = np.concatenate([g_d @ inc, (n_tie - n_pair * nu_d).sum(1, keepdims=True)],
                                  axis=1)
            hess = np.empty((x.shape[0], n_par, n_par))
            hess[:, :k, :k] = (h_dd @ outer).reshape(-1, k, k)
            hess[:, :k, k] = hess[:, k, :k] = h_dl @ inc
            hess[:, k, k] = h_ll.sum(axis=1)
        else:
            p = 0.5 * (1.0 + np.tanh(d / 2))
            grad = (w_lo - n_pair * p) @ inc
            hess = (-(n_pair * p * (1 - p)) @ outer).reshape(-1, k, k)
        grad = grad - ridge * x
        if np.all(np.abs(grad).max(axis=1) <= _GRAD_TOL * np.maximum(n_tot, 1.0)):
            break
        step = np.linalg.solve(-hess + centre + ridge * eye, grad[:, :, None])[:, :, 0]
        t = np.ones((x.shape[0], 1))
        for _ in range(60):  # backtracking, per replicate
            cand = x + t * step
            new = objective(cand)
            worse = ~(new >= obj - 1e-12 * np.abs(obj))
            if not worse.any():
                break
            t[worse] /= 2
        x, obj = cand, new
    theta = x[:, :k] - x[:, :k].mean(axis=1, keepdims=True)
    return theta, (x[:, k] if dav else None)


def _boot_counts(cells: _Cells, data: _Battles, prompt_idx: IntArray | None, cluster: bool,
                 n_boot: int, ties: str, rng: np.random.Generator) -> FloatArray:
    """Theta for each bootstrap replicate, shape ``(n_boot, k)``."""
    n_cells = cells.n_cells
    out = np.empty((n_boot, data.k))
    if prompt_idx is None or not cluster:
        # Resampling battles = a multinomial draw over the cells with the observed shares.
        counts = np.bincount(cells.cell, minlength=n_cells).astype(np.float64)
        draws = rng.multinomial(data.n, counts / counts.sum(), size=n_boot).astype(np.float64)
        out[:] = _fit_counts(draws, cells, data.k, ties, RIDGE)[0]
        return out
    n_p = int(prompt_idx.max()) + 1
    # Replicate counts = per-prompt cell counts (cells x prompts, sparse) @ bootstrap weights
    # (prompts x B). float32 is exact while every sum of counts stays below 2**24 battles.
    dtype = np.float32 if data.n < 2**24 else np.float64
    per_prompt = sparse.csr_matrix(
        (np.ones(data.n, dtype=dtype), (cells.cell, prompt_idx)), shape=(n_cells, n_p))
    chunk = max(1, min(n_boot, _BOOT_CELLS // n_p))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draw = rng.integers(0, n_p, size=(b, n_p)) * b + np.arange(b)[:, None]
        weights = np.bincount(draw.ravel(), minlength=b * n_p).reshape(n_p, b).astype(dtype)
        counts = np.asarray(per_prompt @ weights, dtype=np.float64).T
        out[start:start + b] = _fit_counts(counts, cells, data.k, ties, RIDGE)[0]
    return out


# --- style control: Newton on battle rows ----------------------------------------------------


def _fit_style(data: _Battles, s: FloatArray, w: FloatArray, ridge: float
               ) -> tuple[FloatArray, FloatArray]:
    """Weighted logistic fit of theta (mean zero) and beta; ``w`` weights each battle."""
    k, q = data.k, s.shape[1]
    ia, ib, y = data.ia, data.ib, data.outcome
    x = np.zeros(k + q)
    centre = np.zeros((k + q, k + q))
    centre[:k, :k] = 1.0 / k

    def objective(x: FloatArray) -> float:
        eta = x[ia] - x[ib] + s @ x[k:]
        return float((w * (y * eta - np.logaddexp(0.0, eta))).sum()
                     - 0.5 * ridge * (x * x).sum())

    obj = objective(x)
    total = max(float(w.sum()), 1.0)
    for _ in range(_MAX_ITER):
        eta = x[ia] - x[ib] + s @ x[k:]
        p = 0.5 * (1.0 + np.tanh(eta / 2))
        r, h = w * (y - p), w * p * (1 - p)
        grad = np.concatenate([np.bincount(ia, r, k) - np.bincount(ib, r, k), s.T @ r])
        grad -= ridge * x
        if np.abs(grad).max() <= _GRAD_TOL * total:
            break
        hab = np.bincount(ia * k + ib, h, k * k).reshape(k, k)
        hess = np.empty((k + q, k + q))
        hess[:k, :k] = hab + hab.T - np.diag(hab.sum(0) + hab.sum(1))
        hs = h[:, None] * s
        cross = np.stack([np.bincount(ia, hs[:, j], k) - np.bincount(ib, hs[:, j], k)
                          for j in range(q)], axis=1)
        hess[:k, k:] = -cross
        hess[k:, :k] = -cross.T
        hess[k:, k:] = -(s.T @ hs)
        step = np.linalg.solve(-hess + centre + ridge * np.eye(k + q), grad)
        t = 1.0
        for _ in range(60):
            cand = x + t * step
            new = objective(cand)
            if new >= obj - 1e-12 * abs(obj):
                break
            t /= 2
        x, obj = cand, new
    return x[:k] - x[:k].mean(), x[k:]


def _boot_style(data: _Battles, s: FloatArray, prompt_idx: IntArray | None, cluster: bool,
                n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Style-controlled theta per replicate: one weighted row fit each (slower than counts)."""
    groups = prompt_idx if prompt_idx is not None and cluster else np.arange(data.n)
    n_g = int(groups.max()) + 1
    out = np.empty((n_boot, data.k))
    for i in range(n_boot):
        g_w = np.bincount(rng.integers(0, n_g, n_g), minlength=n_g).astype(np.float64)
        out[i] = _fit_style(data, s, g_w[groups], RIDGE)[0]
    return out
