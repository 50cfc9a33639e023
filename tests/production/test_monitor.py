"""Alerts end to end over the store: a simulated month with a drop on day 20, delivered to a
loopback webhook exactly once, through a receiver that fails its first two attempts."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from evalstack.production.alerts import load_rules
from evalstack.production.metrics import load_metrics
from evalstack.production.monitor import check_alerts, metric_series
from evalstack.production.store import FeedbackEvent, add_feedback, create_project
from evalstack.store import Store
from evalstack.store.tables import conversations
from evalstack.testing.traffic import TrafficConfig, simulate_traffic
from tests.production.test_webhook import Receiver

METRICS = load_metrics("""
- {name: resolution_rate, kind: rate, event: resolved}
- {name: thumbs_up, kind: rate, event: thumbs, per: event, success: up}
""")
RULES = load_rules('{name: low-resolution, metric: resolution_rate, comparison: "<", '
                   "threshold: 0.7, window: day, sustain: 2, min_n: 50}")


def _store_traffic(store, seed, config=None):
    pid, _ = create_project(store, "bot")
    traffic = simulate_traffic(seed, config)
    with store.engine.begin() as conn:
        conn.execute(conversations.insert(), [
            {"project_id": pid, "conversation_id": c.conversation_id, "user_id": c.user_id,
             "first_seen": c.first_seen, "last_seen": c.first_seen, "turns": c.turns}
            for c in traffic.conversations])
    add_feedback(store, pid, [FeedbackEvent(e.name, e.at, e.trace_id, e.conversation_id,
                                            e.user_id, e.value, e.label)
                              for e in traffic.events])
    return pid, traffic


def test_the_drop_alerts_once_through_a_failing_receiver(tmp_path):
    async def main():
        receiver = Receiver([500, 502])
        with Store.open(str(tmp_path / "s.db")) as store:
            pid, traffic = _store_traffic(store, seed=0)
            series = metric_series(store, pid, METRICS)
            async with receiver as url:
                first = await check_alerts(store, pid, METRICS, RULES, webhook=url,
                                           base_delay=0.01, seed=0)
                again = await check_alerts(store, pid, METRICS, RULES, webhook=url,
                                           base_delay=0.01, seed=0)
        return receiver, traffic, series, first, again

    receiver, traffic, series, first, again = asyncio.run(main())
    (delivery,) = first
    assert delivery.delivered and delivery.attempts == 3
    assert again == []  # the episode is stored: nothing fired or sent again
    assert len(receiver.bodies) == 3 and {b["alert_id"] for b in receiver.bodies} == {
        delivery.alert_id}
    body = receiver.bodies[-1]
    from datetime import datetime

    first_day = traffic.conversations[0].first_seen.replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    fired_day = (datetime.fromisoformat(body["window_start"]) - first_day).days
    assert 20 <= fired_day <= 23  # the drop starts on day 20; docs: within 3 windows
    assert body["ci_high"] < 0.7 and body["n"] >= 50
    # every daily interval of the thumbs-up rate carries its n
    assert all(p.result.n > 0 for p in series["thumbs_up"].points)


def test_no_change_no_alert(tmp_path):
    with Store.open(str(tmp_path / "s.db")) as store:
        config = replace(TrafficConfig(), change_day=None)
        pid, _ = _store_traffic(store, seed=1, config=config)
        fired = asyncio.run(check_alerts(store, pid, METRICS, RULES, webhook=None))
    assert fired == []
