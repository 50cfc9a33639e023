"""The ingest API: keys, JSON interactions and feedback, limits, and clear 4xx errors."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from evalstack.production.store import create_project, iter_feedback
from evalstack.production.traces import iter_traces
from evalstack.store import Store
from evalstack.web.ingest import RateLimiter, create_ingest_app


@pytest.fixture
def ingest(tmp_path):
    store = Store.open(str(tmp_path / "s.db"))
    pid, key = create_project(store, "bot")
    app = create_ingest_app(store=store, max_body=1_000_000, rate=1000)
    with TestClient(app) as client:
        yield client, store, pid, {"Authorization": f"Bearer {key}"}
    store.close()


def _one(**extra):
    return {"interactions": [{"input": "Refund?", "output": "Sure.", "model": "gpt-4o-mini",
                              "conversation_id": "c1", "user_id": "u1", **extra}]}


def test_interactions_and_feedback_are_stored(ingest):
    client, store, pid, auth = ingest
    r = client.post("/api/ingest/interactions", json=_one(input_tokens=5), headers=auth)
    assert r.status_code == 200, r.text
    (trace_id,) = r.json()["trace_ids"]
    r = client.post("/api/ingest/feedback", headers=auth, json={"events": [
        {"name": "thumbs", "trace_id": trace_id, "value": 1, "label": "up"},
        {"name": "resolved", "conversation_id": "c1"}]})
    assert r.status_code == 200, r.text
    (row,) = list(iter_traces(store, pid))
    assert row.question == "Refund?" and row.input_tokens == 5 and row.trace_id == trace_id
    assert [e.name for e in iter_feedback(store, pid)] == ["thumbs", "resolved"]


def test_a_wrong_or_missing_key_is_401(ingest):
    client, _, _, _ = ingest
    for headers in ({}, {"Authorization": "Bearer esk_wrong"}, {"X-Evalstack-Key": "nope"}):
        r = client.post("/api/ingest/interactions", json=_one(), headers=headers)
        assert r.status_code == 401 and "ingest key" in r.json()["error"]


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"{not json", 400, "not valid JSON"),
    (json.dumps({"interactions": []}).encode(), 422, "'interactions'"),
    (json.dumps({"interactions": [{"input": "x"}]}).encode(), 422, "'interactions.0.output'"),
    (json.dumps(_one(latency_ms=-1)).encode(), 422, "latency_ms"),
    (json.dumps(_one(trace_id="xyz")).encode(), 422, "trace_id"),
    (json.dumps({**_one(), "extra": 1}).encode(), 422, "'extra'"),
])
def test_malformed_payloads_get_a_4xx_that_says_what_was_expected(ingest, body, status, says):
    client, store, pid, auth = ingest
    client.post("/api/ingest/interactions", json=_one(), headers=auth)
    r = client.post("/api/ingest/interactions", content=body,
                    headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == status and says in r.json()["error"]
    assert "Expected" in r.json()["error"]
    assert len(list(iter_traces(store, pid))) == 1  # nothing stored before is lost


def test_a_body_over_the_limit_is_413_and_a_duplicate_trace_409(ingest):
    client, store, pid, auth = ingest
    big = json.dumps(_one(metadata={"pad": "x" * 2_000_000})).encode()
    r = client.post("/api/ingest/interactions", content=big,
                    headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert client.post("/api/ingest/interactions", json=_one(trace_id=tid),
                       headers=auth).status_code == 200
    r = client.post("/api/ingest/interactions", json=_one(trace_id=tid), headers=auth)
    assert r.status_code == 409 and "already stored" in r.json()["error"]
    assert len(list(iter_traces(store, pid))) == 1


def test_each_key_is_rate_limited(tmp_path):
    with Store.open(str(tmp_path / "s.db")) as store:
        _, key = create_project(store, "bot")
        app = create_ingest_app(store=store, rate=1)
        with TestClient(app) as client:
            codes = [client.post("/api/ingest/feedback", json={"events": [{"name": "x"}]},
                                 headers={"Authorization": f"Bearer {key}"}).status_code
                     for _ in range(4)]
            assert codes[:2] == [200, 200] and codes[2] == 429


def test_the_token_bucket_refills():
    now = [0.0]
    bucket = RateLimiter(2, burst=2, clock=lambda: now[0])
    assert [bucket.wait("k") for _ in range(2)] == [0.0, 0.0]
    assert bucket.wait("k") == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.wait("k") == 0.0 and bucket.wait("other") == 0.0
