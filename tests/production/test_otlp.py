"""OTLP/HTTP decoding of GenAI spans and logs, against the real OpenTelemetry SDK and exporters,
and the real OpenAI instrumentation calling the fake OpenAI-compatible server, on loopback."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind, Status, StatusCode

from evalstack.production.otlp import (
    Message,
    OtlpError,
    attach_logs,
    decode_logs,
    decode_traces,
)
from evalstack.testing.fake_server import FakeServer
from tests.production.otlp_receiver import Captured, Receiver, Telemetry

PB = "application/x-protobuf"
FIXTURES = Path(__file__).parent / "fixtures"
CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


# -- the real SDK, exporting over OTLP/HTTP to a loopback receiver ----------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def telemetry(receiver: Receiver) -> Iterator[Telemetry]:
    t = Telemetry(receiver.url)
    yield t
    t.shutdown()


def _spans(requests: list[Captured]):
    out = []
    for r in requests:
        out += decode_traces(r.body, r.content_type, content_encoding=r.content_encoding)
    return out


def _logs(requests: list[Captured]):
    out = []
    for r in requests:
        out += decode_logs(r.body, r.content_type, content_encoding=r.content_encoding)
    return out


def _export(receiver: Receiver, telemetry: Telemetry, build: Callable[[trace.Tracer], None]):
    build(telemetry.tracer)
    telemetry.flush()
    requests = receiver.at("/v1/traces")
    assert requests and all(r.content_type == PB for r in requests)
    return _spans(requests)


# -- (1) GenAI attributes set by hand, in each convention --------------------------------------

CURRENT = {
    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.provider.name": "openai",
    "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 7,
    "gen_ai.conversation.id": "conv-1", "user.id": "u-42",
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
    "gen_ai.input.messages": json.dumps([
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather",
                                         "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                    "response": "rainy, 57F"}]}]),
    "gen_ai.output.messages": json.dumps([
        {"role": "assistant", "finish_reason": "stop",
         "parts": [{"type": "reasoning", "content": "hidden"},
                   {"type": "text", "content": "Rainy, "}, {"type": "text", "content": "57F."}]}]),
    "app.custom": "kept",
}
CURRENT_EXPECTED = dict(
    operation="chat", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
    provider="openai", input_tokens=12, output_tokens=7, conversation_id="conv-1",
    user_id="u-42",
    input_messages=(Message("system", "Be brief."), Message("user", "Weather in Paris?"),
                    Message("assistant", 'weather({"city": "Paris"})'),
                    Message("tool", "rainy, 57F")),
    output_messages=(Message("assistant", "Rainy, \n57F."),))

OPENLLMETRY = {  # opentelemetry-instrumentation-openai 0.40.x
    "llm.request.type": "chat", "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.prompt_tokens": 20,
    "gen_ai.usage.completion_tokens": 4, "llm.usage.total_tokens": 24,
    "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "You are terse.",
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": json.dumps([{"type": "text", "text": "What is 2+2?"}]),
    "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "4",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.completion.1.role": "assistant",
    "gen_ai.completion.1.tool_calls.0.name": "calc",
    "gen_ai.completion.1.tool_calls.0.arguments": '{"x": "2+2"}',
    "traceloop.association.properties.user_id": "u-7",
}
OPENLLMETRY_EXPECTED = dict(
    operation="chat", request_model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18",
    provider="OpenAI", input_tokens=20, output_tokens=4, conversation_id=None, user_id="u-7",
    input_messages=(Message("system", "You are terse."), Message("user", "What is 2+2?")),
    output_messages=(Message("assistant", "4"), Message("assistant", 'calc({"x": "2+2"})')))

OPENINFERENCE = {  # openinference-instrumentation-openai
    "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-2024-08-06",
    "llm.provider": "openai", "llm.system": "openai",
    "llm.invocation_parameters": json.dumps({"model": "gpt-4o", "temperature": 0}),
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "Answer in French.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.contents.0.message_content.type": "text",
    "llm.input_messages.1.message.contents.0.message_content.text": "Hello",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "Bonjour",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "log",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
    "llm.token_count.prompt": 9, "llm.token_count.completion": 2, "llm.token_count.total": 11,
    "input.value": json.dumps({"messages": [{"role": "user", "content": "Hello"}]}),
    "input.mime_type": "application/json", "output.value": "Bonjour",
    "session.id": "sess-9", "user.id": "u-9",
}
OPENINFERENCE_EXPECTED = dict(
    operation="llm", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
    provider="openai", input_tokens=9, output_tokens=2, conversation_id="sess-9", user_id="u-9",
    input_messages=(Message("system", "Answer in French."), Message("user", "Hello")),
    output_messages=(Message("assistant", "Bonjour\nlog({})"),))

OPENINFERENCE_VALUES_ONLY = {  # a chain span: no llm.* messages, only input/output values
    "openinference.span.kind": "CHAIN", "input.value": "What's up?",
    "output.value": json.dumps({"choices": [{"message": {"role": "assistant",
                                                         "content": "Not much."}}]}),
}
VALUES_EXPECTED = dict(operation="chain", input_messages=(Message("user", "What's up?"),),
                       output_messages=(Message("assistant", "Not much."),))


@pytest.mark.parametrize(("attributes", "expected"), [
    (CURRENT, CURRENT_EXPECTED), (OPENLLMETRY, OPENLLMETRY_EXPECTED),
    (OPENINFERENCE, OPENINFERENCE_EXPECTED), (OPENINFERENCE_VALUES_ONLY, VALUES_EXPECTED),
], ids=["current", "openllmetry", "openinference", "openinference-values"])
def test_each_convention_decodes_from_the_real_exporter(receiver, telemetry, attributes,
                                                        expected):
    def build(tracer):
        with tracer.start_as_current_span("agent", kind=SpanKind.INTERNAL) as parent:
            with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT,
                                              attributes=attributes) as span:
                span.set_status(Status(StatusCode.ERROR, "upstream 500"))
            ids[:] = [parent.get_span_context(), span.get_span_context()]

    ids: list[Any] = []
    spans = {s.name: s for s in _export(receiver, telemetry, build)}
    parent, child = spans["agent"], spans["chat"]
    parent_ctx, child_ctx = ids
    assert child.trace_id == f"{child_ctx.trace_id:032x}" == parent.trace_id
    assert child.span_id == f"{child_ctx.span_id:016x}"
    assert child.parent_span_id == parent.span_id == f"{parent_ctx.span_id:016x}"
    assert parent.parent_span_id is None
    assert (child.kind, parent.kind) == ("client", "internal")
    assert (child.status, child.status_message, parent.status) == ("error", "upstream 500", "unset")
    assert child.service_name == "support-bot" and child.scope_name == "tests.otlp"
    assert child.start_time.tzinfo is UTC and child.start_time <= child.end_time
    assert abs((child.start_time - datetime.now(UTC)).total_seconds()) < 60
    # every attribute is kept, as sent
    assert dict(child.attributes) == attributes
    got = {name: getattr(child, name) for name in expected}
    assert got == expected
    assert parent.input_messages == () and parent.request_model is None
    json.dumps(child.as_dict())  # storable as JSON


def test_span_events_of_the_older_conventions(receiver, telemetry):
    def build(tracer):
        with tracer.start_as_current_span("chat a") as span:  # semconv 1.26-era span events
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": json.dumps(
                [{"role": "user", "content": "ping"}])})
            span.add_event("gen_ai.content.completion", {"gen_ai.completion": json.dumps(
                [{"role": "assistant", "content": "pong"}])})
        with tracer.start_as_current_span("chat b") as span:  # per-message events on the span
            span.add_event("gen_ai.system.message", {"content": "Be kind."})
            span.add_event("gen_ai.user.message", {"gen_ai.event.content": json.dumps(
                {"content": "hi"})})
            span.add_event("gen_ai.choice", {"gen_ai.event.content": json.dumps(
                {"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hello"}})})

    spans = {s.name: s for s in _export(receiver, telemetry, build)}
    assert spans["chat a"].input_messages == (Message("user", "ping"),)
    assert spans["chat a"].output_messages == (Message("assistant", "pong"),)
    assert spans["chat b"].input_messages == (Message("system", "Be kind."), Message("user", "hi"))
    assert spans["chat b"].output_messages == (Message("assistant", "hello"),)
    assert [e.name for e in spans["chat b"].events] == [
        "gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"]


def test_older_per_message_log_events_join_their_span(receiver, telemetry):
    """As openai-v2 before the details event sent them: one log record per message."""
    def build(tracer):
        with tracer.start_as_current_span("chat m"):
            emit = telemetry.logger.emit
            emit(LogRecord(event_name="gen_ai.system.message", body={"content": "Be kind."},
                           attributes={"gen_ai.system": "openai"}))
            # the older SDKs' events API put the name in an attribute only
            emit(LogRecord(body={"content": [{"type": "text", "text": "hi"}]},
                           attributes={"event.name": "gen_ai.user.message"}))
            emit(LogRecord(event_name="gen_ai.choice", body={
                "index": 0, "finish_reason": "tool_calls", "message": {"tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]}}))
            emit(LogRecord(body="an unrelated log line"))
        telemetry.logger.emit(LogRecord(body="outside any span"))

    spans = _export(receiver, telemetry, build)
    logs = _logs(receiver.at("/v1/logs"))
    assert len(logs) == 5 and logs[-1].trace_id is None and logs[-1].span_id is None
    assert logs[1].event_name == "gen_ai.user.message"
    assert logs[3].body == "an unrelated log line" and logs[3].input_messages == ()
    [span] = attach_logs(spans, logs)
    assert span.input_messages == (Message("system", "Be kind."), Message("user", "hi"))
    assert span.output_messages == (Message("assistant", 'lookup({"q": "x"})'),)


# -- (2) the real OpenAI instrumentation calling the fake server -------------------------------

@pytest.fixture
def instrument(receiver: Receiver, monkeypatch: pytest.MonkeyPatch):
    """openai-v2 instrumenting the openai SDK in a content mode, with providers passed in (no
    global state); the mode is read when instrumenting, so it is set first. Uninstrumented
    after the test."""
    made: list[tuple[OpenAIInstrumentor, Telemetry]] = []

    def start(mode: str) -> Telemetry:
        monkeypatch.setenv(CONTENT_ENV, mode)
        t = Telemetry(receiver.url, compression=Compression.Gzip)
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=t.tracer_provider,
                                logger_provider=t.logger_provider)
        made.append((instrumentor, t))
        return t

    yield start
    for instrumentor, t in made:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        t.shutdown()


PROMPTS = ["hello", "two words", "what is the capital of France", "one two three four",
           "a longer prompt with quite a few more words in it", "x", "tell me a joke please"]


def _chat_calls(server: FakeServer) -> list[Any]:
    client = openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
    replies = []
    for prompt in PROMPTS:
        replies.append(client.chat.completions.create(model="gpt-test", messages=[
            {"role": "system", "content": "You echo."}, {"role": "user", "content": prompt}]))
    client.close()
    return replies


def _check_calls(spans, replies) -> None:
    assert len(spans) == len(PROMPTS)
    spans = sorted(spans, key=lambda s: s.start_time)
    for span, reply, prompt in zip(spans, replies, PROMPTS, strict=True):
        assert (span.name, span.kind, span.operation) == ("chat gpt-test", "client", "chat")
        assert span.request_model == "gpt-test" and span.response_model == "fake-model-2026-01"
        assert span.provider == "openai" and span.service_name == "support-bot"
        assert span.input_tokens == reply.usage.prompt_tokens > 0
        assert span.output_tokens == reply.usage.completion_tokens > 0
        assert span.attributes["gen_ai.response.id"] == reply.id
        assert span.input_messages == (Message("system", "You echo."), Message("user", prompt))
        assert span.output_messages == (Message("assistant", reply.choices[0].message.content),)


def test_openai_v2_span_only_content(receiver, instrument):
    instrumented = instrument("SPAN_ONLY")
    with FakeServer(model_version="fake-model-2026-01") as server:
        replies = _chat_calls(server)
    instrumented.flush()
    traces = receiver.at("/v1/traces")
    assert traces and all(r.content_encoding == "gzip" for r in traces)
    _check_calls(_spans(traces), replies)
    assert _logs(receiver.at("/v1/logs")) == []  # SPAN_ONLY sends no events


def test_openai_v2_event_only_content_joined_from_logs(receiver, instrument):
    instrumented = instrument("EVENT_ONLY")
    with FakeServer(model_version="fake-model-2026-01") as server:
        replies = _chat_calls(server)
    instrumented.flush()
    spans = _spans(receiver.at("/v1/traces"))
    assert all(s.input_messages == () == s.output_messages for s in spans)  # none on the span
    logs = _logs(receiver.at("/v1/logs"))
    assert [g.event_name for g in logs] == [
        "gen_ai.client.inference.operation.details"] * len(PROMPTS)
    assert {(g.trace_id, g.span_id) for g in logs} == {(s.trace_id, s.span_id) for s in spans}
    _check_calls(attach_logs(spans, logs), replies)


def test_openai_v2_true_is_no_content_and_uninstrument_stops_spans(receiver, instrument):
    telemetry = instrument("true")  # refused by 2.4b0: no content
    with FakeServer() as server:
        client = openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
        OpenAIInstrumentor().uninstrument()  # the instrumentor is a singleton
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "b"}])
        client.close()
    telemetry.flush()
    [span] = _spans(receiver.at("/v1/traces"))  # only the call made while instrumented
    assert span.request_model == "m" and span.input_tokens == 1
    assert span.input_messages == () and span.output_messages == ()


# -- (3) OTLP/JSON decodes to the same records as protobuf ------------------------------------

def _to_otlp_json(message: Any) -> bytes:
    """Protobuf's JSON mapping, with ids turned from base64 into hex as OTLP/JSON wants."""
    data = json_format.MessageToDict(message, use_integers_for_enums=True)

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(data)
    return json.dumps(data).encode()


