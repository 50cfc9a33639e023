"""Feedback and outcome metrics per window, checked on a simulated month with known rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evalstack.core.errors import ConfigError, UserError
from evalstack.production.metrics import (
    Conversation,
    Event,
    MetricDefinition,
    compute_metric,
    compute_retention,
    load_metrics,
)
from evalstack.stats import wilson_ci
from evalstack.testing.traffic import Traffic, TrafficConfig, simulate_traffic

METRICS = load_metrics("""
- {name: resolution_rate, kind: rate, event: resolved, per: conversation, window: day}
- {name: escalation_rate, kind: rate, event: escalated, per: conversation, window: day}
- {name: thumbs_up_rate, kind: rate, event: thumbs, success: up, per: event, window: day}
- {name: conversation_length, kind: mean, of: turns, window: day}
- {name: retention, kind: retention, periods: 4, window: week}
""", "metrics.yaml")
BY_NAME = {m.name: m for m in METRICS}
D0 = datetime(2026, 11, 2, tzinfo=UTC)


def _truth(traffic: Traffic, name: str, day: int) -> float:
    cfg = traffic.config
    return {"resolution_rate": cfg.true_resolution(day), "escalation_rate": cfg.escalation,
            "thumbs_up_rate": cfg.thumbs_up, "conversation_length": cfg.mean_turns}[name]


@pytest.mark.parametrize("seed", [0, 1])
def test_daily_intervals_cover_the_true_rates(seed: int) -> None:
    traffic = simulate_traffic(seed)
    covered: dict[str, list[bool]] = {}
    for name in ("resolution_rate", "escalation_rate", "thumbs_up_rate", "conversation_length"):
        series = compute_metric(BY_NAME[name], traffic.events, traffic.conversations,
                                end=D0 + timedelta(days=30))
        assert len(series.points) == 30
        for day, point in enumerate(series.points):
            assert point.start == D0 + timedelta(days=day)
            r = point.result
            assert r.n >= (60 if name == "thumbs_up_rate" else 200)
            covered.setdefault(name, []).append(r.ci_low <= _truth(traffic, name, day) <= r.ci_high)
    every = [c for cs in covered.values() for c in cs]
    assert sum(every) / len(every) >= 0.85, {k: sum(v) for k, v in covered.items()}
    for name, cs in covered.items():
        assert sum(cs) / len(cs) >= 0.8, name
    # and the intervals are informative, not merely wide: Wilson at n~300 is ~0.09 wide
    res = compute_metric(BY_NAME["resolution_rate"], traffic.events, traffic.conversations)
    assert max(p.result.ci_high - p.result.ci_low for p in res.points) < 0.13


def test_the_simulated_month_shows_the_drop_from_day_20() -> None:
    traffic = simulate_traffic(3)
    res = compute_metric(BY_NAME["resolution_rate"], traffic.events, traffic.conversations)
    before = [p.result.estimate for p in res.points[:20]]
    after = [p.result.estimate for p in res.points[20:]]
    assert min(before) > 0.72 and max(after) < 0.68


def test_retention_cohorts_equal_a_direct_computation() -> None:
    traffic = simulate_traffic(2)
    cohorts = compute_retention(BY_NAME["retention"], traffic.conversations)

    # plainly: the week of each conversation, each user's weeks, cohorts by first week
    weeks_of: dict[str, set[int]] = {}
    for c in traffic.conversations:
        weeks_of.setdefault(str(c.user_id), set()).add((c.first_seen - D0).days // 7)
    last = max(c.first_seen for c in traffic.conversations)
    full_weeks = [w for w in range(6) if D0 + timedelta(days=7 * (w + 1)) <= last]
    assert full_weeks == [0, 1, 2, 3]  # 30 days from a Monday: week 4 has only 2 days
    expected = []
    for w in sorted({min(ws) for ws in weeks_of.values()}):
        members = [ws for ws in weeks_of.values() if min(ws) == w]
        shares = []
        for k in range(1, 5):
            if w + k not in full_weeks:
                break
            shares.append((sum(1 for ws in members if w + k in ws), len(members)))
        expected.append((D0 + timedelta(days=7 * w), len(members), shares))

    assert [(c.start, c.size) for c in cohorts] == [(s, n) for s, n, _ in expected]
    for cohort, (_, _, shares) in zip(cohorts, expected, strict=True):
        assert list(cohort.returns) == [wilson_ci(k, n) for k, n in shares]
    # non-trivial: users come back, less so as the weeks pass
    first = [r.estimate for r in cohorts[0].returns]
    assert len(first) == 3 and 0.1 < first[0] < 0.6 and first[0] > first[1] > first[2] > 0


def test_a_small_hand_made_example() -> None:
    d = D0 + timedelta(hours=9)
    convs = [Conversation("c1", "u1", d, 3), Conversation("c2", "u2", d, 5),
             Conversation("c3", "u1", d + timedelta(days=1), 2)]
    events = [Event("resolved", d + timedelta(days=1), "c1"),  # later, but counts on day 0
              Event("resolved", d, "c-unknown"),  # no such conversation: ignored
              Event("thumbs", d, "c1", value=1.0, label="up"),
              Event("thumbs", d, "c2", value=0.0, label="down"),
              Event("csat", d, "c1", value=4.0), Event("csat", d, "c2", value=2.0)]
    res = compute_metric(BY_NAME["resolution_rate"], events, convs)
    assert [(p.result.estimate, p.result.n) for p in res.points] == [(0.5, 2), (0.0, 1)]
    by_value = MetricDefinition(name="t", kind="rate", event="thumbs", success=1, per="event")
    assert compute_metric(by_value, events, convs).points[0].result.estimate == 0.5
    csat = MetricDefinition(name="csat", kind="mean", event="csat")
    assert compute_metric(csat, events, convs).points[0].result.estimate == 3.0
    turns = compute_metric(BY_NAME["conversation_length"], events, convs)
    assert [p.result.estimate for p in turns.points] == [4.0, 2.0]
    weekly = MetricDefinition(name="r", kind="rate", event="resolved", window="week")
    assert compute_metric(weekly, events, convs).points[0].result.n == 3
    with pytest.raises(ValueError, match="compute it with compute_retention"):
        compute_metric(BY_NAME["retention"], events, convs)
    with pytest.raises(ValueError, match="compute it with compute_metric"):
        compute_retention(BY_NAME["resolution_rate"], convs)
    bad = [Event("csat", d, "c1", label="great")]
    with pytest.raises(ValueError, match="must be finite numbers; got None in conversation 'c1'"):
        compute_metric(csat, bad, convs)


def test_store_feedback_events_can_be_passed_as_they_are() -> None:
    from evalstack.production.store import FeedbackEvent

    events = [FeedbackEvent("thumbs", D0, label="up"), FeedbackEvent("thumbs", D0, label="down"),
              FeedbackEvent("thumbs", D0, label="up")]
    r = compute_metric(BY_NAME["thumbs_up_rate"], events, []).points[0].result
    assert (r.n, r.estimate) == (3, 2 / 3)


def test_no_change_simulation_keeps_the_rates() -> None:
    traffic = simulate_traffic(4, TrafficConfig(change_day=None, days=10))
    res = compute_metric(BY_NAME["resolution_rate"], traffic.events, traffic.conversations)
    assert len(res.points) == 10
    assert all(p.result.ci_low <= 0.8 + 0.05 and p.result.ci_high >= 0.8 - 0.05
               for p in res.points)
    with pytest.raises(ValueError, match="resolution \\+ escalation must be at most 1"):
        TrafficConfig(resolution=0.95)


@pytest.mark.parametrize(("text", "message"), [
    ("{name: r, kind: rate, event: resolved, windw: day}",
     "metrics.yaml: field 'windw' is not allowed (unknown key)"),
    ("{name: r, kind: rate, event: resolved, window: hour}",
     "metrics.yaml: field 'window': Input should be 'day' or 'week' (received 'hour')"),
    ("{name: r, kind: ratio, event: resolved}",
     "field 'kind': Input should be 'rate', 'mean' or 'retention' (received 'ratio')"),
    ("{kind: rate, event: resolved}", "metrics.yaml: field 'name' is required"),
    ("{name: r, kind: rate}", "field 'event' is required when kind is 'rate'"),
    ("{name: t, kind: rate, event: thumbs, per: event}",
     "field 'success' is required when kind is 'rate' and per is 'event'"),
    ("{name: m, kind: mean}", "a mean needs exactly one of field 'of'"),
    ("{name: m, kind: mean, of: tokens}", "field 'of': Input should be 'turns'"),
    ("{name: k, kind: retention}", "field 'periods' is required when kind is 'retention'"),
    ("{name: k, kind: retention, periods: 0}",
     "field 'periods': Input should be greater than or equal to 1 (received 0)"),
    ("{name: k, kind: retention, periods: 2, event: resolved}",
     "field 'event' does not apply when kind is 'retention'"),
    ("[{name: a, kind: rate, event: x}, {name: b, kind: rate, event: x, per: user}]",
     "metrics.yaml[1]: field 'per': Input should be 'conversation' or 'event'"),
    ("name: r\nkind: rate\n  event: x\n", "metrics.yaml:3: invalid YAML"),
    ("just a string", "metrics.yaml: expected a mapping with keys such as name, kind"),
])
def test_bad_metric_yaml_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_metrics(text, "metrics.yaml")
    assert message in str(info.value)
    assert isinstance(info.value, UserError)
