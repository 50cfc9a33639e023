"""Non-inferiority: is the candidate no worse than the baseline by more than a margin?

A cheaper model, a shorter prompt or a new release is acceptable if it loses at most
``margin`` of the score. The test turns the usual null hypothesis round: it starts from
"the candidate is worse by at least the margin" and rejects it only on evidence.

References:
    Wellek, S. (2010). Testing Statistical Hypotheses of Equivalence and Noninferiority,
    2nd ed. Chapman & Hall/CRC. Chapter 2 (the one-sided test against a shifted null,
    and its duality with the lower bound of a 1 - 2 alpha interval).

    Agresti, A. and Min, Y. (2005). Simple improved confidence intervals for comparing
    matched proportions. Statistics in Medicine 24(5), 729-740.

    Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. Journal of Human Resources 50(2), 317-372.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.clustered import _cluster_mean_se, _t_quantile, _t_sf
from evalstack.stats.intervals import _NORMAL, _Groups
from evalstack.stats.paired import _agresti_min, _pair, _require_binary
from evalstack.stats.result import StatResult

_KINDS = (None, "binary", "continuous", "ordinal")


def noninferiority(
    a: ArrayLike,
    b: ArrayLike,
    margin: float,
    alpha: float = 0.05,
    kind: str | None = None,
    clusters: ArrayLike | None = None,
) -> StatResult:
    """A one-sided test that ``b`` is worse than ``a`` by less than ``margin`` (Wellek 2010).

    With ``delta = mean(b) - mean(a)``, it tests H0: ``delta <= -margin`` against H1:
    ``delta > -margin`` at level ``alpha``. The test and the interval agree: ``p_value <
    alpha`` exactly when ``ci_low > -margin``. Which standard error it uses:

    * binary scores without clusters (``kind="binary"``, or ``kind=None`` and every score
      0 or 1): Agresti & Min's (2005) adjusted Wald interval for matched proportions,
      centred on its adjusted difference; method ``"noninferiority_agresti_min"``.
    * other scores without clusters: the normal (z) test on the paired differences with
      ``se = sd / sqrt(n)``, as ``statsmodels.stats.weightstats.ztest(b - a,
      value=-margin, alternative="larger")``; method ``"noninferiority_z"``.
    * with ``clusters``: the cluster-robust SE of ``clustered_se``, with Student's t on
      ``G - 1`` degrees of freedom as in its interval; method
      ``"noninferiority_clustered"``.

    Args:
        a: the baseline's scores, one per sample.
        b: the candidate's scores on the same samples, in the same order.
        margin: how much worse ``b`` may be, in the units of the score (``0.02`` is two
            points of accuracy); 0 turns the test into one of superiority.
        alpha: the one-sided significance level, strictly between 0 and 0.5.
        kind: ``"binary"``, ``"continuous"``, ``"ordinal"``, or ``None`` to detect 0/1
            scores.
        clusters: one cluster label per pair, or ``None`` for independent pairs.

    Returns:
        ``estimate = delta``; ``ci_low`` and ``ci_high`` are the two one-sided ``1 - alpha``
        bounds (together a two-sided ``1 - 2 * alpha`` interval, widened, if need be, to
        contain the estimate); ``p_value`` is the one-sided p-value of H0; and ``se``.
        With fewer than two pairs (or one cluster) on the z or clustered path the
        variance is unknown, and ``se``, the bounds and ``p_value`` are ``nan``. All
        fields but ``n`` are ``nan`` for empty input.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, ``margin`` is negative or not
            finite, ``alpha`` is outside (0, 0.5), ``kind`` is unknown, or
            ``kind="binary"`` scores are not all 0 or 1.

    Examples:
        >>> a = [1] * 80 + [0] * 20
        >>> b = [1] * 78 + [0] * 2 + [1] * 1 + [0] * 19
        >>> r = noninferiority(a, b, margin=0.05)
        >>> (round(r.estimate, 2), round(r.ci_low, 3), r.p_value < 0.05, r.method)
        (-0.01, -0.042, True, 'noninferiority_agresti_min')
    """
    level = _check_alpha(alpha)
    bound = _check_margin(margin)
    if kind not in _KINDS:
        raise ValueError(
            f"kind must be 'binary', 'continuous', 'ordinal' or None; got {kind!r}."
        )
    x, y = _pair(a, b)
    if kind == "binary":
        _require_binary(x, "a")
        _require_binary(y, "b")
    binary = kind == "binary" or (kind is None and x.size > 0 and _all_binary(x, y))
    d = y - x
    groups = None if clusters is None else _Groups.build(clusters, d)
    if groups is not None:
        method = "noninferiority_clustered"
    else:
        method = "noninferiority_agresti_min" if binary else "noninferiority_z"
    n = int(d.size)
    if n == 0:
        return StatResult(math.nan, math.nan, math.nan, 0, method, p_value=math.nan, se=math.nan)

    estimate = float(d.mean())
    upper_tail: Callable[[float], float]
    if groups is not None:
        center, se, n_clusters = _cluster_mean_se(d, groups)
        df = n_clusters - 1
        crit = _t_quantile(1 - level, df) if df > 0 else math.nan

        def t_tail(t: float) -> float:
            return _t_sf(t, df)

        upper_tail = t_tail
    else:
        if binary:
            n01 = int(np.count_nonzero(d == 1))
            n10 = int(np.count_nonzero(d == -1))
            estimate = (n01 - n10) / n
            center, se = _agresti_min(n01, n10, n)
        else:
            center = estimate
            se = float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        crit = _NORMAL.inv_cdf(1 - level)
        upper_tail = _normal_sf

    if math.isnan(se):
        return StatResult(estimate, math.nan, math.nan, n, method, p_value=math.nan, se=se)
    if se == 0:  # every difference the same: no uncertainty left
        p = 0.0 if center > -bound else 1.0
    else:
        p = upper_tail((center + bound) / se)
    low, high = center - crit * se, center + crit * se
    if binary and groups is None:
        low, high = max(-1.0, low), min(1.0, high)
    return StatResult(
        estimate, min(low, estimate), max(high, estimate), n, method, p_value=p, se=se
    )


def _normal_sf(z: float) -> float:
    """The upper tail of the standard normal, accurate far into the tail."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def _all_binary(x: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)) and np.all((y == 0) | (y == 1)))


def _check_alpha(alpha: Any) -> float:
    try:
        level = float(alpha)
    except (TypeError, ValueError):
        level = math.nan
    if isinstance(alpha, bool) or not 0 < level < 0.5:
        raise ValueError(
            f"alpha must be a one-sided significance level strictly between 0 and 0.5, "
            f"such as 0.05; got {alpha!r}."
        )
    return level


def _check_margin(margin: Any) -> float:
    try:
        value = float(margin)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(margin, bool) or not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"margin must be a non-negative number in the units of the score, such as "
            f"0.02 for two points of accuracy; got {margin!r}. It is how much worse b may "
            "be than a."
        )
    return value
