"""Feedback and outcome metrics per day or week, from plain event records.

The inputs are two sequences of records, so the same functions serve the store, the
traffic simulator (``evalstack.testing.traffic``) and a user's own logs:

- conversations (``ConversationLike``): an id, a user, when it was first seen (started)
  and how many turns it had;
- events (``EventLike``): something that happened to a conversation, at a time:
  ``thumbs`` (label ``up`` or ``down``), ``resolved``, ``escalated``, or any custom name,
  with an optional number (``value``) and text (``label``).

Any object with those attributes will do: the ``Conversation`` and ``Event`` dataclasses
here, ``evalstack.production.store.FeedbackEvent``, or rows of the store's
``conversations`` and ``feedback`` tables, whose columns have the same names.

A metric is described by a small YAML mapping, validated by ``MetricDefinition``
(unknown keys are errors)::

    {name: resolution_rate, kind: rate, event: resolved, per: conversation, window: day}
    {name: thumbs_up_rate, kind: rate, event: thumbs, success: up, per: event, window: day}
    {name: conversation_length, kind: mean, of: turns, window: day}
    {name: weekly_retention, kind: retention, periods: 4, window: week}

What each kind counts:

- ``rate`` per ``conversation``: of the conversations *started* in the window, the share
  with at least one ``event`` (that matches ``success``, when given). The event may come
  later; the conversation's start decides the window. Wilson interval.
- ``rate`` per ``event``: of the ``event`` events *in* the window, the share that match
  ``success``: a text ``success`` matches the event's ``label``, a number its ``value``.
  Wilson interval, which treats events as independent: when one user gives many thumbs,
  prefer ``per: conversation``.
- ``mean`` ``of: turns``: the mean number of turns of the conversations started in the
  window; ``mean`` with ``event``: the mean ``value`` of those events in the window.
  Percentile bootstrap, seeded.
- ``retention``: users first seen (first conversation) in week ``w``, and the share of
  them with a conversation in week ``w + k``, ``k = 1..periods``. Wilson intervals.

Windows are UTC days, or ISO weeks starting on Monday (``evalstack.stats.windows``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalstack.core.errors import ConfigError
from evalstack.stats.windows import (
    Cohort,
    Window,
    WindowStat,
    retention_cohorts,
    windowed_mean,
    windowed_rate,
)

__all__ = [
    "Conversation",
    "ConversationLike",
    "Event",
    "EventLike",
    "MetricDefinition",
    "MetricSeries",
    "compute_metric",
    "compute_retention",
    "load_metrics",
]

_Model = TypeVar("_Model", bound=BaseModel)


class ConversationLike(Protocol):
    """What the metrics read of a conversation (a store row has these columns)."""

    @property
    def conversation_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def turns(self) -> int: ...


class EventLike(Protocol):
    """What the metrics read of an event (``store.FeedbackEvent`` and store rows fit)."""

    @property
    def name(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def conversation_id(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def label(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation with the application being monitored.

    Attributes:
        conversation_id: the conversation's id.
        user_id: who had it (``None`` when unknown: left out of retention).
        first_seen: when it started; naive datetimes are taken to be UTC.
        turns: how many turns (user messages) it had.

    Examples:
        >>> from datetime import UTC, datetime
        >>> Conversation("c1", "u1", datetime(2026, 11, 2, 9, tzinfo=UTC), 3).turns
        3
    """

    conversation_id: str
    user_id: str | None
    first_seen: datetime
    turns: int


@dataclass(frozen=True, slots=True)
class Event:
    """A feedback or outcome event on a conversation.

    Attributes:
        name: ``"thumbs"``, ``"resolved"``, ``"escalated"``, or a custom name.
        at: when it happened; naive datetimes are taken to be UTC.
        conversation_id: the conversation it belongs to, if known.
        user_id: who gave it or whom it concerns, if known.
        value: a number: 1/0 for thumbs up/down, a rating for a score.
        label: a text value: ``"up"``/``"down"`` for thumbs, a category.
        trace_id: the trace it is about, if known.

    Examples:
        >>> from datetime import UTC, datetime
        >>> Event("thumbs", datetime(2026, 11, 2, 9, tzinfo=UTC), "c1", label="up").label
        'up'
    """

    name: str
    at: datetime
    conversation_id: str | None = None
    user_id: str | None = None
    value: float | None = None
    label: str | None = None
    trace_id: str | None = None


