"""Logged interactions: stored as traces, counted as conversation turns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from evalstack.core.errors import UserError
from evalstack.production.store import create_project
from evalstack.production.traces import Interaction, iter_traces, log_interactions
from evalstack.store import Store
from evalstack.store.tables import conversations

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_interactions_become_traces_and_turns(tmp_path):
    with Store.open(str(tmp_path / "s.db")) as store:
        pid, _ = create_project(store, "bot")
        ids = log_interactions(store, pid, [
            Interaction("Hi?", "Hello!", T0, conversation_id="c1", user_id="u1", model="m",
                        input_tokens=3, output_tokens=2, latency_ms=120.0),
            Interaction([{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Refund?"}], "Sure.",
                        T0 + timedelta(minutes=1), conversation_id="c1",
                        trace_id="4BF92F3577B34DA6A3CE929D0E0E4736"),
        ])
        assert ids[1] == "4bf92f3577b34da6a3ce929d0e0e4736" and len(ids[0]) == 32
        log_interactions(store, pid, [Interaction("More?", "No.", T0 - timedelta(minutes=5),
                                                  conversation_id="c1")])
        rows = list(iter_traces(store, pid))
        assert [r.question for r in rows] == ["More?", "Hi?", "Refund?"]
        assert rows[1].answer == "Hello!" and rows[1].latency_ms == 120.0
        with store.engine.connect() as conn:
            conv = conn.execute(sa.select(conversations)).mappings().one()
        assert conv["turns"] == 3 and conv["user_id"] == "u1"
        assert conv["first_seen"].replace(tzinfo=UTC) == T0 - timedelta(minutes=5)
        assert conv["last_seen"].replace(tzinfo=UTC) == T0 + timedelta(minutes=1)
        with pytest.raises(UserError, match="already stored"):
            log_interactions(store, pid, [Interaction("x", "y", T0, trace_id=ids[1])])
        assert len(list(iter_traces(store, pid))) == 3  # nothing stored before is lost
        assert [r.question for r in iter_traces(store, pid, since=T0)] == ["Hi?", "Refund?"]
