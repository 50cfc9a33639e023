"""OTLP/HTTP trace and log payloads carrying OpenTelemetry GenAI spans, as plain typed records.

``decode_traces`` reads the body of ``POST /v1/traces``, ``decode_logs`` that of
``POST /v1/logs``, in either OTLP/HTTP encoding: binary protobuf (``application/x-protobuf``)
or OTLP/JSON (``application/json``: protobuf's JSON mapping, except that trace and span ids
are hex strings, not base64). ``attach_logs`` fills a span's messages from the log records
tied to it by trace and span id, which is where instrumentations put content in event mode.

The GenAI view reads the three shapes real instrumentations send (docs: ADDENDA, issue 14):
the current semantic conventions (``gen_ai.input.messages`` JSON with parts,
``gen_ai.usage.input_tokens``), older OpenLLMetry keys (``gen_ai.prompt.N.role``,
``gen_ai.usage.prompt_tokens``, ``gen_ai.system``) and OpenInference's (``llm.model_name``,
``llm.input_messages.N.message.content``, ``llm.token_count.prompt``, ``input.value``), plus
older per-message events (``gen_ai.user.message``, ``gen_ai.choice``) on the span or as logs.
Every attribute is kept, understood or not. Nothing here touches the store or the network.

Examples:
    >>> import json
    >>> body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
    ...     "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
    ...     "name": "chat m", "kind": 3, "startTimeUnixNano": "1700000000000000000",
    ...     "endTimeUnixNano": "1700000001000000000", "attributes": [
    ...         {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
    ...         {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "5"}}]}]}]}]})
    >>> [span] = decode_traces(body.encode(), "application/json")
    >>> span.request_model, span.input_tokens, span.kind, span.duration_seconds
    ('m', 5, 'client', 1.0)
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as _Proto
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from evalstack.core.errors import EvalstackError

__all__ = ["JsonValue", "LogRecordInfo", "Message", "OtlpError", "SpanEvent", "SpanRecord",
           "attach_logs", "decode_logs", "decode_traces"]

JsonValue: TypeAlias = "None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]"
#: The largest body accepted after decompression (a gzip bomb stops here).
MAX_DECODED_BYTES = 64 * 1024 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_ROLE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
_HEX = re.compile(r"[0-9a-fA-F]*")


class OtlpError(EvalstackError, ValueError):
    """An OTLP request that can't be read; ``status`` is the HTTP status to answer with.

    400: malformed body or missing/invalid ids; 413: too large once decompressed;
    415: a content type or encoding other than protobuf/JSON and gzip/deflate.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Message:
    """One chat message as text: its role and its content (text parts joined)."""

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class SpanEvent:
    """An event recorded on a span."""

    name: str
    time: datetime
    attributes: Mapping[str, JsonValue]