class MetricDefinition(BaseModel):
    """What to compute, parsed from YAML with unknown keys rejected.

    Attributes:
        name: the metric's name, used by alert rules.
        kind: ``"rate"``, ``"mean"`` or ``"retention"``.
        event: the event counted (rates) or averaged (means of event values).
        success: for rates, what counts: a text matches the event's ``label`` (``up`` for
            thumbs), a number its ``value``; required with ``per: event``.
        of: for means over conversations, the field averaged: ``turns``.
        per: the unit of a rate: ``conversation`` (default) or ``event``.
        window: ``day`` (default) or ``week``.
        periods: for retention, the largest number of weeks after the first one.
        confidence: the two-sided confidence level of every interval (default 0.95).

    Examples:
        >>> MetricDefinition(name="resolution_rate", kind="rate", event="resolved").per
        'conversation'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["rate", "mean", "retention"]
    event: str | None = Field(default=None, min_length=1)
    success: str | float | None = None
    of: Literal["turns"] | None = None
    per: Literal["conversation", "event"] = "conversation"
    window: Literal["day", "week"] = "day"
    periods: int | None = Field(default=None, ge=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> MetricDefinition:
        given = self.model_fields_set
        if self.kind == "rate":
            if self.event is None:
                raise ValueError("field 'event' is required when kind is 'rate' (e.g. "
                                 "event: resolved)")
            if self.per == "event" and self.success is None:
                raise ValueError("field 'success' is required when kind is 'rate' and per "
                                 "is 'event' (e.g. event: thumbs, success: up)")
            _forbid(given, ("of", "periods"), "rate")
        elif self.kind == "mean":
            if (self.of is None) == (self.event is None):
                raise ValueError("a mean needs exactly one of field 'of' (of: turns, a mean "
                                 "over conversations) or field 'event' (a mean of event values)")
            _forbid(given, ("success", "per", "periods"), "mean")
        else:
            if self.periods is None:
                raise ValueError("field 'periods' is required when kind is 'retention' "
                                 "(e.g. periods: 4)")
            _forbid(given, ("event", "success", "of", "per"), "retention")
        return self


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """A metric's value in each window, oldest first.

    Attributes:
        name: the metric's name.
        window: ``"day"`` or ``"week"``.
        points: one ``WindowStat`` (window start and ``StatResult``) per window, empty
            windows included with ``n == 0``.

    Examples:
        >>> MetricSeries("resolution_rate", "day", ()).points
        ()
    """

    name: str
    window: Window
    points: tuple[WindowStat, ...]


def compute_metric(
    definition: MetricDefinition,
    events: Sequence[EventLike],
    conversations: Sequence[ConversationLike],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    n_resamples: int = 2000,
    rng: np.random.Generator | None = None,
) -> MetricSeries:
    """A rate or mean metric per window (see the module docstring for what each counts).

    Args:
        definition: the metric.
        events: the events; those of other names are ignored.
        conversations: the conversations. Events of conversations not listed here are
            ignored by ``per: conversation`` rates.
        start: report windows from the one holding ``start``, ignoring earlier data;
            ``None`` starts at the first observation.
        end: ignore data at or after ``end``; ``None`` ends at the last observation.
        n_resamples: bootstrap resamples per window, for means.
        rng: the generator for the bootstrap; ``None`` means ``default_rng(0)``.

    Returns:
        The metric's ``MetricSeries``.

    Raises:
        ValueError: the definition is a retention (use ``compute_retention``), or a mean
            of an event whose values are not numbers.

    Examples:
        >>> from datetime import UTC, datetime
        >>> d = datetime(2026, 11, 2, 9, tzinfo=UTC)
        >>> convs = [Conversation("c1", "u1", d, 3), Conversation("c2", "u2", d, 5)]
        >>> defn = MetricDefinition(name="resolution_rate", kind="rate", event="resolved")
        >>> s = compute_metric(defn, [Event("resolved", d, "c1")], convs)
        >>> (s.points[0].result.estimate, s.points[0].result.n)
        (0.5, 2)
    """
    window, conf = definition.window, definition.confidence
    if definition.kind == "retention":
        raise ValueError(
            f"metric {definition.name!r} is a retention; compute it with compute_retention, "
            "which returns one cohort per week rather than one value per window."
        )
    if definition.kind == "rate" and definition.per == "conversation":
        hit = {e.conversation_id for e in events if _matches(e, definition)}
        points = windowed_rate([c.first_seen for c in conversations],
                               [c.conversation_id in hit for c in conversations], window,
                               confidence=conf, start=start, end=end)
    elif definition.kind == "rate":
        chosen = [e for e in events if e.name == definition.event]
        points = windowed_rate([e.at for e in chosen],
                               [_matches(e, definition) for e in chosen], window,
                               confidence=conf, start=start, end=end)
    elif definition.of == "turns":
        points = windowed_mean([c.first_seen for c in conversations],
                               [float(c.turns) for c in conversations], window,
                               confidence=conf, n_resamples=n_resamples, rng=rng,
                               start=start, end=end)
    else:
        chosen = [e for e in events if e.name == definition.event]
        points = windowed_mean([e.at for e in chosen],
                               [_number(e, definition.name) for e in chosen], window,
                               confidence=conf, n_resamples=n_resamples, rng=rng,
                               start=start, end=end)
    return MetricSeries(definition.name, window, points)


def compute_retention(
    definition: MetricDefinition,
    conversations: Sequence[ConversationLike],
    *,
    observed_until: datetime | None = None,
) -> tuple[Cohort, ...]:
    """Retention by cohort: users first seen in each window, and the share back later.

    A user is active in a window when one of their conversations started in it;
    conversations without a user are left out. See
    ``evalstack.stats.windows.retention_cohorts``.

    Args:
        definition: a ``kind: retention`` metric.
        conversations: the conversations.
        observed_until: the end of the observation; later windows, and windows still
            running then, are not reported. ``None`` means the last conversation's start.

    Returns:
        One ``Cohort`` per window with new users, oldest first.

    Raises:
        ValueError: the definition is not a retention.

    Examples:
        >>> from datetime import UTC, datetime, timedelta
        >>> d = datetime(2026, 11, 2, 9, tzinfo=UTC)
        >>> convs = [Conversation("c1", "u1", d, 3), Conversation("c2", "u2", d, 1),
        ...          Conversation("c3", "u1", d + timedelta(days=8), 2)]
        >>> defn = MetricDefinition(name="retention", kind="retention", periods=1, window="week")
        >>> cohorts = compute_retention(defn, convs, observed_until=d + timedelta(days=14))
        >>> cohorts[0].returns[0].estimate
        0.5
    """
    if definition.kind != "retention" or definition.periods is None:
        raise ValueError(
            f"metric {definition.name!r} is a {definition.kind}, not a retention; compute it "
            "with compute_metric."
        )
    known = [c for c in conversations if c.user_id is not None]
    return retention_cohorts([c.user_id for c in known],
                             [c.first_seen for c in known], definition.periods,
                             definition.window, observed_until=observed_until,
                             confidence=definition.confidence)


def load_metrics(text: str, where: str = "metrics") -> tuple[MetricDefinition, ...]:
    """Metric definitions from YAML: one mapping, or a list of mappings.

    Args:
        text: the YAML text (read with ``safe_load`` only).
        where: what to call the source in error messages, such as its path.

    Returns:
        The definitions, in order.

    Raises:
        ConfigError: the text is not YAML, not a mapping or list of mappings, or a field
            is missing, unknown or invalid; the message names the entry and the field.

    Examples:
        >>> load_metrics("{name: resolution_rate, kind: rate, event: resolved}")[0].window
        'day'
    """
    return load_models(text, MetricDefinition, where, "name, kind, event, per, window")


# --- shared with alerts ----------------------------------------------------------------


def load_models(text: str, model: type[_Model], where: str, keys: str) -> tuple[_Model, ...]:
    """Validate one YAML mapping or a list of them as ``model``; errors are ``ConfigError``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark is not None else where
        raise ConfigError(f"{at}: invalid YAML: {getattr(exc, 'problem', None) or exc}. "
                          "Fix the syntax.") from None
    entries = raw if isinstance(raw, list) else [raw]
    out = []
    for i, entry in enumerate(entries):
        label = f"{where}[{i}]" if isinstance(raw, list) else where
        if not isinstance(entry, dict):
            raise ConfigError(f"{label}: expected a mapping with keys such as {keys}; "
                              f"received {type(entry).__name__} {entry!r}.")
        try:
            out.append(model.model_validate(entry))
        except ValidationError as exc:
            raise ConfigError(f"{label}: {_problems(exc)}.") from None
    return tuple(out)


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(x) for x in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        if not loc:
            parts.append(msg)
        elif error["type"] == "extra_forbidden":
            parts.append(f"field {loc!r} is not allowed (unknown key)")
        elif error["type"] == "missing":
            parts.append(f"field {loc!r} is required")
        else:
            parts.append(f"field {loc!r}: {msg} (received {error['input']!r})")
    return "; ".join(parts)


def _forbid(given: set[str], fields: tuple[str, ...], kind: str) -> None:
    for name in fields:
        if name in given:
            raise ValueError(f"field {name!r} does not apply when kind is {kind!r}; remove it")


def _matches(event: EventLike, definition: MetricDefinition) -> bool:
    if event.name != definition.event:
        return False
    wanted = definition.success
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return event.label == wanted
    return event.value is not None and event.value == wanted


def _number(event: EventLike, metric: str) -> float:
    value = event.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(
            f"metric {metric!r} averages the values of {event.name!r} events, which must be "
            f"finite numbers; got {value!r} in conversation {event.conversation_id!r}."
        )
    return float(value)
