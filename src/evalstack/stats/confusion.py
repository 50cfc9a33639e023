"""Confusion-matrix rates of a binary classifier, such as a guardrail, with Wilson intervals.

For a guardrail, ``predicted`` True means the input was blocked (flagged) and ``actual``
True means it was harmful. Then

* the false positive rate ``fp / (fp + tn)`` is the share of benign inputs that were
  blocked (over-refusal), and
* the false negative rate ``fn / (fn + tp)`` is the share of harmful inputs let through.

Every rate is a binomial proportion over its own denominator, so each gets the Wilson
score interval (Wilson 1927) from ``wilson_ci``, with ``n`` set to that denominator.

References:
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. Journal of the American Statistical Association 22(158), 209-212.

Pure functions on numbers: this module imports nothing from evalstack outside ``stats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalstack.stats.intervals import wilson_ci
from evalstack.stats.result import StatResult


@dataclass(frozen=True, slots=True)
class ConfusionRates:
    """The four counts of a binary confusion matrix and the rates derived from them.

    Each rate is a ``StatResult`` from ``wilson_ci`` whose ``n`` is the rate's
    denominator; a rate whose denominator is 0 (say, the false positive rate when no input
    was benign) has every field but ``n`` ``nan`` and ``n`` 0.

    Attributes:
        tp: predicted True and actually True (harmful inputs blocked).
        fp: predicted True but actually False (benign inputs blocked).
        tn: predicted False and actually False (benign inputs allowed).
        fn: predicted False but actually True (harmful inputs let through).
        n: all inputs, ``tp + fp + tn + fn``.
        false_positive_rate: ``fp / (fp + tn)``, benign inputs blocked.
        false_negative_rate: ``fn / (fn + tp)``, harmful inputs let through.
        true_positive_rate: ``tp / (tp + fn)``, harmful inputs blocked (recall,
            sensitivity); also available as ``recall``.
        true_negative_rate: ``tn / (tn + fp)``, benign inputs allowed (specificity).
        precision: ``tp / (tp + fp)``, blocked inputs that were harmful.
        accuracy: ``(tp + tn) / n``.

    Examples:
        >>> r = confusion_rates([True, True, False, False], [True, False, False, True])
        >>> (r.tp, r.fp, r.tn, r.fn, r.n)
        (1, 1, 1, 1, 4)
        >>> r.recall is r.true_positive_rate
        True
    """

    tp: int
    fp: int
    tn: int
    fn: int
    n: int
    false_positive_rate: StatResult
    false_negative_rate: StatResult
    true_positive_rate: StatResult
    true_negative_rate: StatResult
    precision: StatResult
    accuracy: StatResult

    @property
    def recall(self) -> StatResult:
        """The true positive rate, ``tp / (tp + fn)``, under its other name."""
        return self.true_positive_rate


def confusion_rates(
    predicted: Sequence[bool], actual: Sequence[bool], confidence: float = 0.95
) -> ConfusionRates:
    """Count a binary classifier's outcomes and give each rate its Wilson interval.

    Args:
        predicted: the classifier's decision per input; for a guardrail, True = blocked.
        actual: the truth per input, in the same order; for a guardrail, True = harmful.
        confidence: the two-sided confidence level of every interval, strictly between
            0 and 1.

    Returns:
        A ``ConfusionRates`` with the counts and the six rates. With no inputs, every count
        is 0 and every rate is ``nan`` with ``n`` 0.

    Raises:
        ValueError: the two sequences differ in length, an element is not a bool (``True``
            or ``False``, numpy's ``bool_`` included; 0 and 1 are refused so that labels
            such as class indices are not taken for decisions by mistake), an argument is
            a string, or ``confidence`` is outside (0, 1).

    Examples:
        >>> r = confusion_rates(
        ...     predicted=[True, True, True, False, False, False, False, False],
        ...     actual=[True, True, False, True, False, False, False, False],
        ... )
        >>> (r.tp, r.fp, r.tn, r.fn)
        (2, 1, 4, 1)
        >>> (r.false_positive_rate.estimate, r.false_positive_rate.n)
        (0.2, 5)
        >>> round(r.false_negative_rate.estimate, 4), r.false_negative_rate.n
        (0.3333, 3)
        >>> round(r.false_positive_rate.ci_low, 4), round(r.false_positive_rate.ci_high, 4)
        (0.0362, 0.6245)
    """
    pred = _as_bools(predicted, "predicted")
    act = _as_bools(actual, "actual")
    if len(pred) != len(act):
        raise ValueError(
            f"predicted and actual must have one value per input, the same length; got "
            f"{len(pred)} predicted and {len(act)} actual."
        )
    tp = sum(1 for p, a in zip(pred, act, strict=True) if p and a)
    fp = sum(1 for p, a in zip(pred, act, strict=True) if p and not a)
    fn = sum(1 for p, a in zip(pred, act, strict=True) if not p and a)
    n = len(pred)
    tn = n - tp - fp - fn
    return ConfusionRates(
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        n=n,
        false_positive_rate=wilson_ci(fp, fp + tn, confidence),
        false_negative_rate=wilson_ci(fn, fn + tp, confidence),
        true_positive_rate=wilson_ci(tp, tp + fn, confidence),
        true_negative_rate=wilson_ci(tn, tn + fp, confidence),
        precision=wilson_ci(tp, tp + fp, confidence),
        accuracy=wilson_ci(tp + tn, n, confidence),
    )


def _as_bools(values: Any, name: str) -> list[bool]:
    if isinstance(values, str | bytes):
        raise ValueError(
            f"{name} must be a sequence of bools, one per input; got the string {values!r:.60}."
        )
    try:
        items = list(values)
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of bools, one per input; got "
            f"{type(values).__name__}."
        ) from None
    for i, value in enumerate(items):
        if not isinstance(value, bool | np.bool_):
            raise ValueError(
                f"{name} must hold only True or False; got {value!r} "
                f"({type(value).__name__}) at position {i}."
            )
    return [bool(v) for v in items]
