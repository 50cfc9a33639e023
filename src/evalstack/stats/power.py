"""Planning: how many samples a comparison needs, and what a given size can detect.

All formulas are normal approximations at two-sided level ``alpha`` (one-sided for
non-inferiority) with the stated ``power``; sample sizes are rounded up.

References:
    Fleiss, J. L., Levin, B. and Paik, M. C. (2003). Statistical Methods for Rates and
    Proportions, 3rd ed. Wiley. Section 4.2, eq. 4.14 (two independent proportions,
    without the continuity correction).

    Connor, R. J. (1987). Sample size for testing differences in proportions for the
    paired-sample design. Biometrics 43(1), 207-211.

    Chow, S.-C., Shao, J. and Wang, H. (2008). Sample Size Calculations in Clinical
    Research, 2nd ed. Chapman & Hall/CRC. Section 3.1 (one-sample mean, non-inferiority).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from evalstack.stats.intervals import _NORMAL
from evalstack.stats.result import PowerResult


def sample_size_unpaired(
    p1: float, delta: float, alpha: float = 0.05, power: float = 0.8
) -> PowerResult:
    """Samples per arm to tell two independent proportions apart (Fleiss et al. 2003).

    For ``p2 = p1 + delta`` and ``pbar = (p1 + p2) / 2``:
    ``n = (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_{power} sqrt(p1 q1 + p2 q2))^2 / delta^2``,
    the two-sided pooled z-test without continuity correction, as
    ``statsmodels.stats.proportion.samplesize_proportions_2indep_onetail``. Use it when
    the two systems are scored on different samples; on the same samples,
    ``sample_size_paired`` needs far fewer.

    Args:
        p1: the baseline's expected proportion, strictly between 0 and 1.
        delta: the difference to detect, nonzero, with ``p1 + delta`` in (0, 1).
        alpha: the two-sided significance level, strictly between 0 and 1.
        power: the chance of detecting ``delta`` if it is real, strictly between 0 and 1.

    Returns:
        ``n`` per arm, ``ceil(estimate)``; ``method`` is ``"two_proportions_fleiss"``.

    Raises:
        ValueError: an argument is out of range; the message names it.

    Examples:
        >>> sample_size_unpaired(0.50, 0.05).n
        1565
    """
    p1 = _check_open(p1, "p1", "the baseline proportion, such as 0.5")
    za, zb = _z_two_sided(alpha), _z_power(power)
    d = _check_delta(delta, p1)
    est = _fleiss_n(p1, d, za, zb)
    return PowerResult(est, _ceil(est), float(alpha), float(power), "two_proportions_fleiss")


def sample_size_paired(
    delta: float, discordance: float, alpha: float = 0.05, power: float = 0.8
) -> PowerResult:
    """Pairs needed for McNemar's test to detect a difference (Connor 1987).

    With discordance ``psi`` (the share of samples the two systems score differently) and
    difference ``delta = mean(b) - mean(a)``:
    ``n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta^2))^2 / delta^2``.
    Connor's formula is for McNemar's test without continuity correction; ``mcnemar``'s
    exact and continuity-corrected tests are a little more conservative, so at this ``n``
    their power falls a few points short (about 77% instead of 80% for delta 0.05,
    psi 0.15). Plan 10% more pairs if that matters.

    Args:
        delta: the difference in proportions to detect, with ``0 < |delta| <= discordance``.
        discordance: the expected share of discordant pairs, in (0, 1]; measure it on a
            pilot run, e.g. ``mean(a != b)``.
        alpha: the two-sided significance level, strictly between 0 and 1.
        power: the chance of detecting ``delta`` if it is real, strictly between 0 and 1.

    Returns:
        The number of pairs ``n = ceil(estimate)``; ``method`` is ``"mcnemar_connor"``.

    Raises:
        ValueError: an argument is out of range; the message names it.

    Examples:
        >>> sample_size_paired(0.05, 0.15).n
        469
    """
    psi = _check_discordance(discordance)
    za, zb = _z_two_sided(alpha), _z_power(power)
    d = _check_paired_delta(delta, psi)
    est = _connor_n(d, psi, za, zb)
    return PowerResult(est, _ceil(est), float(alpha), float(power), "mcnemar_connor")


def sample_size_noninferiority(
    margin: float,
    sd: float,
    alpha: float = 0.05,
    power: float = 0.8,
    expected_delta: float = 0.0,
) -> PowerResult:
    """Pairs needed to show non-inferiority with a one-sided z-test (Chow et al. 2008).

    ``n = ((z_{1-alpha} + z_{power}) * sd / (margin + expected_delta))^2``, where ``sd`` is
    the standard deviation of the paired differences ``b - a``, for the test
    ``noninferiority`` runs. For 0/1 scores, ``sd = sqrt(psi - delta^2)`` with discordance
    ``psi`` and expected difference ``delta``.

    Args:
        margin: how much worse the candidate may be, non-negative, in score units.
        sd: the standard deviation of the paired differences, positive.
        alpha: the one-sided significance level, strictly between 0 and 1.
        power: the chance of showing non-inferiority when the truth is
            ``expected_delta``, strictly between 0 and 1.
        expected_delta: the difference ``mean(b) - mean(a)`` expected in truth; 0 for "no
            worse", positive if the candidate is expected to be better.

    Returns:
        The number of pairs ``n = ceil(estimate)``; ``method`` is ``"noninferiority_z"``.

    Raises:
        ValueError: an argument is out of range (including ``margin + expected_delta <=
            0``, when non-inferiority is not expected to hold); the message names it.

    Examples:
        >>> sample_size_noninferiority(0.1, 0.5).n
        155
    """
    m = _check_finite(margin, "margin")
    if m < 0:
        raise ValueError(
            f"margin must be non-negative, in the units of the score; got {margin!r}."
        )
    s = _check_finite(sd, "sd")
    if s <= 0:
        raise ValueError(
            f"sd must be positive: the standard deviation of the paired differences b - a; "
            f"got {sd!r}. Estimate it on a pilot run."
        )
    shift = m + _check_finite(expected_delta, "expected_delta")
    if shift <= 0:
        raise ValueError(
            f"margin + expected_delta must be positive; got margin={margin!r} and "
            f"expected_delta={expected_delta!r}. If the candidate is expected to be worse "
            "than the margin allows, no sample size can show it is non-inferior."
        )
    za, zb = _z_one_sided(alpha), _z_power(power)
    est = ((za + zb) * s / shift) ** 2
    return PowerResult(est, _ceil(est), float(alpha), float(power), "noninferiority_z")


def minimum_detectable_effect(
    n: int,
    p: float,
    alpha: float = 0.05,
    power: float = 0.8,
    paired: bool = False,
    discordance: float | None = None,
) -> PowerResult:
    """The smallest increase ``p -> p + delta`` a design of size ``n`` detects.

    The inverse of ``sample_size_unpaired`` (``n`` per arm, Fleiss et al. 2003) or, with
    ``paired=True``, of ``sample_size_paired`` (``n`` pairs with the given discordance,
    Connor 1987): the ``delta`` for which that function's unrounded estimate equals ``n``,
    found by root finding. The search covers ``0 < delta <= 1 - p`` (and ``<=
    discordance`` when paired).

    Args:
        n: the sample size (per arm, or pairs), a positive whole number.
        p: the baseline proportion, strictly between 0 and 1.
        alpha: the two-sided significance level, strictly between 0 and 1.
        power: the planned power, strictly between 0 and 1.
        paired: whether the two systems are scored on the same samples.
        discordance: for ``paired=True``, the expected share of discordant pairs, in
            (0, 1]; must be ``None`` otherwise.

    Returns:
        ``estimate`` is the detectable ``delta``; ``n`` the given ``n``. ``method`` is
        ``"mde_two_proportions_fleiss"`` or ``"mde_mcnemar_connor"``.

    Raises:
        ValueError: an argument is out of range; ``discordance`` is missing with
            ``paired=True`` or given without it; or ``n`` is too small to detect even the
            largest possible increase.
        TypeError: ``n`` is not a whole number.

    Examples:
        >>> round(minimum_detectable_effect(1565, 0.5).estimate, 4)
        0.05
        >>> round(minimum_detectable_effect(469, 0.7, paired=True, discordance=0.15).estimate, 3)
        0.05
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n must be a whole number of samples; got {n!r}.")
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}.")
    base = _check_open(p, "p", "the baseline proportion, such as 0.7")
    za, zb = _z_two_sided(alpha), _z_power(power)
    if paired:
        if discordance is None:
            raise ValueError(
                "paired=True needs discordance: the expected share of samples the two "
                "systems score differently, such as 0.15; got None."
            )
        psi = _check_discordance(discordance)
        top = min(psi, 1 - base)

        def size(d: float) -> float:
            return _connor_n(d, psi, za, zb)

        method = "mde_mcnemar_connor"
    else:
        if discordance is not None:
            raise ValueError(
                f"discordance is only used with paired=True; got discordance={discordance!r} "
                "with paired=False. Pass paired=True, or drop discordance."
            )
        top = 1 - base

        def size(d: float) -> float:
            return _fleiss_n(base, d, za, zb)

        method = "mde_two_proportions_fleiss"
    delta = _solve_decreasing(size, float(n), top, p)
    return PowerResult(delta, int(n), float(alpha), float(power), method)


