"""Human-vs-automated agreement per week, and a drift flag when it falls.

Some production traces are labelled by a person as well as scored by the automated judge.
Each week, ``weekly_agreement`` gives the share of pairs where the two agree (accuracy,
Wilson interval) and Cohen's kappa (percentile bootstrap over pairs), both from
``evalstack.stats``.

**The drift rule.** A week is flagged when its agreement is significantly below the
reference, by a one-sided Wald z-test at level ``alpha`` (``evalstack.stats.windows.
decline_test``): ``z = (week - reference) / sqrt(se_week**2 + se_reference**2)`` and the
flag is ``Phi(z) < alpha``. The statistic tested is kappa by default (``on="kappa"``,
since accuracy rises with the base rate alone) or accuracy. The reference is either

- the pairs of the first ``reference_weeks`` weeks, pooled (default 2): those weeks are
  marked ``reference`` and never flagged; or
- a fixed level (``reference_level``, e.g. the kappa measured when the judge was
  validated), with ``se_reference = 0``; then every week is tested.

Weeks whose statistic is undefined (no pairs, or kappa with one label only) are never
flagged. Testing many weeks at ``alpha = 0.05`` flags about one in twenty weeks of an
unchanged judge by chance; lower ``alpha`` for long histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import numpy as np

from evalstack.stats.agreement import cohen_kappa
from evalstack.stats.result import StatResult
from evalstack.stats.windows import decline_test, wilson_rate, window_at, window_index

__all__ = ["LabelledPair", "WeeklyAgreement", "weekly_agreement"]

Label = str | int | bool


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """One trace with a person's label and the automated judge's.

    Attributes:
        trace_id: the trace (or conversation) labelled.
        timestamp: when it was labelled; naive datetimes are taken to be UTC.
        human: the person's label.
        automated: the judge's label, on the same scale (threshold a score first).

    Examples:
        >>> from datetime import UTC, datetime
        >>> LabelledPair("t1", datetime(2026, 11, 2, tzinfo=UTC), "pass", "fail").human
        'pass'
    """

    trace_id: str
    timestamp: datetime
    human: Label
    automated: Label


@dataclass(frozen=True, slots=True)
class WeeklyAgreement:
    """One week's agreement between the person and the judge.

    Attributes:
        start: the Monday (UTC) the week starts.
        accuracy: the share of pairs that agree, Wilson interval, with ``se``.
        kappa: Cohen's kappa with its bootstrap interval and ``se``.
        test: the decline test of the week against the reference (``None`` for the
            reference weeks themselves): ``estimate`` is week minus reference and
            ``p_value`` is one-sided.
        reference: whether the week is part of the pooled reference.
        drift: whether the week is significantly below the reference.

    Examples:
        >>> from datetime import UTC, datetime
        >>> r = StatResult(0.9, 0.8, 0.95, 100, "wilson")
        >>> WeeklyAgreement(datetime(2026, 11, 2, tzinfo=UTC), r, r, None, True, False).drift
        False
    """

    start: datetime
    accuracy: StatResult
    kappa: StatResult
    test: StatResult | None
    reference: bool
    drift: bool


def weekly_agreement(
    pairs: Sequence[LabelledPair],
    *,
    on: Literal["kappa", "accuracy"] = "kappa",
    reference_weeks: int = 2,
    reference_level: float | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    rng: np.random.Generator | None = None,
) -> tuple[WeeklyAgreement, ...]:
    """Accuracy and Cohen's kappa (Cohen 1960) per ISO week (UTC), with a drift flag.

    See the module docstring for the drift rule.

    Args:
        pairs: the labelled pairs, in any order.
        on: the statistic the drift test uses, ``"kappa"`` or ``"accuracy"``.
        reference_weeks: how many of the first weeks (from the first pair's week) pool into
            the reference; ignored when ``reference_level`` is given.
        reference_level: a fixed reference level of the ``on`` statistic, or ``None``.
        alpha: the one-sided level of the drift test.
        confidence: the two-sided level of every interval.
        n_resamples: bootstrap resamples for kappa's interval and ``se``.
        rng: the generator for the bootstrap; ``None`` means ``default_rng(0)``.

    Returns:
        One ``WeeklyAgreement`` per week from the first pair's to the last's (empty weeks
        included, with ``n == 0``), oldest first.

    Raises:
        ValueError: an argument is out of range, ``on`` is unknown, or there are no more
            weeks than ``reference_weeks`` when the reference is pooled.

    Examples:
        >>> from datetime import UTC, datetime, timedelta
        >>> d = datetime(2026, 11, 2, tzinfo=UTC)
        >>> pairs = [LabelledPair(str(i), d + timedelta(days=7 * (i % 2)), i % 3 == 0, i % 3 == 0)
        ...          for i in range(60)]
        >>> [w.kappa.estimate for w in weekly_agreement(pairs, reference_weeks=1)]
        [1.0, 1.0]
    """
    if on not in ("kappa", "accuracy"):
        raise ValueError(f"on must be 'kappa' or 'accuracy'; got {on!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be strictly between 0 and 1; got {alpha!r}.")
    if reference_level is None and (isinstance(reference_weeks, bool)
                                    or not isinstance(reference_weeks, int)
                                    or reference_weeks < 1):
        raise ValueError(f"reference_weeks must be an integer of at least 1; got "
                         f"{reference_weeks!r}.")
    generator = np.random.default_rng(0) if rng is None else rng
    if not pairs:
        return ()
    by_week: dict[int, list[LabelledPair]] = {}
    for p in pairs:
        by_week.setdefault(window_index(p.timestamp, "week"), []).append(p)
    first, last = min(by_week), max(by_week)
    if reference_level is None and last - first + 1 <= reference_weeks:
        raise ValueError(
            f"the pairs span {last - first + 1} week(s), no more than reference_weeks="
            f"{reference_weeks}, so no week is left to test. Lower reference_weeks, or pass "
            "reference_level."
        )

    def stats(chunk: list[LabelledPair]) -> tuple[StatResult, StatResult]:
        agree = sum(1 for p in chunk if _text(p.human) == _text(p.automated))
        kappa = cohen_kappa([_text(p.human) for p in chunk], [_text(p.automated) for p in chunk],
                            confidence=confidence, n_resamples=n_resamples, rng=generator)
        return wilson_rate(agree, len(chunk), confidence), kappa

    reference: StatResult | float
    if reference_level is None:
        pooled = [p for w in range(first, first + reference_weeks) for p in by_week.get(w, [])]
        ref_accuracy, ref_kappa = stats(pooled)
        reference = ref_kappa if on == "kappa" else ref_accuracy
    else:
        reference = float(reference_level)
    out = []
    for w in range(first, last + 1):
        chunk = by_week.get(w, [])
        accuracy, kappa = stats(chunk)
        in_reference = reference_level is None and w < first + reference_weeks
        test = None
        drift = False
        if not in_reference:
            current = kappa if on == "kappa" else accuracy
            if current.se is None:  # no pairs: cohen_kappa gives no se
                current = replace(current, se=float("nan"))
            test = decline_test(current, reference, confidence)
            drift = test.p_value is not None and test.p_value < alpha
        out.append(WeeklyAgreement(window_at(w, "week"), accuracy, kappa, test, in_reference,
                                   drift))
    return tuple(out)


def _text(label: Label) -> str:
    # One type for numpy: True and "True" are the same label to a person reading it.
    return str(label)
