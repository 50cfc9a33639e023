"""Which items a model answers right only in their original wording: a two-class mixture.

Each item has its original-wording outcome ``o`` (0/1) and ``k`` right answers out of ``m``
reworded variants. An item the model has not memorised is right in the original wording as
often as in any other, so given its variant accuracy ``v``, ``P(o = 1) = v``. A memorised item
is right in the original wording whatever ``v`` is, and its ``v`` is low (the model does not
know the answer when the wording changes: ``v < 1/2``, wrong in most variants).

So the data of the whole run, not of one item, say how often "right in the original, wrong
in the variants" happens by chance. ``memorisation_posterior`` fits, by EM over a grid of
``v``, the share ``pi`` of memorised items and the distribution of ``v`` in each class, and
returns each item's posterior probability of being memorised. On a clean model ``pi`` comes
out near 0 and no item's posterior is high; on a contaminated one the items right in the
original and at chance in the variants get posteriors near ``pi / (pi + (1 - pi) v)``.

One original observation per item is all there is, so an item the model guessed right by luck
and a memorised one look the same: the posterior says how likely each is, given how common
memorisation is in the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom


@dataclass(frozen=True)
class MemorisationFit:
    """The fitted mixture.

    Attributes:
        posterior: each item's probability of being memorised (0 where ``o = 0``).
        share: the fitted share of memorised items, ``pi``.
        iterations: EM iterations used.
    """

    posterior: np.ndarray
    share: float
    iterations: int


def memorisation_posterior(original: ArrayLike, correct: ArrayLike, trials: ArrayLike, *,
                           grid: int = 50, max_iter: int = 2000,
                           tol: float = 1e-9) -> MemorisationFit:
    """Fit the two-class mixture (see the module docstring) and return each item's posterior.

    Args:
        original: 0/1, whether each item was right in its original wording.
        correct: how many of each item's variants were right.
        trials: how many variants each item had (at least 1).
        grid: points of the grid over the variant accuracy ``v`` in (0, 1).

    Examples:
        >>> o = [1] * 50 + [1, 0] * 25
        >>> k = [0] * 50 + [8, 0] * 25
        >>> fit = memorisation_posterior(o, k, [8] * 100)
        >>> bool(fit.posterior[0] > 0.9), bool(fit.posterior[50] < 0.1)
        (True, True)
    """
    o = np.asarray(original, dtype=float)
    k = np.asarray(correct, dtype=float)
    m = np.asarray(trials, dtype=float)
    if not (o.shape == k.shape == m.shape) or o.ndim != 1:
        raise ValueError(f"Expected three 1-d arrays of one length; got shapes {o.shape}, "
                         f"{k.shape}, {m.shape}.")
    if np.any((o != 0) & (o != 1)) or np.any(m < 1) or np.any((k < 0) | (k > m)):
        raise ValueError("Expected original outcomes of 0 or 1, at least one variant per item "
                         "and 0 <= correct <= trials.")
    if o.size == 0:
        return MemorisationFit(np.zeros(0), 0.0, 0)
    v = (np.arange(grid) + 0.5) / grid
    like = binom.pmf(k[:, None], m[:, None], v[None, :])
    clean = like * np.where(o[:, None] == 1, v[None, :], 1 - v[None, :])
    low = v < 0.5
    memo = np.where((o == 1)[:, None] & low[None, :], like, 0.0)
    g = np.full(grid, 1 / grid)
    h = low / low.sum()
    pi = 0.1
    previous = -np.inf
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported below
        a = (1 - pi) * clean * g
        b = pi * memo * h
        total = a.sum(1) + b.sum(1)
        total = np.where(total > 0, total, np.finfo(float).tiny)
        loglik = float(np.log(total).sum())
        ra, rb = a / total[:, None], b / total[:, None]
        pi = float(rb.sum() / o.size)
        g = ra.sum(0) / max(ra.sum(), np.finfo(float).tiny)
        h = rb.sum(0) / rb.sum() if rb.sum() > 0 else h
        if loglik - previous < tol:
            break
        previous = loglik
    a = (1 - pi) * clean * g
    b = pi * memo * h
    total = a.sum(1) + b.sum(1)
    posterior = np.where(total > 0, b.sum(1) / np.where(total > 0, total, 1), 0.0)
    return MemorisationFit(posterior, pi, iterations)