def test_json_encoding_decodes_to_the_same_records(receiver, instrument):
    instrumented = instrument("SPAN_AND_EVENT")
    with FakeServer(model_version="fake-model-2026-01") as server:
        _chat_calls(server)
    instrumented.flush()
    for path, request_type, decode in (("/v1/traces", ExportTraceServiceRequest, decode_traces),
                                       ("/v1/logs", ExportLogsServiceRequest, decode_logs)):
        for captured in receiver.at(path):
            raw = gzip.decompress(captured.body)
            from_pb = decode(raw, PB)
            assert from_pb
            message = request_type.FromString(raw)
            from_json = decode(_to_otlp_json(message), "application/json; charset=utf-8")
            assert from_json == from_pb
            assert decode(captured.body, PB, content_encoding="gzip") == from_pb


def test_the_otlp_json_example_from_the_spec():
    """opentelemetry-proto's examples/trace.json shape, with GenAI attributes added."""
    body = (FIXTURES / "otlp_trace.json").read_bytes()
    [span] = decode_traces(body, "application/json")
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174" and span.parent_span_id == "eee19b7ec3c1b173"
    assert span.kind == "server" and span.status == "unset"
    assert span.start_time == datetime(2018, 12, 13, 14, 51, 0, tzinfo=UTC)
    assert span.duration_seconds == 1.0
    assert span.service_name == "my.service" and span.scope_name == "my.library"
    assert span.attributes["my.span.attr"] == "some value"
    assert span.resource_attributes["service.name"] == "my.service"
    assert (span.request_model, span.input_tokens, span.output_tokens) == ("m-1", 3, 2)
    assert span.output_messages == (Message("assistant", "ok"),)
    assert [e.name for e in span.events] == ["my.event"]


