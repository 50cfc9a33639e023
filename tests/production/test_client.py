"""The Python helper against a real ``evalstack serve``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evalstack.core.errors import UserError
from evalstack.production.client import Client, IngestRejected
from evalstack.production.store import iter_feedback, project_id
from evalstack.production.traces import iter_traces
from evalstack.store import Store


def test_log_and_feedback_reach_the_store(serve):
    base, key, store_path = serve
    client = Client(base, key)
    assert key not in repr(client)
    trace = client.log([{"role": "user", "content": "Where is my order?"}], "Tomorrow.",
                       model="gpt-4o-mini", latency_ms=840, conversation_id="c-17",
                       user_id="u-3", started_at=datetime(2026, 12, 1, tzinfo=UTC))
    client.feedback("thumbs", trace_id=trace, value=1, label="up")
    with pytest.raises(IngestRejected) as info:
        client.feedback("")
    assert info.value.status == 422 and "name" in str(info.value)
    with pytest.raises(IngestRejected) as info:
        Client(base, "esk_wrong").log("a", "b")
    assert info.value.status == 401
    with Store.open(store_path) as store:
        pid = project_id(store, "bot") or ""
        (row,) = list(iter_traces(store, pid))
        assert row.trace_id == trace and row.question == "Where is my order?"
        assert [e.label for e in iter_feedback(store, pid)] == ["up"]


def test_no_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("EVALSTACK_INGEST_KEY", raising=False)
    with pytest.raises(UserError, match="No ingest key"):
        Client("http://127.0.0.1:9")
