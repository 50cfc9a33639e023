"""Alert rules over metric series: fire once per episode, only on clear evidence.

A rule, written in YAML and validated by ``AlertRule`` (unknown keys are errors)::

    {name: resolution_low, metric: resolution_rate, comparison: "<", threshold: 0.70,
     window: day, sustain: 2, min_n: 50}

Each window of the metric is in one of four states:

- **beyond**: ``n >= min_n`` and the whole interval lies beyond the threshold
  (``ci_high < threshold`` for ``<``, ``ci_low > threshold`` for ``>``);
- **recovered**: ``n >= min_n`` and the metric is back, by the rule's ``recover_when``:
  ``estimate`` (the default) when the point estimate is on the good side of the threshold
  (``estimate >= threshold`` for ``<``); ``interval`` as soon as the interval is no longer
  wholly beyond it;
- **between**: ``n >= min_n``, neither beyond nor recovered (the interval reaches the
  threshold but the estimate is still on the bad side; never with ``interval``);
- **unknown**: fewer than ``min_n`` observations, or a window missing from the series.

An *episode* starts at the first of ``sustain`` consecutive beyond windows, and the rule
fires once, in the ``sustain``-th of them. It does not fire again until the episode ends,
which takes a recovered window. Between and unknown windows break a run of beyond windows
(so ``sustain`` counts consecutive windows of evidence) but do not end an episode: a quiet
night in the middle of an outage raises no second alert. Each alert is identified by
``(rule, episode start)``; pass the keys already sent as ``seen`` to skip them when the same
windows are evaluated again. Evaluate from a fixed start, or from before the episodes you
care about: an episode already running when the series begins is seen as starting at the
series' first beyond window, which gives it another key.

Why ``estimate`` by default: the alert needs evidence of a problem, and ending the episode
needs the metric to look fine again, not merely a window whose interval happens to reach
the threshold. With the true resolution at 0.60, ``n = 300`` a day and a threshold of
0.70, about 5% of days have an interval reaching 0.70, so ``recover_when: interval``
alerts a second time in about 40% of ten-day episodes; the estimate reaches 0.70 on about
1 day in 5000.

With a 95% interval, a metric sitting exactly at the threshold puts the interval wholly
beyond it in about 2.5% of windows, so ``sustain: 2`` brings false alarms from a metric at
the threshold to well under 1 per 1000 windows; a metric far from the threshold gives
fewer still.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evalstack.production.metrics import MetricSeries, load_models
from evalstack.stats.result import StatResult
from evalstack.stats.windows import window_index

__all__ = ["Alert", "AlertRule", "evaluate_rule", "evaluate_rules", "load_rules"]


class AlertRule(BaseModel):
    """When a metric's windows should raise an alert.

    Attributes:
        name: the rule's name, part of every alert's key.
        metric: the name of the metric it watches.
        comparison: ``"<"`` (alert when the metric is too low) or ``">"`` (too high).
        threshold: the level the whole interval must lie beyond.
        window: the metric's window, ``day`` (default) or ``week``; it must match the
            series the rule is evaluated on.
        sustain: how many consecutive windows must be beyond (default 1).
        min_n: the fewest observations a window needs to count as evidence (default 30).
        recover_when: what ends an episode: ``estimate`` (default) or ``interval``.

    Examples:
        >>> AlertRule(name="low", metric="resolution_rate", comparison="<", threshold=0.7).sustain
        1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    comparison: Literal["<", ">"]
    threshold: float = Field(allow_inf_nan=False)
    window: Literal["day", "week"] = "day"
    sustain: int = Field(default=1, ge=1)
    min_n: int = Field(default=30, ge=1)
    recover_when: Literal["estimate", "interval"] = "estimate"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: the first window of an episode in which the rule's condition held.

    Attributes:
        rule: the rule's name.
        metric: the metric's name.
        window_start: the start of the window in which the rule fired.
        episode_start: the start of the episode's first beyond window.
        value: the metric's estimate in the window it fired.
        ci_low: the lower bound of that window's interval.
        ci_high: the upper bound.
        n: the observations behind it.
        message: one line for a person.

    Examples:
        >>> from datetime import UTC, datetime
        >>> d = datetime(2026, 11, 23, tzinfo=UTC)
        >>> Alert("low", "resolution_rate", d, d, 0.6, 0.55, 0.65, 300, "...").key[0]
        'low'
    """

    rule: str
    metric: str
    window_start: datetime
    episode_start: datetime
    value: float
    ci_low: float
    ci_high: float
    n: int
    message: str

    @property
    def key(self) -> tuple[str, datetime]:
        """``(rule, episode_start)``: the same key means the same episode."""
        return (self.rule, self.episode_start)


def evaluate_rule(
    rule: AlertRule, series: MetricSeries, *, seen: Collection[tuple[str, datetime]] = ()
) -> tuple[Alert, ...]:
    """The alerts ``rule`` raises over ``series``, one per episode (see the module docstring).

    Args:
        rule: the rule.
        series: the metric it watches, with the same window.
        seen: keys ``(rule, episode_start)`` of alerts already sent; those are left out.

    Returns:
        The new alerts, oldest first.

    Raises:
        ValueError: the series is another metric, or has another window.

    Examples:
        >>> from datetime import UTC, datetime, timedelta
        >>> from evalstack.stats.windows import WindowStat, wilson_rate
        >>> d = datetime(2026, 11, 2, tzinfo=UTC)
        >>> counts = [(240, 300), (180, 300), (175, 300), (240, 300)]
        >>> pts = tuple(WindowStat(d + timedelta(days=i), wilson_rate(k, n))
        ...             for i, (k, n) in enumerate(counts))
        >>> rule = AlertRule(name="low", metric="res", comparison="<", threshold=0.7, sustain=2)
        >>> [a.window_start.day for a in evaluate_rule(rule, MetricSeries("res", "day", pts))]
        [4]
    """
    if series.name != rule.metric:
        raise ValueError(
            f"rule {rule.name!r} watches metric {rule.metric!r}; got the series of "
            f"{series.name!r}. Evaluate it on the series of {rule.metric!r}."
        )
    if series.window != rule.window:
        raise ValueError(
            f"rule {rule.name!r} is for {rule.window} windows; got a series of {series.window} "
            f"windows. Compute {rule.metric!r} with window: {rule.window}."
        )
    alerts: list[Alert] = []
    streak, streak_start = 0, None
    in_episode = False
    previous: int | None = None
    for point in series.points:
        index = window_index(point.start, series.window)
        if previous is not None and index != previous + 1:
            streak = 0  # missing windows are unknown: they break a run, not an episode
        previous = index
        state = _state(rule, point.result)
        if state in ("unknown", "between"):
            streak = 0
            continue
        if state == "recovered":
            streak, in_episode = 0, False
            continue
        if streak == 0:
            streak_start = point.start
        streak += 1
        if not in_episode and streak >= rule.sustain and streak_start is not None:
            in_episode = True
            alert = _alert(rule, point.start, streak_start, point.result)
            if alert.key not in seen:
                alerts.append(alert)
    return tuple(alerts)


def evaluate_rules(
    rules: Iterable[AlertRule],
    series: Mapping[str, MetricSeries] | Sequence[MetricSeries],
    *,
    seen: Collection[tuple[str, datetime]] = (),
) -> tuple[Alert, ...]:
    """The alerts of every rule, each on the series of its metric.

    Args:
        rules: the rules.
        series: the metric series, by name or as a list.
        seen: keys of alerts already sent.

    Returns:
        The new alerts, by window and then rule name.

    Raises:
        ValueError: a rule names a metric with no series, or two rules share a name.

    Examples:
        >>> evaluate_rules([], [])
        ()
    """
    by_name = dict(series) if isinstance(series, Mapping) else {s.name: s for s in series}
    out: list[Alert] = []
    names: set[str] = set()
    for rule in rules:
        if rule.name in names:
            raise ValueError(f"two rules are named {rule.name!r}; give each rule its own name, "
                             "since alerts are deduplicated by rule name.")
        names.add(rule.name)
        if rule.metric not in by_name:
            raise ValueError(
                f"rule {rule.name!r} watches metric {rule.metric!r}, which has no series; "
                f"the series given are {sorted(by_name)}. Compute {rule.metric!r} first."
            )
        out.extend(evaluate_rule(rule, by_name[rule.metric], seen=seen))
    return tuple(sorted(out, key=lambda a: (a.window_start, a.rule)))


def load_rules(text: str, where: str = "alerts") -> tuple[AlertRule, ...]:
    """Alert rules from YAML: one mapping, or a list of mappings.

    Raises:
        ConfigError: the text is not YAML, or a field is missing, unknown or invalid; the
            message names the entry and the field.

    Examples:
        >>> rules = load_rules('{name: low, metric: res, comparison: "<", threshold: 0.7}')
        >>> rules[0].min_n
        30
    """
    keys = "name, metric, comparison, threshold, window, sustain, min_n, recover_when"
    return load_models(text, AlertRule, where, keys)


def _state(rule: AlertRule, r: StatResult) -> Literal["beyond", "recovered", "between",
                                                      "unknown"]:
    if r.n < rule.min_n or math.isnan(r.ci_low) or math.isnan(r.ci_high):
        return "unknown"
    below = rule.comparison == "<"
    if r.ci_high < rule.threshold if below else r.ci_low > rule.threshold:
        return "beyond"
    if rule.recover_when == "interval":
        return "recovered"
    back = r.estimate >= rule.threshold if below else r.estimate <= rule.threshold
    return "recovered" if back else "between"


def _alert(rule: AlertRule, start: datetime, episode: datetime, r: StatResult) -> Alert:
    direction = "below" if rule.comparison == "<" else "above"
    windows = f"{rule.sustain} {rule.window}{'s' if rule.sustain > 1 else ''}"
    message = (
        f"{rule.metric} is {direction} {rule.threshold:g} for {windows} since "
        f"{episode:%Y-%m-%d}: {r.estimate:.3f} (CI {r.ci_low:.3f}-{r.ci_high:.3f}, n={r.n}) "
        f"in the {rule.window} of {start:%Y-%m-%d} [rule {rule.name}]"
    )
    return Alert(rule.name, rule.metric, start, episode, r.estimate, r.ci_low, r.ci_high, r.n,
                 message)