# -- (4) bad inputs -----------------------------------------------------------------------------

def _json_span(**fields: Any) -> bytes:
    span = {"name": "s", "startTimeUnixNano": "1", "endTimeUnixNano": "2", **fields}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


GOOD_IDS = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}
NO_IDS_PB = ExportTraceServiceRequest()
NO_IDS_PB.resource_spans.add().scope_spans.add().spans.add(name="s", start_time_unix_nano=1)


@pytest.mark.parametrize(("body", "content_type", "encoding", "status", "says"), [
    (b"not a protobuf \xff\xfe", PB, None, 400, "protobuf-encoded OTLP ExportTraceService"),
    (b"", PB, None, 400, "empty body"),
    (b"", "application/json", None, 400, "empty body"),
    (b"{}", "text/plain", None, 415, "application/x-protobuf or application/json"),
    (b"{}", "", None, 415, "Content-Type"),
    (b"{not json", "application/json", None, 400, "invalid JSON"),
    (b"[1, 2]", "application/json", None, 400, "object, got list"),
    (b'{"resourceSpans": "x"}', "application/json", None, 400, "OTLP/JSON"),
    (_json_span(spanId=GOOD_IDS["spanId"]), "application/json", None, 400,
     "resourceSpans[0].scopeSpans[0].spans[0].traceId"),
    (_json_span(traceId=GOOD_IDS["traceId"]), "application/json", None, 400, "spans[0].spanId"),
    (_json_span(traceId="0" * 32, spanId=GOOD_IDS["spanId"]), "application/json", None, 400,
     "non-zero 16-byte id"),
    (_json_span(traceId="abc", spanId=GOOD_IDS["spanId"]), "application/json", None, 400,
     "hex string"),
    (_json_span(traceId=base64.b64encode(bytes(range(1, 17))).decode(),
                spanId=GOOD_IDS["spanId"]), "application/json", None, 400, "not base64"),
    (_json_span(parentSpanId="abcd", **GOOD_IDS), "application/json", None, 400,
     "parentSpanId to be a non-zero 8-byte id"),
    (_json_span(**GOOD_IDS, startTimeUnixNano="0"), "application/json", None, 400,
     "startTimeUnixNano, got none"),
    (NO_IDS_PB.SerializeToString(), PB, None, 400, "spans[0].traceId to be a non-zero"),
    (b"\x1f\x8b\x08garbage", PB, "gzip", 400, "gzip-compressed"),
    (gzip.compress(_json_span(**GOOD_IDS))[:20], "application/json", "gzip", 400, "truncated"),
    (_json_span(**GOOD_IDS), "application/json", "br", 415, "Content-Encoding"),
], ids=["garbage", "empty-pb", "empty-json", "text-plain", "no-content-type", "bad-json",
        "json-list", "json-wrong-shape", "no-trace-id", "no-span-id", "zero-trace-id",
        "short-hex", "base64-id", "bad-parent", "no-start", "pb-no-ids", "bad-gzip",
        "truncated-gzip", "brotli"])
