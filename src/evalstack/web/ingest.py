"""The ingest API of ``evalstack serve``: traces, interactions and feedback from apps.

Routes (all ``POST``, all need a project key, as ``Authorization: Bearer esk_...`` or
``X-Evalstack-Key``):

- ``/v1/traces`` and ``/v1/logs``: OTLP/HTTP, protobuf (``application/x-protobuf``) or JSON
  (``application/json``), gzip or not, read with the OpenTelemetry GenAI conventions
  (``evalstack.production.otlp``) and stored with ``production.spans``;
- ``/api/ingest/interactions``: ``{"interactions": [{input, output, started_at, model,
  latency_ms, input_tokens, output_tokens, cost_usd, conversation_id, user_id, trace_id,
  metadata}]}``;
- ``/api/ingest/feedback``: ``{"events": [{name, at, trace_id, conversation_id, user_id,
  value, label, metadata}]}``.

A wrong or missing key is a 401; a body over the size limit a 413 (read no further); more
requests per second than a key's rate a 429 with ``Retry-After``; a malformed payload a 4xx
whose message says what was expected. Nothing already stored is changed by a rejected
request, and no request gets a 500 for what it sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalstack.core.errors import UserError
from evalstack.production.store import FeedbackEvent, add_feedback, project_for_key
from evalstack.production.traces import Interaction, log_interactions

#: The default body limit: 10 MB.
MAX_BODY = 10 * 1024 * 1024
#: The default rate per project key: requests per second, with bursts of twice that.
RATE = 50.0
_MAX_ITEMS = 10_000


class IngestError(Exception):
    """A request refused with a 4xx and a message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    content: str


class InteractionIn(BaseModel):
    """One logged interaction, as the JSON API takes it."""

    model_config = ConfigDict(extra="forbid")
    input: str | list[_Message]
    output: str | list[_Message]
    started_at: datetime | None = None
    trace_id: str | None = Field(None, pattern=r"^[0-9a-fA-F]{32}$")
    model: str | None = None
    latency_ms: float | None = Field(None, ge=0)
    input_tokens: int | None = Field(None, ge=0)
    output_tokens: int | None = Field(None, ge=0)
    cost_usd: float | None = Field(None, ge=0)
    conversation_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def record(self, now: datetime) -> Interaction:
        def msgs(v: str | list[_Message]) -> str | list[dict[str, str]]:
            return v if isinstance(v, str) else [m.model_dump() for m in v]

        return Interaction(msgs(self.input), msgs(self.output), self.started_at or now,
                           self.trace_id, self.model, self.latency_ms, self.input_tokens,
                           self.output_tokens, self.cost_usd, self.conversation_id,
                           self.user_id, self.metadata)


class InteractionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interactions: list[InteractionIn] = Field(min_length=1, max_length=_MAX_ITEMS)


class FeedbackIn(BaseModel):
    """One feedback or outcome event, as the JSON API takes it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    at: datetime | None = None
    trace_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    value: float | None = None
    label: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class FeedbackBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[FeedbackIn] = Field(min_length=1, max_length=_MAX_ITEMS)


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, 2 * rate)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, key: str) -> float:
        """0 when the request may go now (and takes a token), else seconds to wait."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-evalstack-key")


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(413, f"The body is {int(declared):,} bytes; the limit is {limit:,}. "
                               "Send smaller batches.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(413, f"The body is over the limit of {limit:,} bytes. Send "
                                   "smaller batches.")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: bytes, model: type[BaseModel], example: str) -> Any:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError(400, f"The body is not valid JSON ({exc}). Expected {example}.") \
            from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "(body)"
        raise IngestError(422, f"Field {field!r}: {first['msg']}. Expected {example}.") \
            from None


