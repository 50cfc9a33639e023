"""Paired comparisons: two systems scored on the same samples.

Pairing removes the variation between samples (some questions are simply hard), so a
paired test sees a difference that an unpaired one would miss. ``a`` holds the baseline's
scores and ``b`` the candidate's, one per sample in the same order; every estimate is
``mean(b) - mean(a)``.

References:
    McNemar, Q. (1947). Note on the sampling error of the difference between correlated
    proportions or percentages. Psychometrika 12(2), 153-157.

    Edwards, A. L. (1948). Note on the "correction for continuity" in testing the
    significance of the difference between correlated proportions. Psychometrika 13(3),
    185-187.

    Agresti, A. and Min, Y. (2005). Simple improved confidence intervals for comparing
    matched proportions. Statistics in Medicine 24(5), 729-740.

    Hall, P. and Wilson, S. R. (1991). Two guidelines for bootstrap hypothesis testing.
    Biometrics 47(2), 757-762.

    Good, P. (2005). Permutation, Parametric, and Bootstrap Tests of Hypotheses, 3rd ed.
    Springer. Section 3.7 (the paired sign-flip test).

    Wilcoxon, F. (1945). Individual comparisons by ranking methods. Biometrics Bulletin
    1(6), 80-83; Pratt, J. W. (1959), Remarks on zeros and ties in the Wilcoxon signed
    rank procedures, JASA 54(287), 655-667.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.intervals import (
    _as_values,
    _bootstrap_distribution,
    _check_resamples,
    _check_rng,
    _chunked,
    _critical_value,
    _Groups,
    _resolve_statistic,
)
from evalstack.stats.result import StatResult

# Up to this many independent units (pairs, or clusters), the sign-flip test enumerates
# all 2**units sign patterns (65,536 at most) instead of sampling them.
_EXACT_MAX_UNITS = 16
# McNemar's chi-square needs enough discordant pairs; below this the exact test is used.
_EXACT_MAX_DISCORDANT = 25
_ZERO_METHODS = ("wilcox", "pratt", "zsplit")
_NAN = math.nan
_MEAN = _resolve_statistic("mean")[1]


def mcnemar(
    a: ArrayLike, b: ArrayLike, confidence: float = 0.95, exact: bool | None = None
) -> StatResult:
    """McNemar's test (McNemar 1947) and an interval for a difference of paired proportions.

    Only the discordant pairs carry information: ``n10`` samples that ``a`` gets right and
    ``b`` wrong, and ``n01`` the other way round. The exact test is the two-sided binomial
    test of ``n01`` out of ``n10 + n01`` against 1/2; the asymptotic one is the
    chi-square ``(|n01 - n10| - 1)^2 / (n01 + n10)`` with Edwards' (1948) continuity
    correction, as in ``statsmodels.stats.contingency_tables.mcnemar``.

    The interval is Agresti & Min's (2005) adjusted Wald interval: add 1/2 to each of the
    four cells, then ``d* +/- z * se`` with ``d* = (n01 - n10) / (n + 2)`` and
    ``se = sqrt((n01 + n10 + 1) - (n01 - n10)^2 / (n + 2)) / (n + 2)``, truncated to
    [-1, 1]. It keeps near its nominal coverage where the plain Wald interval does not.

    Args:
        a: the baseline's 0/1 outcomes, one per sample.
        b: the candidate's 0/1 outcomes on the same samples, in the same order.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        exact: ``True`` for the exact binomial test, ``False`` for the chi-square, ``None``
            for exact when there are fewer than 25 discordant pairs.

    Returns:
        ``estimate = mean(b) - mean(a)`` with the Agresti-Min interval (widened, if need
        be, to contain the estimate) and its ``se``; ``p_value`` is two-sided, and 1.0
        when no pair is discordant. ``method`` is ``"mcnemar_exact"`` or
        ``"mcnemar_chi2"``; ``n`` is the number of pairs. All fields but ``n`` are ``nan``
        for empty input.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, hold values other than 0 and 1, or
            ``confidence`` is outside (0, 1).
        TypeError: ``exact`` is not ``True``, ``False`` or ``None``.

    Examples:
        >>> r = mcnemar([1, 1, 0, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 0, 1, 1])
        >>> (r.estimate, round(r.p_value, 4), r.method)
        (0.375, 0.25, 'mcnemar_exact')
    """
    z = _critical_value(confidence)
    if exact is not None and not isinstance(exact, bool | np.bool_):
        raise TypeError(f"exact must be True, False or None; got {exact!r}.")
    x, y = _pair(a, b)
    _require_binary(x, "a")
    _require_binary(y, "b")
    n = int(x.size)
    n10 = int(np.count_nonzero((x == 1) & (y == 0)))
    n01 = int(np.count_nonzero((x == 0) & (y == 1)))
    discordant = n10 + n01
    use_exact = bool(exact) if exact is not None else discordant < _EXACT_MAX_DISCORDANT
    method = "mcnemar_exact" if use_exact else "mcnemar_chi2"
    if n == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method, p_value=_NAN, se=_NAN)
    estimate = (n01 - n10) / n
    center, se = _agresti_min(n01, n10, n)
    low, high = max(-1.0, center - z * se), min(1.0, center + z * se)
    return StatResult(
        estimate,
        min(low, estimate),
        max(high, estimate),
        n,
        method,
        p_value=_mcnemar_p(n01, n10, use_exact),
        se=se,
    )


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    clusters: ArrayLike | None = None,
    rng: np.random.Generator | None = None,
) -> StatResult:
    """A bootstrap interval and test for the mean paired difference (Efron & Tibshirani 1993).

    Resamples the differences ``d = b - a`` (whole clusters of them when ``clusters`` is
    given, Davison & Hinkley 1997 sec. 3.8) and takes percentile bounds of the resampled
    means; the interval is exactly ``bootstrap_ci(b - a, clusters=clusters)`` for the same
    ``rng``. The two-sided p-value follows Hall & Wilson (1991), centring the bootstrap
    distribution on the observed mean: ``(1 + #{|d*_i - dbar| >= |dbar|}) / (B + 1)``.

    Args:
        a: the baseline's scores, one per sample.
        b: the candidate's scores on the same samples, in the same order.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        n_resamples: the number of bootstrap resamples ``B``.
        clusters: one cluster label per pair, or ``None`` for independent pairs.
        rng: the random generator; ``None`` uses ``numpy.random.default_rng(0)``.

    Returns:
        ``estimate = mean(b - a)``, its percentile interval (widened, if need be, to
        contain the estimate), the p-value, and ``se``, the standard deviation of the
        bootstrap distribution. ``method`` is ``"paired_bootstrap"`` or
        ``"cluster_paired_bootstrap"``. All fields but ``n`` are ``nan`` for empty input.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, ``clusters`` has a different
            length, or an argument is out of range.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Examples:
        >>> r = paired_bootstrap([0.2, 0.5, 0.4, 0.7, 0.3], [0.4, 0.6, 0.5, 0.9, 0.4])
        >>> (round(r.estimate, 2), r.ci_low > 0, r.method)
        (0.14, True, 'paired_bootstrap')
    """
    d, groups, n_resamples, rng = _prepare(a, b, confidence, n_resamples, clusters, rng)
    method = ("cluster_" if groups is not None else "") + "paired_bootstrap"
    if d.size == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method, p_value=_NAN, se=_NAN)
    return _bootstrap_result(d, groups, confidence, n_resamples, rng, method)


def paired_permutation(
    a: ArrayLike,
    b: ArrayLike,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    clusters: ArrayLike | None = None,
    rng: np.random.Generator | None = None,
) -> StatResult:
    """The paired permutation (sign-flip) test of the mean difference (Good 2005, sec. 3.7).

    Under the null hypothesis that ``a`` and ``b`` are exchangeable within each pair, each
    difference ``d_i = b_i - a_i`` is as likely to have the opposite sign. The test flips
    the signs at random (whole clusters together when ``clusters`` is given) and compares
    ``|mean|`` with its value under every flip: exactly, over all ``2**units`` sign
    patterns, when there are at most 16 units (pairs or clusters), else over
    ``n_resamples`` random ones, with ``p = (1 + hits) / (1 + n_resamples)``. It agrees
    with ``scipy.stats.permutation_test(..., permutation_type="samples")``.

    Args:
        a: the baseline's scores, one per sample.
        b: the candidate's scores on the same samples, in the same order.
        confidence: the level of the interval, strictly between 0 and 1.
        n_resamples: random sign patterns, and bootstrap resamples for the interval.
        clusters: one cluster label per pair, or ``None`` for independent pairs.
        rng: the random generator; ``None`` uses ``numpy.random.default_rng(0)``.

    Returns:
        ``estimate = mean(b - a)`` with the two-sided permutation p-value. The interval and
        ``se`` are those of ``paired_bootstrap`` with the same arguments (the same ``rng``
        draws the bootstrap first). ``method`` is ``"paired_permutation"``. All fields but
        ``n`` are ``nan`` for empty input.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, ``clusters`` has a different
            length, or an argument is out of range.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Examples:
        >>> r = paired_permutation([0, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 0])
        >>> (r.estimate, r.p_value, r.method)
        (0.5, 0.25, 'paired_permutation')
    """
    d, groups, n_resamples, rng = _prepare(a, b, confidence, n_resamples, clusters, rng)
    method = "paired_permutation"
    if d.size == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method, p_value=_NAN, se=_NAN)
    boot = _bootstrap_result(d, groups, confidence, n_resamples, rng, method)
    units = d if groups is None else groups.sums
    observed = float(units.sum())
    if units.size <= _EXACT_MAX_UNITS:
        k = units.size
        signs = ((np.arange(2**k)[:, np.newaxis] >> np.arange(k)) & 1) * 2 - 1
        null, extra = signs @ units, 0
    else:
        null = _chunked(
            units.size, n_resamples, rng, lambda bits: (bits * 2 - 1) @ units, False, high=2
        )
        extra = 1
    # A relative tolerance, as scipy uses, so that sums equal up to rounding count as ties.
    gamma = abs(observed) * 100 * np.finfo(float).eps
    hits = int(np.count_nonzero(np.abs(null) >= abs(observed) - gamma))
    p = min(1.0, (hits + extra) / (null.size + extra))
    return StatResult(
        boot.estimate, boot.ci_low, boot.ci_high, boot.n, method, p_value=p, se=boot.se
    )


def wilcoxon_signed_rank(
    a: ArrayLike,
    b: ArrayLike,
    confidence: float = 0.95,
    zero_method: str = "pratt",
    rng: np.random.Generator | None = None,
    *,
    n_resamples: int = 10_000,
) -> StatResult:
    """The Wilcoxon signed-rank test (Wilcoxon 1945) of the paired differences, via scipy.

    A rank test: it asks whether the differences ``b - a`` are symmetric about zero, and
    is robust to a few extreme differences that would dominate a mean. Zeros are handled
    by ``zero_method``: ``"pratt"`` (Pratt 1959) ranks them and then drops them,
    ``"wilcox"`` drops them first, ``"zsplit"`` splits their ranks between the signs.
    The p-value is ``scipy.stats.wilcoxon(b - a, zero_method=zero_method).pvalue``.

    Args:
        a: the baseline's scores, one per sample.
        b: the candidate's scores on the same samples, in the same order.
        confidence: the level of the interval, strictly between 0 and 1.
        zero_method: ``"pratt"``, ``"wilcox"`` or ``"zsplit"``.
        rng: the random generator for the interval; ``None`` means ``default_rng(0)``.
        n_resamples: bootstrap resamples for the interval.

    Returns:
        ``estimate = mean(b - a)`` with the paired bootstrap interval and ``se``, and the
        two-sided signed-rank p-value (1.0 when every difference is zero). ``method`` is
        ``"wilcoxon_signed_rank"``. All fields but ``n`` are ``nan`` for empty input.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, ``zero_method`` is unknown, or an
            argument is out of range.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Examples:
        >>> r = wilcoxon_signed_rank([3, 4, 2, 5, 3, 4, 2, 3], [4, 6, 3, 5, 5, 6, 3, 4])
        >>> (r.estimate, round(r.p_value, 4), r.method)
        (1.25, 0.0156, 'wilcoxon_signed_rank')
    """
    if zero_method not in _ZERO_METHODS:
        raise ValueError(
            f"zero_method must be 'pratt', 'wilcox' or 'zsplit'; got {zero_method!r}."
        )
    d, _, n_resamples, rng = _prepare(a, b, confidence, n_resamples, None, rng)
    method = "wilcoxon_signed_rank"
    if d.size == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method, p_value=_NAN, se=_NAN)
    boot = _bootstrap_result(d, None, confidence, n_resamples, rng, method)
    if not np.any(d):
        p = 1.0
    else:
        from scipy.stats import wilcoxon

        p = float(wilcoxon(d, zero_method=zero_method).pvalue)
    return StatResult(
        boot.estimate, boot.ci_low, boot.ci_high, boot.n, method, p_value=p, se=boot.se
    )


# --- helpers ---------------------------------------------------------------------------


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as float arrays of equal length."""
    x = _as_values(a, "a")
    y = _as_values(b, "b")
    if x.size != y.size:
        raise ValueError(
            f"a and b must hold one score each per sample, in the same order; got "
            f"len(a)={x.size} and len(b)={y.size}. Match the two runs by sample id (and "
            "epoch) and drop the samples only one of them scored."
        )
    return x, y


def _require_binary(x: np.ndarray, name: str) -> None:
    bad = x[(x != 0) & (x != 1)]
    if bad.size:
        raise ValueError(
            f"{name} must hold 0/1 outcomes only; got {float(bad[0])!r}. Use "
            "paired_bootstrap or wilcoxon_signed_rank for other scores."
        )


def _prepare(
    a: ArrayLike,
    b: ArrayLike,
    confidence: float,
    n_resamples: Any,
    clusters: ArrayLike | None,
    rng: Any,
) -> tuple[np.ndarray, _Groups | None, int, np.random.Generator]:
    """Validate the common arguments; return the differences ``b - a`` and their clusters."""
    _critical_value(confidence)
    n_resamples = _check_resamples(n_resamples)
    rng = _check_rng(rng)
    x, y = _pair(a, b)
    d = y - x
    groups = None if clusters is None else _Groups.build(clusters, d)
    return d, groups, n_resamples, rng



def _bootstrap_result(
    d: np.ndarray,
    groups: _Groups | None,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
    method: str,
) -> StatResult:
    """The percentile interval, centred bootstrap p-value and SE of ``mean(d)``."""
    alpha = (1 - confidence) / 2
    dbar = float(_MEAN(d[np.newaxis, :])[0])
    boot = _bootstrap_distribution(d, "mean", _MEAN, groups, n_resamples, rng)
    low, high = (float(q) for q in np.quantile(boot, (alpha, 1 - alpha)))
    hits = int(np.count_nonzero(np.abs(boot - dbar) >= abs(dbar)))
    p = (1 + hits) / (n_resamples + 1)
    se = float(boot.std(ddof=1)) if n_resamples > 1 else _NAN
    return StatResult(dbar, min(low, dbar), max(high, dbar), int(d.size), method, p, se)


def _agresti_min(n01: int, n10: int, n: int) -> tuple[float, float]:
    """Agresti & Min's (2005) adjusted centre and standard error: 1/2 added to each cell."""
    total = n + 2
    diff = n01 - n10
    center = diff / total
    se = math.sqrt(max(0.0, (n01 + n10 + 1) - diff * diff / total)) / total
    return center, se


def _mcnemar_p(n01: int, n10: int, exact: bool) -> float:
    discordant = n01 + n10
    if discordant == 0:
        return 1.0
    if exact:
        from scipy.special import bdtr

        return min(1.0, 2.0 * float(bdtr(min(n01, n10), discordant, 0.5)))
    from scipy.special import chdtrc

    stat = (abs(n01 - n10) - 1) ** 2 / discordant
    return float(chdtrc(1, stat))

