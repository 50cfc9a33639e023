"""The production tables on SQLite (and PostgreSQL when configured): keys, feedback, online
scores, alerts, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from evalstack.core.errors import UserError
from evalstack.production.store import (
    FeedbackEvent,
    OnlineScore,
    add_feedback,
    create_project,
    iter_feedback,
    list_alerts,
    mark_delivery,
    project_for_key,
    project_id,
    prune,
    record_alert,
    save_scores,
    scored,
)
from evalstack.store.tables import projects, traces

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_keys_are_stored_hashed_and_checked(store):
    pid, key = create_project(store, "bot")
    assert project_for_key(store, key) == pid and project_id(store, "bot") == pid
    for wrong in (None, "", key[:-1] + ("A" if key[-1] != "A" else "B"), "not-a-key"):
        assert project_for_key(store, wrong) is None
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(projects.c.key_hash)).scalar_one()
    assert key not in stored and len(stored) == 64
    with pytest.raises(UserError, match="already exists"):
        create_project(store, "bot")
    other, other_key = create_project(store, "other")
    assert other != pid and project_for_key(store, other_key) == other


def test_feedback_round_trips_in_time_order(store):
    pid, _ = create_project(store, "bot")
    events = [FeedbackEvent("thumbs", T0 + timedelta(hours=2), trace_id="t2", value=0.0,
                            label="down", user_id="u1"),
              FeedbackEvent("resolved", T0 + timedelta(hours=1), conversation_id="c1",
                            metadata={"agent": "bot"})]
    assert len(add_feedback(store, pid, events)) == 2
    got = list(iter_feedback(store, pid))
    assert [e.name for e in got] == ["resolved", "thumbs"]
    assert got[0].metadata == {"agent": "bot"} and got[1].label == "down"
    assert got[0].at == T0 + timedelta(hours=1)
    assert [e.name for e in iter_feedback(store, pid, names=["thumbs"])] == ["thumbs"]
    assert list(iter_feedback(store, pid, since=T0 + timedelta(hours=3))) == []


def test_a_trace_is_scored_once_per_metric(store):
    pid, _ = create_project(store, "bot")
    first = [OnlineScore("t1", "llm_judge", "nightly", 0.8, T0),
             OnlineScore("t2", "llm_judge", "nightly", None, T0, error="judge error")]
    assert save_scores(store, pid, first) == 2
    again = [OnlineScore("t1", "llm_judge", "nightly", 0.1, T0),
             OnlineScore("t1", "faithfulness", "nightly", 1.0, T0)]
    assert save_scores(store, pid, again) == 1
    assert scored(store, pid) == {("t1", "llm_judge"), ("t2", "llm_judge"),
                                  ("t1", "faithfulness")}


def test_an_episode_alerts_once_and_its_delivery_is_recorded(store):
    pid, _ = create_project(store, "bot")
    payload = {"metric": "resolution_rate", "estimate": 0.6, "ci": [0.55, 0.65], "n": 300}
    first = record_alert(store, pid, "resolution", T0, payload)
    assert first is not None
    assert record_alert(store, pid, "resolution", T0, payload) is None
    assert record_alert(store, pid, "resolution", T0 + timedelta(days=3), payload) is not None
    mark_delivery(store, first, delivered=False, attempts=1, error="HTTP 500")
    mark_delivery(store, first, delivered=True, attempts=3)
    rows = {r["id"]: r for r in list_alerts(store, pid)}
    assert len(rows) == 2 and rows[first]["attempts"] == 3
    assert rows[first]["delivered_at"] is not None and rows[first]["payload"] == payload


def test_pruning_by_age_keeps_newer_data_and_other_projects(store):
    pid, _ = create_project(store, "bot")
    other, _ = create_project(store, "other")
    with store.engine.begin() as conn:
        for project in (pid, other):
            for i, day in enumerate((1, 20)):
                conn.execute(traces.insert().values(
                    project_id=project, trace_id=f"t{i}", started_at=T0 + timedelta(days=day),
                    received_at=T0, metadata={}))
    add_feedback(store, pid, [FeedbackEvent("thumbs", T0 + timedelta(days=1), trace_id="t0"),
                              FeedbackEvent("thumbs", T0 + timedelta(days=20), trace_id="t1")])
    save_scores(store, pid, [OnlineScore("t0", "m", "p", 1.0, T0),
                             OnlineScore("t1", "m", "p", 1.0, T0)])
    counts = prune(store, pid, T0 + timedelta(days=10))
    assert counts["traces"] == 1 and counts["feedback"] == 1 and counts["online_scores"] == 1
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(traces.c.project_id, traces.c.trace_id)).all()
    assert sorted(left) == sorted([(pid, "t1"), (other, "t0"), (other, "t1")])
    assert scored(store, pid) == {("t1", "m")}
