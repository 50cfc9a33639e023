"""The small frozen values the functions in ``evalstack.stats`` return."""

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
        se: the standard error of the estimate, for statistics that have one.

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
    se: float | None = None

    def scaled(self, factor: float) -> StatResult:
        """The same result in other units (a per-sample mean times the samples of a run).

        Examples:
            >>> StatResult(2.0, 1.0, 3.0, 10, "bootstrap").scaled(100.0).ci_high
            300.0
        """
        if factor < 0:
            raise ValueError(f"Expected a factor of at least 0; received {factor!r}.")
        se = None if self.se is None else self.se * factor
        return StatResult(self.estimate * factor, self.ci_low * factor, self.ci_high * factor,
                          self.n, self.method, self.p_value, se)


@dataclass(frozen=True, slots=True)
class Adjusted:
    """P-values adjusted for multiple comparisons, and which hypotheses they reject.

    Attributes:
        p_values: the adjusted p-values, in the order of the input.
        reject: whether each hypothesis is rejected at level ``alpha``.
        alpha: the family-wise error rate (Holm) or false discovery rate (Benjamini-Hochberg).
        method: ``"holm"`` or ``"benjamini_hochberg"``.

    Examples:
        >>> a = Adjusted(p_values=(0.02, 0.5), reject=(True, False), alpha=0.05, method="holm")
        >>> sum(a.reject)
        1
    """

    p_values: tuple[float, ...]
    reject: tuple[bool, ...]
    alpha: float
    method: str


@dataclass(frozen=True, slots=True)
class PowerResult:
    """A planned sample size, or the smallest effect a sample size can detect.

    Attributes:
        estimate: the unrounded solution: a sample size for the ``sample_size_*``
            functions, an effect (difference in proportions) for
            ``minimum_detectable_effect``.
        n: the sample size: ``ceil(estimate)`` for the ``sample_size_*`` functions, the
            given ``n`` for ``minimum_detectable_effect``.
        alpha: the significance level of the planned test.
        power: the planned power, the chance of rejecting when the effect is real.
        method: the formula used, e.g. ``"two_proportions_fleiss"``.

    Examples:
        >>> PowerResult(estimate=468.6, n=469, alpha=0.05, power=0.8, method="mcnemar_connor").n
        469
    """

    estimate: float
    n: int
    alpha: float
    power: float
    method: str
