"""Alert rules: fire once per episode on clear evidence, never on noise or quiet windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evalstack.core.errors import ConfigError
from evalstack.production.alerts import AlertRule, evaluate_rule, evaluate_rules, load_rules
from evalstack.production.metrics import (
    Conversation,
    Event,
    MetricSeries,
    compute_metric,
    load_metrics,
)
from evalstack.stats.windows import WindowStat, wilson_rate
from evalstack.testing.traffic import TrafficConfig, simulate_traffic

D0 = datetime(2026, 11, 2, tzinfo=UTC)
RESOLUTION = load_metrics("{name: resolution_rate, kind: rate, event: resolved, window: day}")[0]
RULE = load_rules("""
name: resolution_low
metric: resolution_rate
comparison: "<"
threshold: 0.70
window: day
sustain: 2
min_n: 50
""")[0]
#: The documented delay, in windows after the drop on day 20: with sustain 2 the rule fires
#: at the earliest on day 21 (days 20 and 21 beyond). A day whose interval still reaches 0.70
#: (about 5% of days at a true 0.60) restarts the run; over seeds 0-29 it fired on day 21 in
#: 28 runs, day 23 in one and day 25 in one.
MAX_DELAY = 3


def _series(counts: list[tuple[int, int]], days: list[int] | None = None) -> MetricSeries:
    days = list(range(len(counts))) if days is None else days
    return MetricSeries("resolution_rate", "day", tuple(
        WindowStat(D0 + timedelta(days=d), wilson_rate(k, n)) for d, (k, n) in zip(days, counts,
                                                                                 strict=True)))


@pytest.mark.parametrize("seed", range(4))
def test_fires_once_soon_after_the_drop(seed: int) -> None:
    traffic = simulate_traffic(seed)
    series = compute_metric(RESOLUTION, traffic.events, traffic.conversations)
    alerts = evaluate_rule(RULE, series)
    assert len(alerts) == 1, [a.message for a in alerts]
    alert = alerts[0]
    fired_day = (alert.window_start - D0).days
    assert 20 < fired_day <= 20 + MAX_DELAY
    assert (alert.episode_start - D0).days >= 20
    assert alert.ci_high < 0.70 and alert.n >= 50
    assert alert.ci_low <= alert.value <= alert.ci_high
    assert alert.key == ("resolution_low", alert.episode_start)
    assert "resolution_rate is below 0.7 for 2 days" in alert.message
    # evaluated again (the next hour, say) with the alert already sent: nothing new
    assert evaluate_rule(RULE, series, seen={alert.key}) == ()


@pytest.mark.parametrize("seed", range(5))
def test_never_fires_when_nothing_changes(seed: int) -> None:
    traffic = simulate_traffic(100 + seed, TrafficConfig(change_day=None))
    series = compute_metric(RESOLUTION, traffic.events, traffic.conversations)
    assert evaluate_rule(RULE, series) == ()


def test_a_quiet_window_raises_nothing() -> None:
    d = D0 + timedelta(hours=3)
    convs = [Conversation(f"c{i}", f"u{i}", d, 1) for i in range(3)]  # none resolved
    series = compute_metric(RESOLUTION, [Event("thumbs", d, "c0", label="down")], convs)
    assert series.points[0].result.n == 3 and series.points[0].result.ci_high < 0.7
    assert evaluate_rule(RULE, series) == ()
    assert evaluate_rule(RULE.model_copy(update={"sustain": 1}), series) == ()


def test_episode_ends_only_on_a_clear_window() -> None:
    low, ok, quiet = (150, 300), (240, 300), (0, 3)
    # beyond, beyond (fire), quiet, beyond, beyond: one episode; clear; beyond x2: a second
    series = _series([ok, low, low, quiet, low, low, ok, low, low])
    alerts = evaluate_rule(RULE, series)
    assert [(a.episode_start.day, a.window_start.day) for a in alerts] == [(3, 4), (9, 10)]


def test_a_window_between_does_not_end_the_episode_unless_recover_when_interval() -> None:
    low, between = (150, 300), (205, 300)  # 0.683: its interval reaches 0.70
    assert wilson_rate(*between).ci_high > 0.70
    series = _series([low, low, between, low, low])
    assert [a.window_start.day for a in evaluate_rule(RULE, series)] == [3]
    literal = RULE.model_copy(update={"recover_when": "interval"})
    assert [a.window_start.day for a in evaluate_rule(literal, series)] == [3, 6]


def test_recover_when_interval_flaps_on_the_simulated_month() -> None:
    """The reason for the default: seed 2 has a day 24 whose interval reaches 0.70."""
    traffic = simulate_traffic(2)
    series = compute_metric(RESOLUTION, traffic.events, traffic.conversations)
    literal = RULE.model_copy(update={"recover_when": "interval"})
    assert len(evaluate_rule(literal, series)) == 2
    assert len(evaluate_rule(RULE, series)) == 1


def test_a_quiet_window_or_a_gap_breaks_the_run() -> None:
    low, quiet = (150, 300), (1, 3)
    assert evaluate_rule(RULE, _series([low, quiet, low, quiet, low])) == ()
    # days 0 and 2 are beyond, day 1 is missing from the series: not consecutive
    assert evaluate_rule(RULE, _series([low, low], days=[0, 2])) == ()
    assert len(evaluate_rule(RULE, _series([low, low], days=[0, 1]))) == 1


def test_greater_than_rules_and_several_rules() -> None:
    high = AlertRule(name="escalation_high", metric="escalation_rate", comparison=">",
                     threshold=0.2, sustain=1, min_n=50)
    esc = MetricSeries("escalation_rate", "day", (
        WindowStat(D0, wilson_rate(30, 300)), WindowStat(D0 + timedelta(days=1),
                                                         wilson_rate(120, 300))))
    res = _series([(150, 300), (150, 300)])
    alerts = evaluate_rules([RULE, high], [res, esc])
    assert [(a.rule, a.window_start.day) for a in alerts] == [
        ("escalation_high", 3), ("resolution_low", 3)]
    assert "escalation_rate is above 0.2" in alerts[0].message
    with pytest.raises(ValueError, match="which has no series"):
        evaluate_rules([high], {"resolution_rate": res})
    with pytest.raises(ValueError, match="two rules are named 'resolution_low'"):
        evaluate_rules([RULE, RULE], [res])
    with pytest.raises(ValueError, match="is for day windows; got a series of week"):
        evaluate_rule(RULE, MetricSeries("resolution_rate", "week", ()))
    with pytest.raises(ValueError, match="watches metric 'resolution_rate'"):
        evaluate_rule(RULE, esc)


@pytest.mark.parametrize(("text", "message"), [
    ('{name: a, metric: m, comparison: "<=", threshold: 0.7}',
     "alerts.yaml: field 'comparison': Input should be '<' or '>' (received '<=')"),
    ('{name: a, metric: m, comparison: "<"}', "alerts.yaml: field 'threshold' is required"),
    ('{name: a, metric: m, comparison: "<", threshold: 0.7, sustain: 0}',
     "field 'sustain': Input should be greater than or equal to 1 (received 0)"),
    ('{name: a, metric: m, comparison: "<", threshold: high}',
     "field 'threshold': Input should be a valid number"),
    ('{name: a, metric: m, comparison: "<", threshold: 0.7, minn: 50}',
     "field 'minn' is not allowed (unknown key)"),
    ('{name: a, metric: m, comparison: "<", threshold: .nan}', "field 'threshold'"),
    ('{name: a, metric: m, comparison: "<", threshold: 0.7, recover_when: never}',
     "field 'recover_when': Input should be 'estimate' or 'interval' (received 'never')"),
])
def test_bad_rule_yaml_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(text, "alerts.yaml")
    assert message in str(info.value)