# --- helpers ---------------------------------------------------------------------------


def _fleiss_n(p1: float, delta: float, za: float, zb: float) -> float:
    p2 = p1 + delta
    pbar = (p1 + p2) / 2
    null = math.sqrt(2 * pbar * (1 - pbar))
    alt = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return ((za * null + zb * alt) / delta) ** 2


def _connor_n(delta: float, psi: float, za: float, zb: float) -> float:
    return ((za * math.sqrt(psi) + zb * math.sqrt(max(0.0, psi - delta * delta))) / delta) ** 2


def _solve_decreasing(size: Callable[[float], float], n: float, top: float, p: float) -> float:
    """The ``delta`` in (0, top] where the decreasing ``size(delta)`` equals ``n``."""
    smallest = size(top)
    if n < smallest:
        raise ValueError(
            f"n={n:g} is too small: even the largest possible increase from p={p!r} "
            f"(delta={top:.4g}) needs n >= {math.ceil(smallest)}. Increase n, or lower power."
        )
    if n == smallest:
        return top
    from scipy.optimize import brentq

    low = top
    while size(low) <= n:  # size -> infinity as delta -> 0, so this ends
        low /= 2
    return float(brentq(lambda d: size(d) - n, low, top, xtol=1e-15, rtol=1e-14))