def create_ingest_app(store_url: str | None = None, *, max_body: int = MAX_BODY,
                      rate: float = RATE, store: Any = None) -> FastAPI:
    """The ingest API as an ASGI app (see the module docstring).

    Args:
        store_url: the store to write to (opened at start-up, created if missing).
        max_body: the largest body accepted, in bytes.
        rate: requests per second per project key.
        store: an open ``Store`` to use instead (tests, and ``serve`` sharing one).
    """
    from evalstack.store import Store

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        owned = store is None
        app.state.store = store if store is not None else Store.open(store_url)
        try:
            yield
        finally:
            if owned:
                app.state.store.close()

    app = FastAPI(title="evalstack ingest", version="1", lifespan=lifespan,
                  openapi_url="/api/ingest/openapi.json", docs_url=None, redoc_url=None)
    if store is not None:  # usable without its lifespan (mounted beside the viewer)
        app.state.store = store
    limiter = RateLimiter(rate)

    @app.exception_handler(IngestError)
    async def refused(request: Request, exc: IngestError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": f"Invalid request: {exc.errors()[0]['msg']}."},
                            status_code=422)

    def project(request: Request) -> str:
        key = _key(request)
        found = project_for_key(request.app.state.store, key)
        if found is None:
            raise IngestError(401, "Unauthorized: send the project's ingest key as "
                                   "'Authorization: Bearer esk_...' (evalstack serve "
                                   "--new-project NAME prints one)." if not key else
                              "Unauthorized: this ingest key is not a project's.",
                              {"WWW-Authenticate": "Bearer"})
        wait = limiter.wait(found)
        if wait > 0:
            raise IngestError(429, f"Too many requests for this project: at most {rate:g} "
                                   "per second.", {"Retry-After": str(max(1, round(wait)))})
        return found

    @app.post("/api/ingest/interactions", summary="Log interactions")
    async def interactions(request: Request) -> dict[str, Any]:
        pid = project(request)
        batch = _json(await _body(request, max_body), InteractionsIn,
                      '{"interactions": [{"input": "...", "output": "...", "model": "..."}]}')
        now = datetime.now(UTC)
        try:
            ids = log_interactions(request.app.state.store, pid,
                                   [i.record(now) for i in batch.interactions])
        except UserError as exc:
            raise IngestError(409, str(exc)) from None
        return {"trace_ids": ids}

    @app.post("/api/ingest/feedback", summary="Record feedback and outcome events")
    async def feedback_route(request: Request) -> dict[str, Any]:
        pid = project(request)
        batch = _json(await _body(request, max_body), FeedbackBatchIn,
                      '{"events": [{"name": "thumbs", "trace_id": "...", "value": 1}]}')
        now = datetime.now(UTC)
        ids = add_feedback(request.app.state.store, pid, [
            FeedbackEvent(e.name, e.at or now, e.trace_id, e.conversation_id, e.user_id,
                          e.value, e.label, e.metadata) for e in batch.events])
        return {"ids": ids}

    async def otlp(request: Request, kind: str) -> Response:
        from evalstack.production.otlp import OtlpError, decode_logs, decode_traces
        from evalstack.production.spans import save_logs, save_spans

        pid = project(request)
        content_type = request.headers.get("content-type", "")
        body = await _body(request, max_body)
        encoding = request.headers.get("content-encoding")
        try:
            if kind == "traces":
                records = decode_traces(body, content_type, content_encoding=encoding)
            else:
                logs = decode_logs(body, content_type, content_encoding=encoding)
        except OtlpError as exc:
            raise IngestError(exc.status, str(exc)) from None
        if kind == "traces":
            save_spans(request.app.state.store, pid, records)
        else:
            save_logs(request.app.state.store, pid, logs)
        return otlp_ok(content_type)

    @app.post("/v1/traces", summary="OTLP/HTTP traces (protobuf or JSON)")
    async def otlp_traces(request: Request) -> Response:
        return await otlp(request, "traces")

    @app.post("/v1/logs", summary="OTLP/HTTP logs: GenAI events joined to their spans")
    async def otlp_logs(request: Request) -> Response:
        return await otlp(request, "logs")

    return app


def otlp_ok(content_type: str) -> Response:
    """An empty OTLP export response in the request's encoding (full success)."""
    if content_type.startswith("application/json"):
        return JSONResponse({})
    return Response(b"", media_type="application/x-protobuf")


def serve_app(ingest: Any, viewer: Any) -> Callable[..., Any]:
    """One ASGI app: the ingest routes (``/v1/...``, ``/api/ingest/...``) to ``ingest``, which
    authenticates by project key, and everything else to the guarded ``viewer``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path.startswith("/v1/")
                                        or path.startswith("/api/ingest/")):
            await ingest(scope, receive, send)
        else:
            await viewer(scope, receive, send)

    return app

