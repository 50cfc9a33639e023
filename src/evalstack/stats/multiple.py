"""Adjusting p-values when many comparisons are made at once.

Comparing a model on twenty tasks, or twenty prompts against a baseline, at the 5% level
each, finds about one "significant" difference by chance alone. These adjustments make
the rejections as a family trustworthy.

References:
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    Scandinavian Journal of Statistics 6(2), 65-70.

    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. Journal of the Royal
    Statistical Society B 57(1), 289-300.

    Wright, S. P. (1992). Adjusted p-values for simultaneous inference. Biometrics 48(4),
    1005-1013 (adjusted p-values for both procedures).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.result import Adjusted


def holm(p_values: ArrayLike, alpha: float = 0.05) -> Adjusted:
    """Holm's (1979) step-down adjustment: controls the family-wise error rate.

    With the ``m`` p-values sorted, ``p_(1) <= ... <= p_(m)``, the ``i``-th is rejected
    while ``p_(j) <= alpha / (m - j + 1)`` for every ``j <= i``. The adjusted p-value is
    ``max_{j <= i} min(1, (m - j + 1) * p_(j))`` (Wright 1992), so a hypothesis is rejected
    exactly when its adjusted p-value is at most ``alpha``. Holm is uniformly more
    powerful than Bonferroni and needs no assumption about dependence between the tests.
    It equals ``statsmodels.stats.multitest.multipletests(method="holm")``.

    Args:
        p_values: the raw p-values, each in [0, 1].
        alpha: the family-wise error rate, strictly between 0 and 1.

    Returns:
        The adjusted p-values and rejections, in the input order; empty tuples for
        empty input. ``method`` is ``"holm"``.

    Raises:
        ValueError: a p-value is outside [0, 1] or not a number, ``p_values`` is not
            one-dimensional, or ``alpha`` is outside (0, 1).

    Examples:
        >>> r = holm([0.01, 0.04, 0.03, 0.005])
        >>> r.p_values
        (0.03, 0.06, 0.06, 0.02)
        >>> r.reject
        (True, False, False, True)
    """
    level = _check_alpha(alpha)
    p = _as_p_values(p_values)
    m = p.size
    if m == 0:
        return Adjusted((), (), level, "holm")
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    steps = np.arange(m, 0, -1)  # m - j + 1 for j = 1..m
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked * steps))
    # Compare p with alpha / k, not k * p with alpha, as statsmodels does, so that the
    # rejections match it exactly at the boundary.
    failing = np.flatnonzero(ranked > level / steps)
    reject = np.ones(m, dtype=bool)
    if failing.size:
        reject[failing[0] :] = False
    return _unsort(adjusted, reject, order, level, "holm")


def benjamini_hochberg(p_values: ArrayLike, alpha: float = 0.05) -> Adjusted:
    """Benjamini & Hochberg's (1995) step-up adjustment: controls the false discovery rate.

    With the ``m`` p-values sorted, it rejects the hypotheses with the ``k`` smallest,
    where ``k`` is the largest ``i`` with ``p_(i) <= i * alpha / m``. The adjusted p-value
    is ``min_{j >= i} min(1, m * p_(j) / j)``. Among the rejections, the expected share of
    true null hypotheses is at most ``alpha`` when the tests are independent or positively
    dependent. Never stricter than Holm. It equals
    ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``.

    Args:
        p_values: the raw p-values, each in [0, 1].
        alpha: the false discovery rate, strictly between 0 and 1.

    Returns:
        The adjusted p-values and rejections, in the input order; empty tuples for
        empty input. ``method`` is ``"benjamini_hochberg"``.

    Raises:
        ValueError: a p-value is outside [0, 1] or not a number, ``p_values`` is not
            one-dimensional, or ``alpha`` is outside (0, 1).

    Examples:
        >>> r = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
        >>> r.p_values
        (0.02, 0.04, 0.04, 0.02)
        >>> r.reject
        (True, True, True, True)
    """
    level = _check_alpha(alpha)
    p = _as_p_values(p_values)
    m = p.size
    if m == 0:
        return Adjusted((), (), level, "benjamini_hochberg")
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    share = np.arange(1, m + 1) / m
    adjusted = np.minimum(1.0, np.minimum.accumulate((ranked / share)[::-1])[::-1])
    passing = np.flatnonzero(ranked <= share * level)
    reject = np.zeros(m, dtype=bool)
    if passing.size:
        reject[: passing[-1] + 1] = True
    return _unsort(adjusted, reject, order, level, "benjamini_hochberg")


def _unsort(
    adjusted: np.ndarray, reject: np.ndarray, order: np.ndarray, alpha: float, method: str
) -> Adjusted:
    p_out = np.empty_like(adjusted)
    r_out = np.empty_like(reject)
    p_out[order] = adjusted
    r_out[order] = reject
    return Adjusted(
        tuple(float(v) for v in p_out), tuple(bool(v) for v in r_out), alpha, method
    )


def _as_p_values(p_values: ArrayLike) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(
            f"p_values must be one-dimensional, one p-value per hypothesis; got an array of "
            f"shape {p.shape}."
        )
    bad = p[~((p >= 0) & (p <= 1))]  # also catches NaN
    if bad.size:
        raise ValueError(
            f"p_values must each lie in [0, 1]; got {float(bad[0])!r}. Pass the raw "
            "p-values of the tests (drop tests that produced no p-value)."
        )
    return p


def _check_alpha(alpha: Any) -> float:
    try:
        level = float(alpha)
    except (TypeError, ValueError):
        level = math.nan
    if isinstance(alpha, bool) or not 0 < level < 1:
        raise ValueError(
            f"alpha must be a number strictly between 0 and 1, such as 0.05; got {alpha!r}."
        )
    return level