def _ceil(estimate: float) -> int:
    # A solution like 155.00000000000003 is 155 up to rounding, not 156.
    return math.ceil(estimate - 1e-9 * max(1.0, estimate))


def _check_finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number; got {value!r}.")
    return number


def _check_open(value: Any, name: str, hint: str) -> float:
    number = _check_finite(value, name)
    if not 0 < number < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1 ({hint}); got {value!r}.")
    return number


def _z_two_sided(alpha: Any) -> float:
    return _NORMAL.inv_cdf(1 - _check_open(alpha, "alpha", "such as 0.05") / 2)


def _z_one_sided(alpha: Any) -> float:
    return _NORMAL.inv_cdf(1 - _check_open(alpha, "alpha", "such as 0.05"))


def _z_power(power: Any) -> float:
    return _NORMAL.inv_cdf(_check_open(power, "power", "such as 0.8"))


def _check_delta(delta: Any, p1: float) -> float:
    d = _check_finite(delta, "delta")
    if d == 0 or not 0 < p1 + d < 1:
        raise ValueError(
            f"delta must be nonzero with p1 + delta strictly between 0 and 1; got "
            f"delta={delta!r} for p1={p1!r}, so the range is ({-p1:.4g}, {1 - p1:.4g})."
        )
    return d


def _check_discordance(discordance: Any) -> float:
    psi = _check_finite(discordance, "discordance")
    if not 0 < psi <= 1:
        raise ValueError(
            f"discordance must be in (0, 1], the share of samples the two systems score "
            f"differently, such as 0.15; got {discordance!r}."
        )
    return psi


def _check_paired_delta(delta: Any, psi: float) -> float:
    d = _check_finite(delta, "delta")
    if d == 0 or abs(d) > psi:
        raise ValueError(
            f"delta must be nonzero and at most the discordance in size (|delta| <= "
            f"{psi:g}), since only discordant pairs can differ; got delta={delta!r}."
        )
    return d
