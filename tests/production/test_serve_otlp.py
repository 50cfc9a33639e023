"""A real OpenTelemetry client into a real ``evalstack serve``: an app instrumented with the
OpenTelemetry SDK and the project's own OpenAI instrumentation (openai-v2), calling the fake
server through the openai SDK, exporting over OTLP/HTTP. Plus malformed OTLP over the wire."""

from __future__ import annotations

import gzip
import json
import socket
import urllib.error
import urllib.request

import openai
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

from evalstack.production.store import project_id
from evalstack.production.traces import iter_traces
from evalstack.store import Store
from evalstack.store.tables import spans
from evalstack.testing.fake_server import FakeServer
from tests.production.otlp_receiver import Telemetry

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture
def instrumented(monkeypatch):
    made = []

    def start(mode: str, base: str, key: str) -> Telemetry:
        monkeypatch.setenv(CONTENT_ENV, mode)  # read when instrumenting
        t = Telemetry(base, compression=Compression.Gzip,
                      headers={"Authorization": f"Bearer {key}"})
        OpenAIInstrumentor().instrument(tracer_provider=t.tracer_provider,
                                        logger_provider=t.logger_provider)
        made.append(t)
        return t

    yield start
    instrumentor = OpenAIInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    for t in made:
        t.shutdown()


def _calls(server: FakeServer, n: int) -> list:
    client = openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
    try:
        return [client.chat.completions.create(model="gpt-test", messages=[
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": f"question number {i}"}]) for i in range(n)]
    finally:
        client.close()


def _stored(store_path: str) -> list:
    with Store.open(store_path) as store:
        return list(iter_traces(store, project_id(store, "bot") or ""))


def _check(traces, replies) -> None:
    assert len(traces) == len(replies)
    by_question = {t.question: t for t in traces}
    for i, reply in enumerate(replies):
        t = by_question[f"question number {i}"]
        assert t.model == "fake-model-2026-01"
        assert t.input_tokens == reply.usage.prompt_tokens > 0
        assert t.output_tokens == reply.usage.completion_tokens > 0
        assert t.input == [{"role": "system", "content": "You answer briefly."},
                           {"role": "user", "content": f"question number {i}"}]
        assert t.answer == reply.choices[0].message.content
        assert t.latency_ms is not None and t.latency_ms >= 0


@pytest.mark.slow
def test_two_hundred_instrumented_calls_become_two_hundred_traces(serve, instrumented):
    base, key, store_path = serve
    telemetry = instrumented("SPAN_ONLY", base, key)
    with FakeServer(model_version="fake-model-2026-01") as server:
        replies = _calls(server, 200)
    telemetry.flush()
    _check(_stored(store_path), replies)


def test_messages_sent_as_log_events_are_joined_to_their_spans(serve, instrumented):
    base, key, store_path = serve
    telemetry = instrumented("EVENT_ONLY", base, key)
    with FakeServer(model_version="fake-model-2026-01") as server:
        replies = _calls(server, 12)
    telemetry.flush()
    _check(_stored(store_path), replies)
    with Store.open(store_path) as store, store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(spans)).scalar_one() == 12


def _post(url: str, body: bytes, content_type: str, key: str | None,
          encoding: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if encoding:
        headers["Content-Encoding"] = encoding
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers),
                                    timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _big_body(base: str, key: str) -> int:
    """Send the head of a 20 MB body and read the answer: refused before it is all read
    (a client that keeps writing after the answer sees the connection close)."""
    host, port = base.removeprefix("http://").split(":")
    size = 20 * 1024 * 1024
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall((f"POST /v1/traces HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"Authorization: Bearer {key}\r\n"
                      "Content-Type: application/x-protobuf\r\n"
                      f"Content-Length: {size}\r\n\r\n").encode() + b"x" * 65536)
        data = b""
        while b"limit" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.decode("latin-1")
    assert "limit" in head, head
    return int(head.split()[1])


def test_malformed_otlp_gets_a_4xx_and_loses_nothing(serve, instrumented):
    base, key, store_path = serve
    telemetry = instrumented("SPAN_ONLY", base, key)
    with FakeServer(model_version="fake-model-2026-01") as server:
        replies = _calls(server, 3)
    telemetry.flush()
    url = f"{base}/v1/traces"
    missing_ids = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"name": "chat", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}).encode()
    cases = [
        (b"\xff\x00garbage", "application/x-protobuf", None, 400),
        (b"{}", "text/plain", None, 415),
        (missing_ids, "application/json", None, 400),
        (b"not gzip", "application/x-protobuf", "gzip", 400),
        (b"", "application/x-protobuf", None, 400),
    ]
    for body, content_type, encoding, status in cases:
        got, text = _post(url, body, content_type, key, encoding)
        assert got == status, (content_type, got, text)
        assert json.loads(text)["error"], text
    assert _big_body(base, key) == 413
    assert _post(url, gzip.compress(b"x"), "application/x-protobuf", None)[0] == 401
    assert _post(url, b"", "application/x-protobuf", "esk_wrong")[0] == 401
    _check(_stored(store_path), replies)  # what was stored before is all there