def test_bad_trace_bodies_raise_otlp_error(body, content_type, encoding, status, says):
    with pytest.raises(OtlpError) as info:
        decode_traces(body, content_type, content_encoding=encoding)
    assert info.value.status == status
    assert says in str(info.value)
    assert str(info.value).startswith("Expected")
    error = info.value  # raised here, not chained to an error deep inside protobuf
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("body", "says"), [
    (b"\x0a\x05garbage", "protobuf-encoded OTLP ExportLogsServiceRequest"),
    (json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"traceId": "zz" * 16, "body": {"stringValue": "x"}}]}]}]}).encode(),
     "resourceLogs[0].scopeLogs[0].logRecords[0].traceId to be a hex string"),
])
def test_bad_log_bodies_raise_otlp_error(body, says):
    content_type = "application/json" if body.startswith(b"{") else PB
    with pytest.raises(OtlpError, match=None) as info:
        decode_logs(body, content_type)
    assert info.value.status == 400 and says in str(info.value)


def test_a_zero_parent_span_id_means_a_root_span():
    [span] = decode_traces(_json_span(parentSpanId="0" * 16, **GOOD_IDS), "application/json")
    assert span.parent_span_id is None


def test_a_logs_payload_posted_to_traces_is_refused():
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add(
        time_unix_nano=1, trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)))
    with pytest.raises(OtlpError) as info:
        decode_traces(logs.SerializeToString(), PB)
    assert info.value.status == 400


