"""Statistics over calendar windows: per-day or per-week rates, means and retention.

Production monitoring asks the same questions of every window (a UTC day, or an ISO week
starting on Monday, UTC): what share of conversations were resolved, how long they were,
how many of the users first seen in a week came back in later weeks, and whether a
window fell below a reference level. The functions here take plain sequences
(timestamps, outcomes, user ids) and return one ``StatResult`` per window, so they stay
free of any event type or store.

Timestamps are ``datetime`` objects; naive ones are taken to be UTC, aware ones are
converted to UTC. Window starts are returned as aware UTC datetimes. Every window
between the first and the last is returned, empty ones with ``n == 0`` and ``nan``
estimates, so that "consecutive windows" means consecutive on the calendar.

References:
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. Journal of the American Statistical Association 22(158), 209-212.

    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
    Hall. Chapter 13 (percentile interval).

    Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley. Section 1.3 (the Wald
    test and interval for a proportion) and 3.1 (a difference of proportions).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import Literal

import numpy as np

from evalstack.stats.intervals import _critical_value, bootstrap_ci, wilson_ci
from evalstack.stats.result import StatResult

Window = Literal["day", "week"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY_EPOCH = datetime(1969, 12, 29, tzinfo=UTC)  # the Monday before the epoch
_LENGTH = {"day": timedelta(days=1), "week": timedelta(days=7)}
_NORMAL = NormalDist()
_NAN = math.nan


@dataclass(frozen=True, slots=True)
class WindowStat:
    """One window's estimate.

    Attributes:
        start: the window's first instant (midnight UTC; a Monday for weeks).
        result: the estimate with its interval and ``n``.

    Examples:
        >>> w = WindowStat(datetime(2026, 11, 2, tzinfo=UTC), wilson_ci(8, 10))
        >>> (w.start.isoformat(), w.result.n)
        ('2026-11-02T00:00:00+00:00', 10)
    """

    start: datetime
    result: StatResult


@dataclass(frozen=True, slots=True)
class Cohort:
    """The users first seen in one window and the share of them back in later windows.

    Attributes:
        start: the start of the cohort's window.
        size: the number of users first seen in it.
        returns: ``returns[k - 1]`` is the share of the cohort active in window
            ``start + k`` windows, with its Wilson interval, for ``k = 1..periods``; only
            windows that had ended by ``observed_until`` are included.

    Examples:
        >>> c = Cohort(datetime(2026, 11, 2, tzinfo=UTC), 10, (wilson_ci(4, 10),))
        >>> c.returns[0].estimate
        0.4
    """

    start: datetime
    size: int
    returns: tuple[StatResult, ...]


def window_start(timestamp: datetime, window: Window = "day") -> datetime:
    """The start of the UTC day, or of the ISO week (Monday, UTC), holding ``timestamp``.

    Args:
        timestamp: a datetime; naive ones are taken to be UTC.
        window: ``"day"`` or ``"week"``.

    Returns:
        An aware UTC datetime.

    Raises:
        ValueError: ``window`` is neither ``"day"`` nor ``"week"``.
        TypeError: ``timestamp`` is not a datetime.

    Examples:
        >>> window_start(datetime(2026, 11, 5, 13, 30), "week").isoformat()
        '2026-11-02T00:00:00+00:00'
    """
    return _start_of(_index(timestamp, window), window)


def window_index(timestamp: datetime, window: Window = "day") -> int:
    """The number of whole windows between a fixed origin and ``timestamp``'s window.

    Consecutive windows have consecutive indices, so ``window_index(b) - window_index(a)``
    counts the windows from ``a`` to ``b``. The origin is 1970-01-01 for days and the
    Monday before it for weeks.

    Examples:
        >>> a, b = datetime(2026, 11, 2), datetime(2026, 11, 9)
        >>> window_index(b, "week") - window_index(a, "week")
        1
    """
    return _index(timestamp, window)


def window_at(index: int, window: Window = "day") -> datetime:
    """The start of the window with this ``window_index``: its inverse.

    Examples:
        >>> d = datetime(2026, 11, 5, tzinfo=UTC)
        >>> window_at(window_index(d, "week"), "week").isoformat()
        '2026-11-02T00:00:00+00:00'
    """
    _check_window(window)
    return _start_of(index, window)


def windowed_rate(
    timestamps: Sequence[datetime],
    successes: Sequence[bool | int],
    window: Window = "day",
    *,
    confidence: float = 0.95,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[WindowStat, ...]:
    """The share of successes in each window, with the Wilson interval (Wilson 1927).

    Each result also carries ``se = sqrt(p (1 - p) / n)``, the Wald standard error
    (Agresti 2013, sec. 1.3), as ``wilson_rate`` does, for ``decline_test``.

    Args:
        timestamps: when each trial happened.
        successes: whether each trial succeeded (``True``/``False`` or 1/0).
        window: ``"day"`` or ``"week"``.
        confidence: the two-sided confidence level.
        start: keep only trials at or after this instant, and begin the windows at its
            window; ``None`` begins at the first trial's window.
        end: keep only trials before this instant, and end the windows at its window
            (or the one before, when ``end`` is itself a window start); ``None`` ends at the
            last trial's window.

    Returns:
        One ``WindowStat`` per window from the first to the last, in order; windows with
        no trials have ``n == 0`` and ``nan`` estimates.

    Raises:
        ValueError: the sequences differ in length, an outcome is not 0/1, or an argument
            is out of range.

    Examples:
        >>> ts = [datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 17), datetime(2026, 11, 4)]
        >>> [(w.start.day, w.result.n) for w in windowed_rate(ts, [1, 0, 1])]
        [(2, 2), (3, 0), (4, 1)]
    """
    _critical_value(confidence)
    outcomes = [_as_outcome(s, i) for i, s in enumerate(successes)]
    groups, first, last = _group(timestamps, outcomes, window, start, end, "successes")
    out = []
    for index in range(first, last + 1):
        values = groups.get(index, [])
        k, n = int(sum(values)), len(values)
        out.append(WindowStat(_start_of(index, window), wilson_rate(k, n, confidence)))
    return tuple(out)


def windowed_mean(
    timestamps: Sequence[datetime],
    values: Sequence[float],
    window: Window = "day",
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: np.random.Generator | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[WindowStat, ...]:
    """The mean value in each window, with a percentile bootstrap interval (Efron & Tibshirani
    1993, ch. 13), such as the mean number of turns of the conversations started each day.

    Args:
        timestamps: when each value was observed.
        values: the values, finite numbers.
        window: ``"day"`` or ``"week"``.
        confidence: the two-sided confidence level.
        n_resamples: bootstrap resamples per window.
        rng: the random generator, used by the windows in order; ``None`` means
            ``numpy.random.default_rng(0)``, so repeated calls give the same intervals.
        start: as for ``windowed_rate``.
        end: as for ``windowed_rate``.

    Returns:
        One ``WindowStat`` per window, in order; each ``method`` is
        ``"bootstrap_percentile"``, and ``se`` is the standard error of the mean,
        ``std(values, ddof=1) / sqrt(n)`` (``nan`` below two values).

    Raises:
        ValueError: the sequences differ in length, a value is not finite, or an argument
            is out of range.

    Examples:
        >>> ts = [datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 17)]
        >>> windowed_mean(ts, [3.0, 5.0])[0].result.estimate
        4.0
    """
    _critical_value(confidence)
    generator = np.random.default_rng(0) if rng is None else rng
    numbers = [float(v) for v in values]
    groups, first, last = _group(timestamps, numbers, window, start, end, "values")
    out = []
    for index in range(first, last + 1):
        x = np.asarray(groups.get(index, []), dtype=float)
        r = bootstrap_ci(x, "mean", confidence, n_resamples, rng=generator)
        se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else _NAN
        out.append(WindowStat(_start_of(index, window), replace(r, se=se)))
    return tuple(out)


def retention_cohorts(
    user_ids: Sequence[Hashable],
    timestamps: Sequence[datetime],
    periods: int,
    window: Window = "week",
    *,
    observed_until: datetime | None = None,
    confidence: float = 0.95,
) -> tuple[Cohort, ...]:
    """Cohort retention: of the users first seen in window ``w``, the share active in
    window ``w + k``, for ``k = 1..periods``, each with its Wilson interval (Wilson 1927).

    A user is *active* in a window when one of their timestamps falls in it, and *first
    seen* in the window of their earliest timestamp. Users seen before the data begins
    cannot be told apart, so the first cohort mixes new and old users; start the data
    early enough, or drop the first cohort, when that matters.

    Args:
        user_ids: who acted, one per timestamp.
        timestamps: when.
        periods: the largest ``k``, at least 1.
        window: ``"week"`` (usual) or ``"day"``.
        observed_until: the end of the observation; window ``w + k`` is reported only when
            it ended by then, since a window still running has not seen all its returns.
            ``None`` means the latest timestamp.
        confidence: the two-sided confidence level.

    Returns:
        One ``Cohort`` per window that has first-seen users, in order.

    Raises:
        ValueError: the sequences differ in length or ``periods`` is below 1.

    Examples:
        >>> d = datetime(2026, 11, 2)
        >>> users = ["a", "b", "a", "c"]
        >>> when = [d, d, d + timedelta(days=7), d + timedelta(days=14)]
        >>> c = retention_cohorts(users, when, 1, observed_until=d + timedelta(days=21))
        >>> [(x.start.day, x.size, [r.estimate for r in x.returns]) for x in c]
        [(2, 2, [0.5]), (16, 1, [])]
    """
    _critical_value(confidence)
    if isinstance(periods, bool) or not isinstance(periods, int | np.integer) or periods < 1:
        raise ValueError(f"periods must be an integer of at least 1; got {periods!r}.")
    periods = int(periods)
    if len(user_ids) != len(timestamps):
        raise ValueError(
            f"user_ids and timestamps must have one entry per activity each; got "
            f"{len(user_ids)} user ids and {len(timestamps)} timestamps."
        )
    if not timestamps:
        return ()
    active: dict[Hashable, set[int]] = {}
    for user, ts in zip(user_ids, timestamps, strict=True):
        active.setdefault(user, set()).add(_index(ts, window))
    until = max(_as_utc(t) for t in timestamps) if observed_until is None else \
        _as_utc(observed_until)
    length = _LENGTH[window]
    cohorts: dict[int, list[set[int]]] = {}
    for indices in active.values():
        cohorts.setdefault(min(indices), []).append(indices)
    out = []
    for w in sorted(cohorts):
        members = cohorts[w]
        returns = []
        for k in range(1, periods + 1):
            if _start_of(w + k, window) + length > until:
                break
            back = sum(1 for indices in members if w + k in indices)
            returns.append(wilson_ci(back, len(members), confidence))
        out.append(Cohort(_start_of(w, window), len(members), tuple(returns)))
    return tuple(out)


def wilson_rate(successes: int, n: int, confidence: float = 0.95) -> StatResult:
    """``wilson_ci`` with the Wald standard error ``sqrt(p (1 - p) / n)`` filled in.

    Examples:
        >>> round(wilson_rate(8, 10).se, 4)
        0.1265
    """
    r = wilson_ci(successes, n, confidence)
    se = math.sqrt(r.estimate * (1 - r.estimate) / n) if n else _NAN
    return replace(r, se=se)


def decline_test(
    current: StatResult, reference: StatResult | float, confidence: float = 0.95
) -> StatResult:
    """A one-sided Wald z-test that ``current`` lies below ``reference`` (Agresti 2013,
    sec. 3.1).

    ``z = (current - reference) / sqrt(se_current**2 + se_reference**2)``, with
    ``se_reference = 0`` when the reference is a fixed level (a number). The p-value is
    ``Phi(z)``: small when the current estimate is credibly below the reference.

    Args:
        current: an estimate with ``se`` (as from ``wilson_rate``, ``windowed_rate``, or
            ``cohen_kappa`` with ``n_resamples > 0``).
        reference: an estimate with ``se``, or a fixed level.
        confidence: the confidence level of the two-sided interval of the difference.

    Returns:
        The difference ``current - reference`` with its Wald interval, ``se``, and the
        one-sided ``p_value``; ``method`` is ``"wald_decline"``. Every field is ``nan``
        when an estimate or standard error is ``nan``.

    Raises:
        ValueError: an estimate has no ``se``.

    Examples:
        >>> r = decline_test(wilson_rate(60, 100), wilson_rate(160, 200))
        >>> (round(r.estimate, 2), r.p_value < 0.001)
        (-0.2, True)
    """
    z_crit = _critical_value(confidence)
    cur_se = _se_of(current, "current")
    if isinstance(reference, StatResult):
        ref, ref_se = reference.estimate, _se_of(reference, "reference")
    else:
        ref, ref_se = float(reference), 0.0
    diff = current.estimate - ref
    sd = math.sqrt(cur_se * cur_se + ref_se * ref_se)
    if not (math.isfinite(diff) and math.isfinite(sd)):
        return StatResult(_NAN, _NAN, _NAN, current.n, "wald_decline", _NAN, _NAN)
    if sd == 0:
        p = 0.0 if diff < 0 else 1.0
    else:
        p = _NORMAL.cdf(diff / sd)
    return StatResult(diff, diff - z_crit * sd, diff + z_crit * sd, current.n, "wald_decline",
                      p, sd)


# --- helpers ---------------------------------------------------------------------------


def _se_of(r: StatResult, name: str) -> float:
    if r.se is None:
        raise ValueError(
            f"{name} must carry a standard error (se); got {r!r}. Use wilson_rate() for a "
            "proportion, or cohen_kappa(..., n_resamples=1000) for kappa."
        )
    return r.se


def _as_utc(timestamp: datetime) -> datetime:
    if not isinstance(timestamp, datetime):
        raise TypeError(f"Expected a datetime; got {timestamp!r} ({type(timestamp).__name__}).")
    if timestamp.tzinfo is None:
        return timestamp.replace(tzinfo=UTC)
    return timestamp.astimezone(UTC)


def _check_window(window: str) -> None:
    if window not in _LENGTH:
        raise ValueError(f"window must be 'day' or 'week'; got {window!r}.")


def _index(timestamp: datetime, window: str) -> int:
    _check_window(window)
    ts = _as_utc(timestamp)
    if window == "day":
        return (ts - _EPOCH).days
    return (ts - _MONDAY_EPOCH).days // 7


def _start_of(index: int, window: str) -> datetime:
    if window == "day":
        return _EPOCH + timedelta(days=index)
    return _MONDAY_EPOCH + timedelta(days=7 * index)


def _as_outcome(value: bool | int, position: int) -> int:
    if value in (0, 1) and not isinstance(value, float):
        return int(value)
    raise ValueError(
        f"every outcome must be True/False or 1/0; got {value!r} at position {position}."
    )


def _group(
    timestamps: Sequence[datetime],
    values: Sequence[float],
    window: Window,
    start: datetime | None,
    end: datetime | None,
    name: str,
) -> tuple[dict[int, list[float]], int, int]:
    """Values by window index, and the first and last index of the range to report."""
    _check_window(window)
    if len(timestamps) != len(values):
        raise ValueError(
            f"timestamps and {name} must have one entry per observation each; got "
            f"{len(timestamps)} timestamps and {len(values)} {name}."
        )
    lo = None if start is None else _as_utc(start)
    hi = None if end is None else _as_utc(end)
    groups: dict[int, list[float]] = {}
    for ts, value in zip(timestamps, values, strict=True):
        t = _as_utc(ts)
        if (lo is not None and t < lo) or (hi is not None and t >= hi):
            continue
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite numbers; got {value!r} at {t.isoformat()}.")
        groups.setdefault(_index(t, window), []).append(value)
    first = _index(lo, window) if lo is not None else min(groups, default=0)
    last = _index(hi - timedelta(microseconds=1), window) if hi is not None else \
        max(groups, default=-1)
    if lo is None and hi is not None and not groups:
        first = last + 1
    if hi is None and lo is not None and not groups:
        last = first - 1
    return groups, first, last