@dataclass(frozen=True)
class SpanRecord:
    """One span, with its GenAI view read from whichever convention its sender used.

    Ids are lower-case hex (32 and 16 characters); times are UTC. ``kind`` is one of
    ``unspecified internal server client producer consumer``, ``status`` one of
    ``unset ok error``. ``attributes`` holds every span attribute as JSON-safe values
    (bytes as base64, non-finite floats as strings), whether understood or not.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time: datetime
    end_time: datetime
    status: str
    status_message: str | None
    service_name: str | None
    scope_name: str | None
    attributes: Mapping[str, JsonValue]
    resource_attributes: Mapping[str, JsonValue]
    events: tuple[SpanEvent, ...] = ()
    operation: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_messages: tuple[Message, ...] = ()
    output_messages: tuple[Message, ...] = ()
    conversation_id: str | None = None
    user_id: str | None = None

    @property
    def duration_seconds(self) -> float:
        return (self.end_time - self.start_time).total_seconds()

    def as_dict(self) -> dict[str, JsonValue]:
        """The record as JSON-safe values (ISO 8601 times, messages as ``{role, content}``)."""
        out: dict[str, JsonValue] = {}
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out


@dataclass(frozen=True)
class LogRecordInfo:
    """One OTLP log record, with the messages it carries when it is a GenAI event.

    ``event_name`` is the record's ``event_name`` field, or its ``event.name`` attribute
    as older SDKs sent it. ``trace_id``/``span_id`` are ``None`` when the record has no
    trace context (it can't be joined to a span then).
    """

    trace_id: str | None
    span_id: str | None
    time: datetime | None
    event_name: str | None
    severity_text: str | None
    body: JsonValue
    attributes: Mapping[str, JsonValue]
    service_name: str | None
    scope_name: str | None
    input_messages: tuple[Message, ...] = ()
    output_messages: tuple[Message, ...] = ()

    def as_dict(self) -> dict[str, JsonValue]:
        """The record as JSON-safe values."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass
class _GenAi:
    """The GenAI fields, as they are read from attributes (mutable while being filled)."""

    fields: dict[str, Any] = field(default_factory=dict)
    inputs: list[Message] = field(default_factory=list)
    outputs: list[Message] = field(default_factory=list)


def decode_traces(body: bytes, content_type: str, *,
                  content_encoding: str | None = None) -> list[SpanRecord]:
    """Decode the body of ``POST /v1/traces`` into one record per span.

    Args:
        body: the request body as received.
        content_type: the request's ``Content-Type`` (parameters such as charset allowed).
        content_encoding: the request's ``Content-Encoding``: ``gzip``, ``deflate`` or none.

    Raises:
        OtlpError: the body is not an ``ExportTraceServiceRequest`` in the declared encoding,
            or a span has a missing or invalid trace or span id.
    """
    request = ExportTraceServiceRequest()
    _parse(request, body, content_type, content_encoding, "ExportTraceServiceRequest",
           ("resourceSpans", "scopeSpans", "spans"), ("traceId", "spanId", "parentSpanId"))
    records = []
    for r, resource_spans in enumerate(request.resource_spans):
        resource = _attributes(resource_spans.resource.attributes)
        service = _str(resource.get("service.name"))
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope.name or None
            for i, span in enumerate(scope_spans.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                records.append(_span(span, where, resource, service, scope))
    return records


def decode_logs(body: bytes, content_type: str, *,
                content_encoding: str | None = None) -> list[LogRecordInfo]:
    """Decode the body of ``POST /v1/logs`` into one record per log record.

    Args and errors as ``decode_traces``; a log record may lack trace context, but ids that
    are present must be valid.
    """
    request = ExportLogsServiceRequest()
    _parse(request, body, content_type, content_encoding, "ExportLogsServiceRequest",
           ("resourceLogs", "scopeLogs", "logRecords"), ("traceId", "spanId"))
    records = []
    for r, resource_logs in enumerate(request.resource_logs):
        resource = _attributes(resource_logs.resource.attributes)
        service = _str(resource.get("service.name"))
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            scope = scope_logs.scope.name or None
            for i, log in enumerate(scope_logs.log_records):
                where = f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]"
                attributes = _attributes(log.attributes)
                name = log.event_name or _str(attributes.get("event.name"))
                payload = _any(log.body) if log.HasField("body") else None
                inputs, outputs = _event_messages(name or "", attributes, payload)
                nanos = log.time_unix_nano or log.observed_time_unix_nano
                records.append(LogRecordInfo(
                    trace_id=_id(log.trace_id, 16, f"{where}.traceId", required=False),
                    span_id=_id(log.span_id, 8, f"{where}.spanId", required=False),
                    time=_time(nanos) if nanos else None,
                    event_name=name,
                    severity_text=log.severity_text or None, body=payload,
                    attributes=attributes, service_name=service, scope_name=scope,
                    input_messages=tuple(inputs), output_messages=tuple(outputs)))
    return records


def attach_logs(spans: Iterable[SpanRecord], logs: Iterable[LogRecordInfo]) -> list[SpanRecord]:
    """Fill each span's messages from the log records tied to it by trace and span id.

    A span keeps messages it already carries (content on the span wins). Otherwise its
    ``gen_ai.client.inference.operation.details`` records give the messages; failing those,
    its older per-message events (``gen_ai.user.message`` ... ``gen_ai.choice``), in the
    order received. Logs that match no span are left out.
    """
    by_span: dict[tuple[str, str], list[LogRecordInfo]] = {}
    for log in logs:
        if log.trace_id and log.span_id and (log.input_messages or log.output_messages):
            by_span.setdefault((log.trace_id, log.span_id), []).append(log)
    out = []
    for span in spans:
        found = by_span.get((span.trace_id, span.span_id), [])
        details = [g for g in found if g.event_name == _DETAILS_EVENT]
        chosen = details or found
        inputs = span.input_messages or tuple(m for g in chosen for m in g.input_messages)
        outputs = span.output_messages or tuple(m for g in chosen for m in g.output_messages)
        if (inputs, outputs) != (span.input_messages, span.output_messages):
            span = dataclasses.replace(span, input_messages=inputs, output_messages=outputs)
        out.append(span)
    return out


# -- the wire ---------------------------------------------------------------------------------

def _parse(request: _Proto, body: bytes, content_type: str, encoding: str | None, what: str,
           path: tuple[str, str, str], id_fields: tuple[str, ...]) -> None:
    """Fill ``request`` from the body, or raise OtlpError saying what was expected."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ("application/x-protobuf", "application/protobuf", "application/json"):
        raise OtlpError(f"Expected Content-Type application/x-protobuf or application/json "
                        f"(OTLP/HTTP), got {content_type!r}.", 415)
    body = _decompress(body, encoding)
    if not body:
        raise OtlpError(f"Expected an OTLP {what} in the body, got an empty body.")
    if media == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise OtlpError(f"Expected an OTLP/JSON {what}, got invalid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise OtlpError(f"Expected an OTLP/JSON {what} object, got {type(data).__name__}.")
        _hex_ids_to_base64(data, path, id_fields)
        try:
            json_format.ParseDict(data, request, ignore_unknown_fields=True)
        except (json_format.ParseError, RecursionError, TypeError, ValueError) as exc:
            raise OtlpError(f"Expected an OTLP/JSON {what}: {exc}") from None
        return
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise OtlpError(f"Expected a protobuf-encoded OTLP {what}, got bytes that don't "
                        f"decode as one ({exc}). Is the Content-Type right?") from None


def _decompress(body: bytes, encoding: str | None) -> bytes:
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        out = body
    elif name in ("gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if name == "gzip" else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, MAX_DECODED_BYTES + 1)
        except zlib.error as exc:
            raise OtlpError(f"Expected a {name}-compressed body, got one that doesn't "
                            f"decompress ({exc}).") from None
        if len(out) <= MAX_DECODED_BYTES and not inflater.eof:
            raise OtlpError(f"Expected a complete {name}-compressed body, got a truncated one.")
    else:
        raise OtlpError(f"Expected Content-Encoding gzip, deflate or none, got {encoding!r}.",
                        415)
    if len(out) > MAX_DECODED_BYTES:
        raise OtlpError(f"Expected a body of at most {MAX_DECODED_BYTES} bytes, got "
                        f"{len(out)}.", 413)
    return out


def _hex_ids_to_base64(data: dict[str, Any], path: tuple[str, str, str],
                       id_fields: tuple[str, ...]) -> None:
    """OTLP/JSON writes ids as hex; protobuf's JSON parser wants base64. Convert in place."""
    top, middle, leaf = path
    for r, outer in enumerate(_list(data.get(top))):
        for s, inner in enumerate(_list(outer.get(middle) if isinstance(outer, dict) else None)):
            items = inner.get(leaf) if isinstance(inner, dict) else None
            for i, item in enumerate(_list(items)):
                if not isinstance(item, dict):
                    continue
                where = f"{top}[{r}].{middle}[{s}].{leaf}[{i}]"
                targets = [(item, where)] + [
                    (link, f"{where}.links[{k}]")
                    for k, link in enumerate(_list(item.get("links"))) if isinstance(link, dict)]
                for obj, at in targets:
                    for key in id_fields:
                        snake = re.sub(r"([A-Z])", r"_\1", key).lower()
                        for name in (key, snake):
                            if isinstance(obj.get(name), str):
                                obj[name] = _hex_to_base64(obj[name], f"{at}.{key}")


def _hex_to_base64(value: str, where: str) -> str:
    if len(value) % 2 or not _HEX.fullmatch(value):
        raise OtlpError(f"Expected {where} to be a hex string (OTLP/JSON encodes ids as hex, "
                        f"not base64), got {value!r}.")
    return base64.b64encode(bytes.fromhex(value)).decode()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _id(raw: bytes, size: int, where: str, *, required: bool = True) -> str | None:
    if not raw and not required:
        return None
    if len(raw) != size or not any(raw):
        got = "nothing" if not raw else f"{raw.hex()!r} ({len(raw)} bytes)"
        raise OtlpError(f"Expected {where} to be a non-zero {size}-byte id "
                        f"({2 * size} hex characters in OTLP/JSON), got {got}.")
    return raw.hex()


def _parent_id(raw: bytes, where: str) -> str | None:
    """A parent span id; all zeros (as some bridges send for a root) means none."""
    return None if not any(raw) and len(raw) in (0, 8) else _id(raw, 8, where)


def _time(nanos: int) -> datetime:
    # fixed64 nanoseconds end in the year 2554, well inside datetime's range
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def _any(value: AnyValue) -> JsonValue:
    """An OTLP AnyValue as a JSON-safe value."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        d = value.double_value
        return d if math.isfinite(d) else str(d)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which == "array_value":
        return [_any(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, JsonValue]:
    return {kv.key: _any(kv.value) for kv in pairs}


def _plain(value: Any) -> JsonValue:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Message | SpanEvent):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value  # type: ignore[no-any-return]


def _span(span: Any, where: str, resource: Mapping[str, JsonValue], service: str | None,
          scope: str | None) -> SpanRecord:
    attributes = _attributes(span.attributes)
    events = tuple(SpanEvent(e.name, _time(e.time_unix_nano), _attributes(e.attributes))
                   for e in span.events)
    if not span.start_time_unix_nano:
        raise OtlpError(f"Expected {where}.startTimeUnixNano, got none.")
    start = _time(span.start_time_unix_nano)
    genai = _read_genai(attributes)
    if not genai.inputs and not genai.outputs:
        for event in events:
            inputs, outputs = _event_messages(event.name, event.attributes, None)
            genai.inputs += inputs
            genai.outputs += outputs
    trace_id = _id(span.trace_id, 16, f"{where}.traceId")
    span_id = _id(span.span_id, 8, f"{where}.spanId")
    assert trace_id is not None and span_id is not None
    return SpanRecord(
        trace_id=trace_id, span_id=span_id,
        parent_span_id=_parent_id(span.parent_span_id, f"{where}.parentSpanId"),
        name=span.name, kind=_KINDS[span.kind] if 0 <= span.kind < len(_KINDS) else "unspecified",
        start_time=start,
        end_time=_time(span.end_time_unix_nano) if span.end_time_unix_nano else start,
        status=_STATUSES[span.status.code] if 0 <= span.status.code < 3 else "unset",
        status_message=span.status.message or None, service_name=service, scope_name=scope,
        attributes=attributes, resource_attributes=dict(resource), events=events,
        input_messages=tuple(genai.inputs), output_messages=tuple(genai.outputs),
        **genai.fields)


# -- the GenAI conventions --------------------------------------------------------------------

def _read_genai(attrs: Mapping[str, JsonValue]) -> _GenAi:
    """The GenAI fields and messages of one span's (or event's) attributes."""
    out = _GenAi()
    for name, (keys, convert) in _FIELD_KEYS.items():
        for key in keys:
            value = convert(attrs.get(key))
            if value is not None:
                out.fields[name] = value
                break
    if "request_model" not in out.fields:
        # OpenInference records one model name (the response's); the requested one is in
        # the invocation parameters when the instrumentation kept them.
        params = _json(attrs.get("llm.invocation_parameters"))
        model = _str(params.get("model")) if isinstance(params, dict) else None
        if model or "llm.model_name" in attrs:
            out.fields["request_model"] = model or _str(attrs.get("llm.model_name"))
    out.inputs, out.outputs = _messages_current(attrs)
    if not out.inputs and not out.outputs:
        out.inputs = _indexed_messages(attrs, "gen_ai.prompt", "user")
        out.outputs = _indexed_messages(attrs, "gen_ai.completion", "assistant")
    if not out.inputs and not out.outputs:
        out.inputs = _indexed_messages(attrs, "llm.input_messages", "user")
        out.outputs = _indexed_messages(attrs, "llm.output_messages", "assistant")
    if not out.inputs and attrs.get("input.value") is not None:
        out.inputs = _value_messages(attrs["input.value"], "user")
    if not out.outputs and attrs.get("output.value") is not None:
        out.outputs = _value_messages(attrs["output.value"], "assistant")
    return out


def _str(value: JsonValue) -> str | None:
    if value is None or isinstance(value, list | dict) or value == "":
        return None
    return str(value)


def _int(value: JsonValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _lower(value: JsonValue) -> str | None:
    text = _str(value)
    return text.lower() if text else None


# Each field, from the first key present: current conventions, then OpenLLMetry's older
# keys, then OpenInference's, then other common ones (Langfuse, Traceloop association keys).
_FIELD_KEYS: dict[str, tuple[tuple[str, ...], Callable[[JsonValue], Any]]] = {
    "operation": (("gen_ai.operation.name", "llm.request.type", "openinference.span.kind"),
                  _lower),
    "request_model": (("gen_ai.request.model",), _str),
    "response_model": (("gen_ai.response.model", "llm.model_name"), _str),
    "provider": (("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"), _str),
    "input_tokens": (("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                      "llm.usage.prompt_tokens", "llm.token_count.prompt"), _int),
    "output_tokens": (("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                       "llm.usage.completion_tokens", "llm.token_count.completion"), _int),
    "conversation_id": (("gen_ai.conversation.id", "session.id", "langfuse.session.id",
                         "traceloop.association.properties.session_id"), _str),
    "user_id": (("user.id", "enduser.id", "langfuse.user.id",
                 "traceloop.association.properties.user_id"), _str),
}


def _json(value: JsonValue) -> JsonValue:
    """A JSON string parsed; anything else (or text that isn't JSON) as it is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            parsed: JsonValue = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return parsed
    return value


def _messages_current(attrs: Mapping[str, JsonValue]) -> tuple[list[Message], list[Message]]:
    """``gen_ai.input.messages``/``output.messages`` (JSON on spans, arrays on events)."""
    inputs = _message_list(attrs.get("gen_ai.input.messages"), "user")
    system = _json(attrs.get("gen_ai.system_instructions"))
    if isinstance(system, list) and system:
        inputs.insert(0, Message("system", _parts_text(system)))
    return inputs, _message_list(attrs.get("gen_ai.output.messages"), "assistant")


def _message_list(value: JsonValue, role: str) -> list[Message]:
    value = _json(value)
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, str):
        return [Message(role, value)] if value else []
    return [_message(m, role) for m in _list(value) if isinstance(m, dict)]


