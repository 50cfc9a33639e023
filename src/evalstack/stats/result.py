"""The small frozen value every statistic in ``evalstack.stats`` returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatResult:
    """An estimate with its confidence interval.

    Attributes:
        estimate: the point estimate (``nan`` when there is no data).
        ci_low: the lower bound of the interval (``nan`` when there is no data).
        ci_high: the upper bound of the interval (``nan`` when there is no data).
        n: the number of observations behind the estimate.
        method: how the interval was computed, e.g. ``wilson`` or ``bootstrap_bca``.
        p_value: the p-value, for statistics that come with a test.

    Examples:
        >>> r = StatResult(estimate=0.5, ci_low=0.3, ci_high=0.7, n=20, method="wilson")
        >>> round(r.ci_high - r.ci_low, 2)
        0.4
    """

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    p_value: float | None = None