def test_a_gzip_bomb_is_refused_with_413(monkeypatch):
    import evalstack.production.otlp as otlp

    monkeypatch.setattr(otlp, "MAX_DECODED_BYTES", 1000)
    with pytest.raises(OtlpError) as info:
        decode_traces(gzip.compress(b"\0" * 100_000), PB, content_encoding="gzip")
    assert info.value.status == 413


def test_a_json_log_without_trace_context_is_kept_unjoined():
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1544712660300000000", "eventName": "gen_ai.client.inference."
         "operation.details", "attributes": [{"key": "gen_ai.output.messages", "value": {
             "arrayValue": {"values": [{"kvlistValue": {"values": [
                 {"key": "role", "value": {"stringValue": "assistant"}},
                 {"key": "parts", "value": {"arrayValue": {"values": [{"kvlistValue": {
                     "values": [{"key": "type", "value": {"stringValue": "text"}},
                                {"key": "content", "value": {"stringValue": "hi"}}]}}]}}},
             ]}}]}}}]}]}]}]}).encode()
    [log] = decode_logs(body, "application/json")
    assert (log.trace_id, log.span_id) == (None, None)
    assert log.output_messages == (Message("assistant", "hi"),)
    assert log.time == datetime(2018, 12, 13, 14, 51, 0, 300000, tzinfo=UTC)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "1", "0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "name",
         "startTimeUnixNano", "attributes", "key", "value", "stringValue", "intValue",
         "kvlistValue", "arrayValue", "values", "events", "links", "kind", "status",
         "scopeLogs", "logRecords", "body", "eventName"]),
        inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), json_body=JSON_VALUES)
def test_any_body_decodes_or_raises_otlp_error(body, json_body):
    """Whatever arrives, the caller sees records or an OtlpError, never another exception."""
    shaped = json.dumps({"resourceSpans": json_body, "resourceLogs": json_body}).encode()
    for payload, content_type in ((body, PB), (body, "application/json"),
                                  (shaped, "application/json")):
        for decode in (decode_traces, decode_logs):
            try:
                decode(payload, content_type)
            except OtlpError as exc:
                assert exc.status in (400, 413, 415)
