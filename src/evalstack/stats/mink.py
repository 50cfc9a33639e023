"""Min-K% Prob and Min-K%++ membership scores, and the ROC AUC that says how well they separate.

A text the model saw in training has few very unlikely tokens. Min-K% Prob (Shi et al. 2023,
"Detecting Pretraining Data from Large Language Models") is the mean log-probability of the
lowest ``k`` fraction of a text's tokens. Min-K%++ (Zhang et al. 2024) first standardises each
token's log-probability by the mean ``mu_t`` and standard deviation ``sigma_t`` of log p under
the model's next-token distribution at that position, then takes the same lowest-``k`` mean.
For both, higher means "more likely a member" (seen in training).

``auc_with_interval`` is the ROC AUC of a score for members (positive) against non-members,
with a DeLong 95% interval; ties count one half (the Mann-Whitney statistic).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from evalstack.stats.result import StatResult

__all__ = ["auc_with_interval", "min_k_plus_plus", "min_k_prob", "token_z_scores"]


def _as_vector(values: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"Expected {name} to be a one-dimensional sequence of numbers; "
                         f"received an array of shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"Expected {name} to be finite numbers; received {x[~np.isfinite(x)][:3]}"
                         f" among them. Drop the items whose score is missing.")
    return x


def _check_k(k: Any) -> float:
    if isinstance(k, bool) or not isinstance(k, int | float) or not 0 < k <= 1:
        raise ValueError(f"Expected k, the fraction of lowest tokens kept, in (0, 1]; "
                         f"received {k!r}. The papers use 0.2.")
    return float(k)


def _lowest_mean(values: np.ndarray, k: float) -> float:
    if values.size == 0:
        return math.nan
    count = max(1, int(values.size * k))  # as the papers' code: int(len * k), at least one
    return float(np.sort(values)[:count].mean())


def min_k_prob(logprobs: ArrayLike, k: float = 0.2) -> float:
    """Min-K% Prob: the mean of the lowest ``k`` fraction of token log-probabilities.

    ``int(len * k)`` tokens are kept (at least one); ``nan`` for a text with no tokens.

    Examples:
        >>> min_k_prob([-1.0, -5.0, -0.5, -3.0, -0.1], k=0.4)
        -4.0
        >>> min_k_prob([-2.0, -0.5], k=0.2)
        -2.0
    """
    return _lowest_mean(_as_vector(logprobs, "logprobs"), _check_k(k))


def token_z_scores(logprobs: ArrayLike, mean: ArrayLike, variance: ArrayLike) -> np.ndarray:
    """Min-K%++'s token scores ``(log p(x_t) - mu_t) / sigma_t`` (0 where ``sigma_t`` is 0).

    Examples:
        >>> token_z_scores([-1.0, -3.0], [-2.0, -2.0], [4.0, 0.0]).tolist()
        [0.5, 0.0]
    """
    lp = _as_vector(logprobs, "logprobs")
    mu = _as_vector(mean, "mean")
    var = _as_vector(variance, "variance")
    if not lp.shape == mu.shape == var.shape:
        raise ValueError(f"Expected logprobs, mean and variance of one length each; received "
                         f"{lp.size}, {mu.size} and {var.size}.")
    if np.any(var < 0):
        raise ValueError(f"Expected variances of at least 0; received {var[var < 0][:3]}.")
    sigma = np.sqrt(var)
    out = np.zeros_like(lp)
    np.divide(lp - mu, sigma, out=out, where=sigma > 0)
    return out


def min_k_plus_plus(logprobs: ArrayLike, mean: ArrayLike, variance: ArrayLike,
                    k: float = 0.2) -> float:
    """Min-K%++: the mean of the lowest ``k`` fraction of standardised token log-probabilities.

    Examples:
        >>> min_k_plus_plus([-1.0, -3.0, -2.0], [-2.0, -2.0, -2.0], [4.0, 1.0, 1.0], k=0.5)
        -1.0
    """
    return _lowest_mean(token_z_scores(logprobs, mean, variance), _check_k(k))


def _placements(members: np.ndarray, nonmembers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per member, the share of non-members it beats
    (ties one half), and per non-member the share of members that beat it."""
    wins = (members[:, None] > nonmembers[None, :]).astype(np.float64)
    wins += 0.5 * (members[:, None] == nonmembers[None, :])
    return wins.mean(axis=1), wins.mean(axis=0)


def auc_with_interval(member_scores: ArrayLike, nonmember_scores: ArrayLike,
                      confidence: float = 0.95) -> StatResult:
    """ROC AUC of a score, members positive, with a DeLong interval (DeLong et al. 1988).

    ``n`` is the number of members plus non-members; ``p_value`` tests AUC = 0.5 (two-sided).
    When the DeLong standard error is 0 (perfect separation, or every pair tied) the
    interval is Wilson's for the AUC as a proportion of ``min(n_members, n_nonmembers)``
    trials (``method`` says ``wilson_min_n``): a rough but honest width in place of a
    zero-width interval.

    Examples:
        >>> r = auc_with_interval([3.0, 2.0, 0.5], [1.0, 0.0, 2.0])
        >>> round(r.estimate, 4), r.n, r.method
        (0.7222, 6, 'delong')
    """
    x = _as_vector(member_scores, "member_scores")
    y = _as_vector(nonmember_scores, "nonmember_scores")
    if not 0 < confidence < 1:
        raise ValueError(f"Expected a confidence in (0, 1); received {confidence!r}.")
    n = int(x.size + y.size)
    if x.size == 0 or y.size == 0:
        return StatResult(math.nan, math.nan, math.nan, n, "delong")
    v10, v01 = _placements(x, y)
    auc = float(v10.mean())
    s10 = float(v10.var(ddof=1)) if x.size > 1 else 0.0
    s01 = float(v01.var(ddof=1)) if y.size > 1 else 0.0
    se = math.sqrt(s10 / x.size + s01 / y.size)
    z = float(ndtri(0.5 + confidence / 2))
    if se > 0:
        p_value = float(2 * ndtr(-abs(auc - 0.5) / se))
        return StatResult(auc, max(0.0, auc - z * se), min(1.0, auc + z * se), n, "delong",
                          p_value=p_value, se=se)
    trials = min(x.size, y.size)
    centre = (auc + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(auc * (1 - auc) / trials
                                                 + z * z / (4 * trials * trials))
    return StatResult(auc, max(0.0, centre - half), min(1.0, centre + half), n, "wilson_min_n",
                      se=0.0)


def distribution_scores(logits: ArrayLike,
                        targets: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of next-token ``logits``: log p of its target, and the mean and variance of
    log p over the vocabulary under p (Min-K%++'s mu and sigma^2), all in float64.

    Examples:
        >>> lp, mu, var = distribution_scores(np.zeros((1, 4)), np.array([2]))
        >>> round(float(lp[0]), 6), round(float(mu[0]), 6), round(float(var[0]), 12)
        (-1.386294, -1.386294, 0.0)
    """
    scores = np.asarray(logits, dtype=np.float64)
    top = scores.max(axis=1, keepdims=True)
    shifted = scores - top
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    mean = (p * logp).sum(axis=1)
    variance = np.maximum((p * (logp - mean[:, None]) ** 2).sum(axis=1), 0.0)
    chosen = np.asarray(targets)
    picked = logp[np.arange(chosen.size), chosen]
    return picked, mean, variance