def _message(data: Mapping[str, JsonValue], role: str) -> Message:
    """A message in any shape: ``{role, parts}``, or OpenAI's ``{role, content, tool_calls}``."""
    role = _str(data.get("role")) or role
    if isinstance(data.get("parts"), list):
        return Message(role, _parts_text(_list(data["parts"])))
    lines = [_content_text(data.get("content"))]
    for call in _list(data.get("tool_calls")):
        if isinstance(call, dict):
            function = call.get("function")
            spec = function if isinstance(function, dict) else call
            lines.append(_call_text(spec.get("name"), spec.get("arguments")))
    return Message(role, "\n".join(line for line in lines if line))


def _parts_text(parts: Sequence[JsonValue]) -> str:
    """Parts of the current conventions as text: text as is, tool calls as ``name(args)``;
    reasoning is left out, and media as a ``[type mime]`` placeholder."""
    lines = []
    for part in parts:
        if isinstance(part, str):
            lines.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" or (kind is None and "content" in part):
            lines.append(_content_text(part.get("content")))
        elif kind == "tool_call":
            lines.append(_call_text(part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            lines.append(_content_text(part.get("response")))
        elif kind != "reasoning":
            mime = _str(part.get("mime_type")) or _str(part.get("modality")) or ""
            lines.append(f"[{kind} {mime}]".replace(" ]", "]"))
    return "\n".join(line for line in lines if line)


def _content_text(content: JsonValue) -> str:
    """Message content as text: a string (maybe a JSON list of OpenAI parts), or parts."""
    content = _json(content) if isinstance(content, str) and content[:1] == "[" else content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", p.get("content")) if isinstance(p, dict) else p for p in content]
        return "\n".join(_content_text(t) for t in texts if t is not None)
    if isinstance(content, dict) and ("text" in content or "content" in content):
        return _content_text(content.get("text", content.get("content")))
    return json.dumps(content, ensure_ascii=False)


def _call_text(name: JsonValue, arguments: JsonValue) -> str:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return f"{_str(name) or 'tool'}({'' if arguments is None else args})"


_INDEXED = re.compile(r"(\d+)\.(.+)")
_TOOL_KEY = re.compile(r"tool_calls\.(\d+)\.(?:tool_call\.function\.)?(name|arguments)")
_CONTENTS_KEY = re.compile(r"contents\.(\d+)\.message_content\.text")


def _indexed_messages(attrs: Mapping[str, JsonValue], prefix: str, role: str) -> list[Message]:
    """``prefix.N.role|content`` (OpenLLMetry) or ``prefix.N.message.role|content|contents``
    (OpenInference), with tool calls, in index order."""
    rows: dict[int, dict[str, JsonValue]] = {}
    for key, value in attrs.items():
        if key.startswith(prefix + "."):
            match = _INDEXED.fullmatch(key[len(prefix) + 1:])
            if match:
                rest = match[2].removeprefix("message.")
                rows.setdefault(int(match[1]), {})[rest] = value
    messages = []
    for _, row in sorted(rows.items()):
        calls: dict[int, dict[str, JsonValue]] = {}
        contents: dict[int, str] = {}
        for key, value in row.items():
            if tool := _TOOL_KEY.fullmatch(key):
                calls.setdefault(int(tool[1]), {})[tool[2]] = value
            elif part := _CONTENTS_KEY.fullmatch(key):
                contents[int(part[1])] = _content_text(value)
        lines = [_content_text(row.get("content"))] + [contents[k] for k in sorted(contents)]
        lines += [_call_text(c.get("name"), c.get("arguments")) for _, c in sorted(calls.items())]
        messages.append(Message(_str(row.get("role")) or role,
                                "\n".join(line for line in lines if line)))
    return messages


def _value_messages(value: JsonValue, role: str) -> list[Message]:
    """OpenInference ``input.value``/``output.value``: a request/response JSON, or text."""
    data = _json(value)
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return _message_list(data["messages"], role)
    if isinstance(data, dict) and isinstance(data.get("choices"), list):
        found = [c.get("message") for c in _list(data["choices"]) if isinstance(c, dict)]
        return [_message(m, role) for m in found if isinstance(m, dict)]
    text = value if isinstance(value, str) else _content_text(data)
    return [Message(role, text)] if text else []


def _event_messages(name: str, attrs: Mapping[str, JsonValue],
                    body: JsonValue) -> tuple[list[Message], list[Message]]:
    """The messages an event carries, on a span (attributes only) or as a log record."""
    if name == _DETAILS_EVENT or "gen_ai.input.messages" in attrs \
            or "gen_ai.output.messages" in attrs:
        return _messages_current(attrs)
    if name == "gen_ai.content.prompt":
        return _message_list(attrs.get("gen_ai.prompt"), "user"), []
    if name == "gen_ai.content.completion":
        return [], _message_list(attrs.get("gen_ai.completion"), "assistant")
    if body is None:  # span events have no body: their content is in attributes
        body = _json(attrs.get("gen_ai.event.content")) or dict(attrs)
    if not isinstance(body, dict):
        body = {"content": body}
    if name in _ROLE_EVENTS:
        return [_message(body, _ROLE_EVENTS[name])], []
    if name == "gen_ai.choice":
        message = _json(body.get("message"))
        return [], [_message(message if isinstance(message, dict) else body, "assistant")]
    return [], []
