"""A seeded simulator of production traffic with known rates, for testing the monitoring.

``simulate_traffic`` makes a month of conversations and their outcome events, as
``evalstack.production.metrics`` reads them, from rates the test knows:

- about ``conversations_per_day`` conversations a day (Poisson), started uniformly in
  the UTC day, with ``1 + Poisson(mean_turns - 1)`` turns;
- each conversation ends in exactly one of: escalated (``escalation``), resolved
  (``resolution``, or ``resolution_after`` from day ``change_day`` on, days counted from 0),
  or neither; ``change_day=None`` keeps the rates fixed (the no-change control);
- a ``feedback`` share of conversations gets one thumbs event, up with chance
  ``thumbs_up`` (label ``up``/``down``, value 1/0, as the store keeps them). Events
  come a minute per turn after the conversation starts.

Users return: each new user has a stickiness ``s ~ Gamma(shape, 1/shape)`` (mean 1;
a small shape gives many one-off users and a few loyal ones), and on each later day comes
back with chance ``min(1, return_rate * s * exp(-age / interest_days))``. New users fill up
each day's conversations to the day's Poisson draw, so retention cohorts are non-trivial
and decline with the weeks. ``Traffic`` records the true rates per day for the tests.

``simulate_judge_pairs`` makes human-vs-automated labelled pairs, pass or fail, where the
judge agrees with the person with chance ``agreement`` until week ``drift_week`` (counted
from 0) and ``agreement_after`` from then on.

Examples:
    >>> t = simulate_traffic(1, TrafficConfig(days=2, conversations_per_day=20))
    >>> len({c.first_seen.day for c in t.conversations})
    2
    >>> t.true_resolution(0)
    0.8
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from evalstack.production.agreement import LabelledPair
from evalstack.production.metrics import Conversation, Event

__all__ = [
    "JudgeConfig",
    "Traffic",
    "TrafficConfig",
    "simulate_judge_pairs",
    "simulate_traffic",
]

_MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """The true rates of the simulated traffic (see the module docstring).

    Examples:
        >>> TrafficConfig(change_day=None).true_resolution(25)
        0.8
    """

    days: int = 30
    start: datetime = _MONDAY
    conversations_per_day: float = 300.0
    resolution: float = 0.8
    resolution_after: float = 0.6
    change_day: int | None = 20
    escalation: float = 0.1
    feedback: float = 0.3
    thumbs_up: float = 0.7
    mean_turns: float = 4.0
    return_rate: float = 0.12
    interest_days: float = 10.0
    stickiness_shape: float = 0.6

    def __post_init__(self) -> None:
        for name in ("resolution", "resolution_after", "escalation", "feedback", "thumbs_up"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1]; got {value!r}.")
        if max(self.resolution, self.resolution_after) + self.escalation > 1:
            raise ValueError(
                "resolution + escalation must be at most 1 (a conversation has one outcome); "
                f"got resolution={self.resolution}, resolution_after={self.resolution_after}, "
                f"escalation={self.escalation}."
            )
        if self.days < 1 or self.conversations_per_day <= 0 or self.mean_turns < 1:
            raise ValueError("days and conversations_per_day must be positive, and mean_turns "
                             "at least 1.")

    def true_resolution(self, day: int) -> float:
        """The resolution rate of conversations started on ``day`` (counted from 0)."""
        changed = self.change_day is not None and day >= self.change_day
        return self.resolution_after if changed else self.resolution


@dataclass(frozen=True, slots=True)
class Traffic:
    """Simulated conversations and events, with the configuration that made them.

    Attributes:
        config: the true rates.
        conversations: every conversation, in order of start.
        events: every outcome and thumbs event, in order of time.
    """

    config: TrafficConfig
    conversations: tuple[Conversation, ...]
    events: tuple[Event, ...] = field(repr=False)

    def true_resolution(self, day: int) -> float:
        """The resolution rate of conversations started on ``day`` (counted from 0)."""
        return self.config.true_resolution(day)


def simulate_traffic(seed: int, config: TrafficConfig | None = None) -> Traffic:
    """A month (by default) of conversations and events with known rates; same seed, same data.

    Examples:
        >>> a = simulate_traffic(3, TrafficConfig(days=1, conversations_per_day=10))
        >>> a == simulate_traffic(3, TrafficConfig(days=1, conversations_per_day=10))
        True
    """
    cfg = config or TrafficConfig()
    rng = np.random.default_rng(seed)
    stickiness: list[float] = []
    first_day: list[int] = []
    conversations: list[Conversation] = []
    events: list[Event] = []
    serial = 0
    for day in range(cfg.days):
        target = int(rng.poisson(cfg.conversations_per_day))
        users: list[int] = []
        if stickiness:
            s = np.asarray(stickiness)
            age = day - np.asarray(first_day)
            chance = np.minimum(1.0, cfg.return_rate * s * np.exp(-age / cfg.interest_days))
            back = np.flatnonzero(rng.random(s.size) < chance)
            if back.size > target:
                back = rng.choice(back, size=target, replace=False)
            users.extend(int(u) for u in back)
        for _ in range(target - len(users)):
            users.append(len(stickiness))
            stickiness.append(float(rng.gamma(cfg.stickiness_shape, 1 / cfg.stickiness_shape)))
            first_day.append(day)
        rng.shuffle(users)
        seconds = np.sort(rng.uniform(0, 86_400, size=len(users)))
        resolution = cfg.true_resolution(day)
        for user, second in zip(users, seconds, strict=True):
            serial += 1
            cid, uid = f"c{serial:06d}", f"u{user:06d}"
            started = cfg.start + timedelta(days=day, seconds=float(second))
            turns = 1 + int(rng.poisson(cfg.mean_turns - 1))
            conversations.append(Conversation(cid, uid, started, turns))
            done = started + timedelta(minutes=turns)
            outcome = rng.random()
            if outcome < cfg.escalation:
                events.append(Event("escalated", done, cid, uid))
            elif outcome < cfg.escalation + resolution:
                events.append(Event("resolved", done, cid, uid))
            if rng.random() < cfg.feedback:
                up = rng.random() < cfg.thumbs_up
                events.append(Event("thumbs", done + timedelta(seconds=30), cid, uid,
                                    value=1.0 if up else 0.0, label="up" if up else "down"))
    events.sort(key=lambda e: e.at)
    return Traffic(cfg, tuple(conversations), tuple(events))


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    """The labelled pairs' true rates (see the module docstring).

    Examples:
        >>> JudgeConfig().true_agreement(2)
        0.7
    """

    weeks: int = 4
    start: datetime = _MONDAY
    pairs_per_week: int = 200
    pass_rate: float = 0.6
    agreement: float = 0.9
    agreement_after: float = 0.7
    drift_week: int | None = 2

    def true_agreement(self, week: int) -> float:
        """The chance the judge agrees with the person in ``week`` (counted from 0)."""
        drifted = self.drift_week is not None and week >= self.drift_week
        return self.agreement_after if drifted else self.agreement

    def true_kappa(self, week: int) -> float:
        """Cohen's kappa implied by the pass rate and ``true_agreement(week)``."""
        a, p = self.true_agreement(week), self.pass_rate
        judge_pass = p * a + (1 - p) * (1 - a)
        chance = p * judge_pass + (1 - p) * (1 - judge_pass)
        return (a - chance) / (1 - chance) if not math.isclose(chance, 1.0) else math.nan


def simulate_judge_pairs(seed: int, config: JudgeConfig | None = None) -> tuple[LabelledPair, ...]:
    """Human and automated pass/fail labels per week; the judge drifts from ``drift_week``.

    Examples:
        >>> pairs = simulate_judge_pairs(0, JudgeConfig(weeks=1, pairs_per_week=5))
        >>> (len(pairs), pairs[0].human in ("pass", "fail"))
        (5, True)
    """
    cfg = config or JudgeConfig()
    rng = np.random.default_rng(seed)
    out = []
    for week in range(cfg.weeks):
        agree = cfg.true_agreement(week)
        offsets = np.sort(rng.uniform(0, 7 * 86_400, size=cfg.pairs_per_week))
        for i, offset in enumerate(offsets):
            human = rng.random() < cfg.pass_rate
            judge = human if rng.random() < agree else not human
            out.append(LabelledPair(f"t{week:02d}{i:05d}",
                                    cfg.start + timedelta(days=7 * week, seconds=float(offset)),
                                    "pass" if human else "fail", "pass" if judge else "fail"))
    return tuple(out)
