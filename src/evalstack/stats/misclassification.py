"""Rates measured by an imperfect detector, corrected for its measured error.

An attack success rate (or any rate) decided by a judge or a rule counts the detector's
mistakes too: a lenient judge inflates it, a strict one hides attacks. When the detector has
been checked against human labels, its sensitivity ``se`` and specificity ``sp`` are known
with some uncertainty, and the true rate follows from the observed one (Rogan and Gladen,
1978)::

    true = (observed + sp - 1) / (se + sp - 1)

NVIDIA's garak applies this correction with a bootstrap of the observed rate. Here the
interval also carries the uncertainty of ``se`` and ``sp`` from the labels, which is often
the larger part: each draw takes the observed rate, the sensitivity and the specificity
from their Jeffreys posteriors (Beta(k + 1/2, n - k + 1/2)) and applies the correction
(the Bayesian interval of Flor et al., 2020, with flat priors on the truth's scale
clipped to [0, 1]).

Two systems scored by the same detector on the same items compare paired: the specificity
cancels from the difference, ``(observed_a - observed_b) / (se + sp - 1)``, so its sign is
the sign of the observed paired difference and McNemar's test on the detections tests
"equal true rates" whatever the detector's error (given that its error does not depend on
the system). The interval resamples the pairs and draws ``se + sp - 1``.

References:
    Rogan, W. J. and Gladen, B. (1978). Estimating prevalence from the results of a
    screening test. American Journal of Epidemiology 107(1), 71-76.

    Flor, M., Weiss, M., Selhorst, T., Mueller-Graf, C. and Greiner, M. (2020). Comparison of
    Bayesian and frequentist methods for prevalence estimation under misclassification.
    BMC Public Health 20, 1135.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.intervals import wilson_ci
from evalstack.stats.paired import mcnemar
from evalstack.stats.result import StatResult

#: draws behind each interval
DRAWS = 20_000
PAIRED_DRAWS = 5_000


@dataclass(frozen=True)
class DetectorError:
    """A detector's confusion counts against human labels (``True`` = the attack succeeded).

    Attributes:
        tp: detector and label both say success.
        fn: the label says success, the detector missed it.
        tn: both say no success.
        fp: the detector says success, the label does not.
    """

    tp: int
    fn: int
    tn: int
    fp: int

    def __post_init__(self) -> None:
        for name in ("tp", "fn", "tn", "fp"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
                raise ValueError(f"expected {name} to be a count (a whole number >= 0); "
                                 f"received {value!r}.")
        if self.tp + self.fn == 0 or self.tn + self.fp == 0:
            raise ValueError(
                "the labels need both outcomes to measure a detector: "
                f"{self.tp + self.fn} labelled successes and {self.tn + self.fp} labelled "
                "failures were given. Label samples of both kinds.")

    @property
    def sensitivity(self) -> StatResult:
        return wilson_ci(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> StatResult:
        return wilson_ci(self.tn, self.tn + self.fp)

    @property
    def labels(self) -> int:
        return self.tp + self.fn + self.tn + self.fp

    def youden_draws(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray,
                                                                            np.ndarray]:
        """Sensitivity and specificity drawn from their Jeffreys posteriors."""
        se = rng.beta(self.tp + 0.5, self.fn + 0.5, size)
        sp = rng.beta(self.tn + 0.5, self.fp + 0.5, size)
        return se, sp


@dataclass(frozen=True)
class CorrectedRate:
    """An observed rate, the rate corrected for the detector's error, and why it may not be
    usable.

    Attributes:
        observed: the detector's rate with its Wilson interval.
        corrected: the corrected rate with its interval (``nan`` when it cannot be had).
        sensitivity / specificity: the detector's, from the labels.
        labels: how many labelled samples measured the detector.
        unstable: the share of draws in which the detector was no better than chance
            (``se + sp <= 1``); those draws are left out, and above 2.5% the interval is
            not trustworthy.
        note: a warning when the result cannot support a decision, else ``""``.
    """

    observed: StatResult
    corrected: StatResult
    sensitivity: StatResult
    specificity: StatResult
    labels: int
    unstable: float
    note: str


def _correct(p: np.ndarray, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
    j = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.clip((p + sp - 1) / j, 0.0, 1.0)
    return np.where(j > 0, out, np.nan)


def _note(unstable: float, error: DetectorError) -> str:
    j = error.sensitivity.estimate + error.specificity.estimate - 1
    if j <= 0:
        return ("The detector is no better than chance on the labels (sensitivity + "
                "specificity <= 1): its rate cannot be corrected. Use another detector.")
    if unstable > 0.025:
        return (f"In {100 * unstable:.0f}% of the draws the detector was no better than "
                "chance: label more samples before trusting the corrected interval.")
    return ""


def corrected_rate(detected: int, n: int, error: DetectorError, *,
                   confidence: float = 0.95, seed: int = 0) -> CorrectedRate:
    """The rate of ``detected`` in ``n``, corrected for the detector's measured error.

    Raises:
        ValueError: a count is negative or ``detected > n``.

    Examples:
        >>> err = DetectorError(tp=45, fn=5, tn=40, fp=10)  # se 0.9, sp 0.8
        >>> r = corrected_rate(260, 1000, err)  # observed 0.26
        >>> round(r.corrected.estimate, 3)      # (0.26 + 0.8 - 1) / 0.7
        0.086
        >>> r.corrected.ci_low < 0.086 < r.corrected.ci_high
        True
    """
    if not 0 <= detected <= n:
        raise ValueError(f"expected 0 <= detected <= n; received detected={detected}, n={n}.")
    observed = wilson_ci(detected, n, confidence)
    se_hat, sp_hat = error.sensitivity.estimate, error.specificity.estimate
    point = float(_correct(np.array([detected / n if n else np.nan]), np.array([se_hat]),
                           np.array([sp_hat]))[0])
    rng = np.random.default_rng(seed)
    p = rng.beta(detected + 0.5, n - detected + 0.5, DRAWS)
    se, sp = error.youden_draws(rng, DRAWS)
    draws = _correct(p, se, sp)
    ok = draws[~np.isnan(draws)]
    unstable = 1 - ok.size / DRAWS
    alpha = 1 - confidence
    lo, hi = (np.quantile(ok, [alpha / 2, 1 - alpha / 2]) if ok.size and n
              else (np.nan, np.nan))
    corrected = StatResult(point, float(lo), float(hi), n, "misclassification_bayes",
                           se=float(ok.std()) if ok.size else None)
    return CorrectedRate(observed, corrected, error.sensitivity, error.specificity,
                         error.labels, unstable, _note(unstable, error))


def corrected_difference(a: ArrayLike, b: ArrayLike, error: DetectorError, *,
                         confidence: float = 0.95, seed: int = 0) -> StatResult:
    """The corrected rate of ``a`` minus that of ``b``: paired detections (0/1) of two
    systems on the same items by the same detector.

    The estimate is ``(mean(a) - mean(b)) / (se + sp - 1)``; the interval resamples the
    pairs and draws ``se`` and ``sp`` from their posteriors; the p-value is McNemar's exact
    test on the detections (valid for equal true rates whatever the detector's error).

    Examples:
        >>> err = DetectorError(tp=45, fn=5, tn=45, fp=5)  # se = sp = 0.9
        >>> a = [1] * 40 + [0] * 60
        >>> b = [1] * 20 + [0] * 80
        >>> r = corrected_difference(a, b, err)
        >>> round(r.estimate, 3)  # (0.4 - 0.2) / 0.8
        0.25
        >>> r.p_value < 0.001
        True
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"expected two equally long lists of paired detections; received "
                         f"{x.size} and {y.size}.")
    test = mcnemar(x, y, confidence)
    n = x.size
    j_hat = error.sensitivity.estimate + error.specificity.estimate - 1
    if n == 0 or j_hat <= 0:
        return StatResult(float("nan"), float("nan"), float("nan"), n,
                          "misclassification_paired", p_value=test.p_value)
    rng = np.random.default_rng(seed)
    d = x - y
    # paired bootstrap of the observed difference: multinomial counts over the items
    counts = rng.multinomial(n, np.full(n, 1 / n), size=PAIRED_DRAWS)
    diffs = counts @ d / n
    se, sp = error.youden_draws(rng, diffs.size)
    j = se + sp - 1
    ok = j > 0
    draws = np.clip(diffs[ok] / j[ok], -1.0, 1.0)
    alpha = 1 - confidence
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return StatResult(float(np.clip(d.mean() / j_hat, -1, 1)), float(lo), float(hi), n,
                      "misclassification_paired", p_value=test.p_value,
                      se=float(draws.std()))
