"""A fast fake OpenAI-compatible (and Anthropic messages) server for tests and benchmarks.

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/completions`` (with deterministic
``echo``/``logprobs``), ``POST /v1/messages`` (Anthropic), ``GET /v1/models``, ``GET /stats``
and ``POST /reset``. By default it echoes the last user message. Faults (HTTP statuses such as
``429``/``500``, or ``hang``) are injected with a seeded RNG, so a run is reproducible.

``flavour`` makes it answer as a real server family does where they differ: ``openai`` (the
default), ``vllm`` or ``llamacpp`` (llama-cpp-python's server: ``max_tokens`` 0 means "to the
end of the context", and ``json_schema`` structured output is an HTTP 500). ``echo``,
``only_temperature`` and ``refusal`` reproduce servers without prompt log-probabilities,
models that take only one temperature, and replies without text. Every request body is kept
(``FakeServer.bodies()``) so a test can check what a client sent. ``capacity`` (requests
served at once; the rest queue) and ``degrade_above`` (corrupted replies while more requests
are in flight) model a server under load, for ``evalstack load`` (docs/load.md).

Run it in-process::

    with FakeServer(fail_rate=0.1, seed=1) as server:
        provider = OpenAICompatProvider("m", base_url=server.url)

or as a process, which prints ``listening on http://127.0.0.1:PORT`` once ready::

    python -m evalstack.testing.fake_server --port 0 --fail-rate 0.1 --log requests.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import dataclasses
import ipaddress
import json
import random
import re
import signal
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from evalstack.core.errors import ConfigError

try:  # the same optional speed-up the providers use
    import orjson

    _dumps = orjson.dumps
    _loads = orjson.loads
except ImportError:

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    _loads = json.loads

_TOKEN = re.compile(r"\s*\S+")
_FLAVOURS = ("openai", "vllm", "llamacpp")
_ECHO_MODES = ("full", "ignored", "text_only", "none", "rejected")
_KEPT_BODIES = 10_000
_MODEL_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/messages"})
# Whether the request being handled arrived while the server was past ``degrade_above``; set
# per request by the middleware (each aiohttp handler runs in its own task and context).
_DEGRADED: contextvars.ContextVar[bool] = contextvars.ContextVar("degraded", default=False)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


@dataclasses.dataclass(frozen=True)
class FakeServerOptions:
    """How the fake server replies.

    Attributes:
        latency_ms: added to every model request.
        fail_rate: the probability (0..1) that a model request gets a fault.
        fault_kinds: faults to pick from, uniformly: an HTTP status (``"429"``, ``"500"``,
            ``"503"``, ``"400"``, ...) or ``"hang"`` (sleep ``hang_seconds``, then reply).
        fail_first: the first N requests get a fault, cycling through ``fault_kinds``.
        hang_seconds: how long a ``hang`` lasts; make it longer than the client timeout.
        retry_after: the ``Retry-After`` seconds sent with a 429; ``None`` sends no header.
        reply: a fixed reply instead of echoing the last user message.
        reply_map: replies by prompt text (the last user message, or the completion prompt).
        reply_file: a JSON file ``{prompt: reply}`` merged under ``reply_map``.
        reply_bytes: reply with this many bytes (``"x"`` repeated), for huge-output tests.
        model_version: the ``model`` reported in responses; default: the requested model.
        api_key: when set, requests must carry it (``Authorization: Bearer`` or
            ``x-api-key``) or get a 401 that quotes the key received.
        log: a file that gets one JSON line per model request, flushed per line.
        seed: seeds the fault RNG (reset by ``POST /reset``).
        flavour: ``openai``, ``vllm`` or ``llamacpp``; see ``Flavours`` below.
        echo: how ``/v1/completions`` honours ``echo`` with ``logprobs``: ``full`` (the prompt's
            tokens and log-probabilities, the first one null), ``ignored`` (only the generated
            text and its tokens, as many servers reply), ``text_only`` (the prompt's text and
            tokens, but null log-probabilities for them), ``none`` (``logprobs`` is null) or
            ``rejected`` (a 400, "Only no echo is supported", as llama.cpp's llama-server).
        only_temperature: the one temperature the model takes, as OpenAI's reasoning models
            take only 1; a request with another gets a 400 naming ``temperature``.
        refusal: chat replies have ``content: null`` and this ``refusal`` text.
        n_ctx: the context size, in whitespace tokens, that an unlimited llama.cpp generation
            fills.
        capacity: at most this many model requests are served at once; the others queue
            (with ``latency_ms`` each served request takes that long, so latency rises once
            more than ``capacity`` are in flight). ``None``: unlimited.
        degrade_above: while more than this many model requests are in flight (queued ones
            included), a request that arrives gets a corrupted reply (its text reversed, after
            ``degraded: ``), deterministically, so exact-match quality drops. ``None``: never.

    Flavours, where real servers differ:

    - ``openai``: ``response_format`` ``json_schema`` and ``json_object`` are honoured;
      ``json_object`` with a ``schema`` key, or a ``guided_json`` field, is a 400 (an
      unrecognised argument). ``max_tokens`` 0 generates nothing.
    - ``vllm``: ``json_schema``, ``json_object`` (its ``schema`` key ignored) and
      ``guided_json`` (chat and completions) are honoured.
    - ``llamacpp``: ``json_schema`` is an HTTP 500 naming ``response_format``, as
      llama-cpp-python's server answers; ``json_object`` with an optional ``schema`` is
      honoured; ``guided_json`` is ignored. ``max_tokens`` 0 or null (or absent on chat)
      generates filler to the end of an ``n_ctx``-token context; absent on completions, 16.
    """

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("429", "500")
    fail_first: int = 0
    hang_seconds: float = 30.0
    retry_after: float | None = 1.0
    reply: str | None = None
    reply_map: Mapping[str, str] | None = None
    reply_file: str | Path | None = None
    reply_bytes: int | None = None
    model_version: str | None = None
    api_key: str | None = None
    log: str | Path | None = None
    seed: int = 0
    flavour: str = "openai"
    echo: str = "full"
    only_temperature: float | None = None
    refusal: str | None = None
    n_ctx: int = 2048
    capacity: int | None = None
    degrade_above: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fault_kinds", tuple(str(k) for k in self.fault_kinds))
        for name, allowed in (("flavour", _FLAVOURS), ("echo", _ECHO_MODES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"Expected {name} to be one of {', '.join(allowed)}, "
                    f"got {getattr(self, name)!r}."
                )
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ConfigError(f"Expected fail_rate between 0 and 1, got {self.fail_rate!r}.")
        for kind in self.fault_kinds:
            if kind != "hang" and not (kind.isdigit() and 400 <= int(kind) <= 599):
                raise ConfigError(
                    f"Expected fault kinds to be 'hang' or HTTP statuses 400-599, got {kind!r}."
                )
        if (self.fail_rate or self.fail_first) and not self.fault_kinds:
            raise ConfigError("fail_rate and fail_first need at least one fault kind.")
        for name in ("latency_ms", "hang_seconds", "fail_first", "n_ctx"):
            if getattr(self, name) < 0:
                raise ConfigError(f"Expected {name} >= 0, got {getattr(self, name)!r}.")
        if self.reply_bytes is not None and self.reply_bytes < 0:
            raise ConfigError(f"Expected reply_bytes >= 0, got {self.reply_bytes!r}.")
        _optional_count("capacity", self.capacity, 1)
        _optional_count("degrade_above", self.degrade_above, 0)


def _optional_count(name: str, value: Any, low: int) -> None:
    """Refuse a value that is neither ``None`` nor an integer of at least ``low``."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < low):
        raise ConfigError(f"Expected {name} to be an integer >= {low}, got {value!r}.")


def _logprob(token: str) -> float:
    """A deterministic log-probability in [-9.97, -0.01] derived from the token's text."""
    return -((zlib.crc32(token.encode("utf-8", "surrogatepass")) % 997) + 1) / 100.0


def _top(token: str) -> dict[str, float]:
    # About a quarter of tokens are not the greedy choice, so is_greedy can be tested.
    value = _logprob(token)
    if zlib.crc32(token.encode("utf-8", "surrogatepass")) % 4 == 0:
        return {"<alt>": min(value + 0.5, -0.001)}
    return {token: value}


def _text(content: Any) -> str:
    """Message content as text: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _cut(text: str, max_tokens: Any, stop: Any) -> tuple[str, str, str | None]:
    """Apply ``stop`` then ``max_tokens`` (whitespace tokens): (text, reason, stop hit)."""
    hit = None
    if stop:
        best = len(text)
        for s in [stop] if isinstance(stop, str) else stop:
            i = text.find(s) if s else -1
            if 0 <= i < best:
                best, hit = i, s
        text = text[:best]
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens >= 0:
        end = 0
        for i, m in enumerate(_TOKEN.finditer(text)):
            if i == max_tokens:
                return text[:end], "length", None
            end = m.end()
    return text, "stop", hit


class FakeApp:
    """The server's state and request handlers; ``build()`` returns the aiohttp app."""

    def __init__(self, options: FakeServerOptions) -> None:
        self.options = options
        self._replies: dict[str, str] = {}
        if options.reply_file is not None:
            try:
                loaded = json.loads(Path(options.reply_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"Cannot read reply file {options.reply_file}: {exc}") from exc
            if not isinstance(loaded, dict):
                raise ConfigError(
                    f"Expected reply file {options.reply_file} to hold a JSON object "
                    f"{{prompt: reply}}, got {type(loaded).__name__}."
                )
            self._replies.update({str(k): str(v) for k, v in loaded.items()})
        self._replies.update(options.reply_map or {})
        self._big = "x" * options.reply_bytes if options.reply_bytes is not None else None
        self._latency = options.latency_ms / 1000.0
        self._log = open(options.log, "a", encoding="utf-8", buffering=1) if options.log else None
        self._closing: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self.in_flight = 0
        self.serving = 0
        self.reset()

    def reset(self) -> None:
        """Zero the counters and reseed the fault RNG."""
        self._rng = random.Random(self.options.seed)
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.prompts: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self.last_request: dict[str, Any] | None = None
        self.bodies: deque[dict[str, Any]] = deque(maxlen=_KEPT_BODIES)
        self.max_in_flight = 0
        self.max_serving = 0
        self.degraded = 0

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset, as plain JSON-able values."""
        return {
            "requests": self.requests,
            "faults": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "outcomes": dict(self.outcomes),
            "prompts": dict(self.prompts),
            "paths": dict(self.paths),
            "last_request": self.last_request,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "max_serving": self.max_serving,
            "degraded": self.degraded,
        }

    def build(self) -> web.Application:
        """The aiohttp application (64 MiB request limit, for large-prompt tests)."""
        self._closing = asyncio.Event()
        capacity = self.options.capacity
        self._slots = asyncio.Semaphore(capacity) if capacity is not None else None
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._load])
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/reset", self._reset)
        return app

    def close(self) -> None:
        """End hanging requests and close the log file."""
        if self._closing is not None:
            self._closing.set()
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- load: in-flight counting, the capacity queue and degradation ----------------------

    @web.middleware
    async def _load(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Count model requests in flight; serve at most ``capacity`` of them at once."""
        if request.path not in _MODEL_PATHS:
            return await handler(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        above = self.options.degrade_above
        degraded = above is not None and self.in_flight > above
        self.degraded += degraded
        token = _DEGRADED.set(degraded)
        try:
            if self._slots is None:
                return await self._serve_one(request, handler)
            async with self._slots:
                return await self._serve_one(request, handler)
        finally:
            self.in_flight -= 1
            _DEGRADED.reset(token)

    async def _serve_one(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        self.serving += 1
        self.max_serving = max(self.max_serving, self.serving)
        try:
            return await handler(request)
        finally:
            self.serving -= 1

    # -- handlers -----------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.Response:
        body, prompt, early = await self._begin(request, "openai")
        if early is not None:
            return early
        messages = body["messages"]
        n_in = sum(len(_text(m.get("content")).split()) for m in messages if isinstance(m, dict))
        reply = self._reply_for(prompt)
        schema = _constraint(self.options.flavour, body)
        if schema is not None and reply is prompt:
            reply = json.dumps(schema_instance(schema, prompt))
        reply, limit = self._budget(body, reply, n_in, chat=True, pad=schema is None)
        text, reason, _ = _cut(reply, limit, body.get("stop"))
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self.options.refusal is not None:
            text = ""
            message.update(content=None, refusal=self.options.refusal)
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": reason,
            "logprobs": None,
        }
        if body.get("logprobs"):
            tokens = [m.group() for m in _TOKEN.finditer(text)]
            choice["logprobs"] = {
                "content": [
                    {"token": t, "logprob": _logprob(t), "bytes": None, "top_logprobs": []}
                    for t in tokens
                ]
            }
        return self._json(
            {
                "id": f"chatcmpl-fake-{self.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.options.model_version or body["model"],
                "choices": [choice],
                "usage": _usage(n_in, self._count(text)),
            }
        )

    async def _completions(self, request: web.Request) -> web.Response:
        body, _, early = await self._begin(request, "openai")
        if early is not None:
            return early
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        mode = self.options.echo
        echo = bool(body.get("echo")) and mode != "ignored"
        want_lp = body.get("logprobs") is not None and mode != "none"
        schema = _constraint(self.options.flavour, body)
        choices, n_in, n_out = [], 0, 0
        for index, prompt in enumerate(prompts):
            reply = self._reply_for(prompt)
            if schema is not None and reply is prompt:
                reply = json.dumps(schema_instance(schema, prompt))
            reply, limit = self._budget(
                body, reply, len(prompt.split()), chat=False, pad=schema is None
            )
            text, reason, _ = _cut(reply, limit, body.get("stop"))
            n_in += len(prompt.split())
            n_out += self._count(text)
            choice: dict[str, Any] = {
                "index": index,
                "text": prompt + text if echo else text,
                "finish_reason": reason,
                "logprobs": None,
            }
            if want_lp:
                choice["logprobs"] = _completion_logprobs(
                    prompt, text, echo, prompt_values=mode != "text_only"
                )
            choices.append(choice)
        return self._json(
            {
                "id": f"cmpl-fake-{self.requests}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": self.options.model_version or body["model"],
                "choices": choices,
                "usage": _usage(n_in, n_out),
            }
        )

    async def _messages(self, request: web.Request) -> web.Response:
        body, prompt, early = await self._begin(request, "anthropic")
        if early is not None:
            return early
        text, reason, hit = _cut(
            self._reply_for(prompt), body.get("max_tokens"), body.get("stop_sequences")
        )
        stop_reason = "max_tokens" if reason == "length" else "stop_sequence" if hit else "end_turn"
        n_in = len(_text(body.get("system")).split()) + sum(
            len(_text(m.get("content")).split()) for m in body["messages"] if isinstance(m, dict)
        )
        return self._json(
            {
                "id": f"msg_fake_{self.requests}",
                "type": "message",
                "role": "assistant",
                "model": self.options.model_version or body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop_reason,
                "stop_sequence": hit,
                "usage": {"input_tokens": n_in, "output_tokens": self._count(text)},
            }
        )

    async def _models(self, request: web.Request) -> web.Response:
        names = ["fake-model"] + (
            [self.options.model_version] if self.options.model_version else []
        )
        # llama-cpp-python's server lists its models as owned by "me".
        owner = "me" if self.options.flavour == "llamacpp" else "evalstack"
        data = [{"id": n, "object": "model", "created": 0, "owned_by": owner} for n in names]
        return self._json({"object": "list", "data": data})

    async def _stats(self, request: web.Request) -> web.Response:
        return self._json(self.stats())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._json({"ok": True})

    # -- shared steps -------------------------------------------------------------------

    async def _begin(
        self, request: web.Request, flavour: str
    ) -> tuple[dict[str, Any], str, web.Response | None]:
        """Count the request, validate it, decide its fault, log it, and apply latency.

        Returns the parsed body, the prompt text and, when the request should not get a
        normal reply, the response to send instead.
        """
        path = request.path
        self.requests += 1
        self.paths[path] += 1
        try:
            body = _loads(await request.read())
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.bodies.append({"path": path, "body": body})
        problem = _validate(path, body)
        prompt = ""
        if problem is None:
            prompt = _prompt_of(path, body)
            many = body.get("prompt") if path == "/v1/completions" else None
            for p in many if isinstance(many, list) else [prompt]:
                self.prompts[p] += 1
            self.last_request = {"path": path, "body": body}
        outcome, message, err_type = None, "", None
        if problem is not None:
            outcome, message = "400", problem
        elif self._check_auth(request):
            outcome = "401"
            message = f"Incorrect API key provided: {_received_key(request)}."
        elif fault := self._fault():
            outcome, message = fault, f"Injected fault {fault}."
        elif refused := _refusal(self.options, path, body):
            outcome, message, err_type = refused
        self.outcomes[outcome or "ok"] += 1
        if self._log is not None:
            entry = {
                "time": time.time(),
                "path": path,
                "prompt": prompt,
                "outcome": outcome or "ok",
            }
            self._log.write(json.dumps(entry) + "\n")
        if self._latency:
            await asyncio.sleep(self._latency)
        if outcome == "hang":
            assert self._closing is not None
            try:
                await asyncio.wait_for(self._closing.wait(), self.options.hang_seconds)
            except TimeoutError:
                pass
            outcome = None
        if outcome is None:
            return body, prompt, None
        return body, prompt, self._error(int(outcome), message, flavour, err_type)

    def _check_auth(self, request: web.Request) -> str | None:
        key = self.options.api_key
        if key is None or _received_key(request) == key:
            return None
        return "401"

    def _fault(self) -> str | None:
        opts = self.options
        if self.requests <= opts.fail_first:
            kind = opts.fault_kinds[(self.requests - 1) % len(opts.fault_kinds)]
        elif opts.fail_rate and self._rng.random() < opts.fail_rate:
            kind = self._rng.choice(opts.fault_kinds)
        else:
            return None
        self.faults[kind] += 1
        return kind

    def _error(
        self, status: int, message: str, flavour: str, err_type: str | None = None
    ) -> web.Response:
        err_type = err_type or _ERROR_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        if flavour == "anthropic":
            payload: dict[str, Any] = {
                "type": "error",
                "error": {"type": err_type, "message": message},
            }
        else:
            payload = {"error": {"message": message, "type": err_type, "code": str(status)}}
        headers = {}
        if status == 429 and self.options.retry_after is not None:
            headers["Retry-After"] = f"{self.options.retry_after:g}"
        return web.Response(
            body=_dumps(payload), status=status, headers=headers, content_type="application/json"
        )

    def _reply_for(self, prompt: str) -> str:
        reply = self._undegraded_reply(prompt)
        return f"degraded: {reply[::-1]}" if _DEGRADED.get() else reply

    def _undegraded_reply(self, prompt: str) -> str:
        if self._replies:
            found = self._replies.get(prompt)
            if found is not None:
                return found
        if self._big is not None:
            return self._big
        if self.options.reply is not None:
            return self.options.reply
        return prompt

    def _budget(
        self, body: Mapping[str, Any], reply: str, n_prompt: int, *, chat: bool, pad: bool
    ) -> tuple[str, Any]:
        """The reply and the token limit as the flavour reads ``max_tokens``; an unlimited
        llama.cpp reply is padded to the end of the context unless a schema ends it."""
        if self.options.flavour != "llamacpp":
            return reply, body.get("max_tokens")
        limit = body.get("max_tokens", None if chat else 16)
        if isinstance(limit, int) and limit > 0:
            return reply, limit
        # llama.cpp: no limit, so generation runs on to the end of the context.
        room = max(0, self.options.n_ctx - n_prompt)
        missing = room + 1 - len(reply.split()) if pad else 0  # one past: cut as "length"
        return (reply + " lorem" * missing if missing > 0 else reply), room

    def _count(self, text: str) -> int:
        if text is self._big:
            return 1 if text else 0
        return len(text.split())

    @staticmethod
    def _json(payload: dict[str, Any]) -> web.Response:
        return web.Response(body=_dumps(payload), content_type="application/json")


_GENERIC_OBJECT = {"type": "object", "properties": {"reply": {"type": "string"}}}


def _constraint(flavour: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema the flavour's server would enforce on this request's reply, if any."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        kind = fmt.get("type")
        if kind == "json_schema":
            inner = fmt.get("json_schema")
            if isinstance(inner, dict) and isinstance(inner.get("schema"), dict):
                schema: dict[str, Any] = inner["schema"]
                return schema
        if kind == "json_object":
            given = fmt.get("schema")
            if flavour == "llamacpp" and isinstance(given, dict):
                return given
            return _GENERIC_OBJECT
    guided = body.get("guided_json")
    if flavour == "vllm" and isinstance(guided, dict):
        return guided
    return None


def _refusal(
    opts: FakeServerOptions, path: str, body: Mapping[str, Any]
) -> tuple[str, str, str | None] | None:
    """(status, message, error type) when the flavour's server refuses this request."""
    if path == "/v1/messages":
        return None
    temperature = body.get("temperature")
    if opts.only_temperature is not None and temperature is not None:
        if temperature != opts.only_temperature:
            return (
                "400",
                f"Unsupported value: 'temperature' does not support {temperature} with this "
                f"model. Only the default ({opts.only_temperature:g}) value is supported.",
                None,
            )
    if opts.echo == "rejected" and path == "/v1/completions" and body.get("echo"):
        return "400", "Only no echo is supported", None
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    unknown_format = fmt is not None and kind not in ("text", "json_object")
    if opts.flavour == "llamacpp" and path == "/v1/chat/completions" and unknown_format:
        # llama-cpp-python's server reports its request validation errors as HTTP 500.
        message = (
            "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
            "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
            f"'input': {kind!r}}}\n\n  Endpoint: POST /v1/chat/completions"
        )
        return "500", message, "internal_server_error"
    if opts.flavour == "openai":
        if "guided_json" in body:
            return "400", "Unrecognized request argument supplied: guided_json", None
        if kind == "json_object" and "schema" in fmt:  # type: ignore[operator]
            return "400", "Unrecognized request argument supplied: response_format.schema", None
    return None


def schema_instance(schema: Mapping[str, Any], seed_text: str) -> Any:
    """A deterministic value that satisfies ``schema`` (object, string, integer, number,
    boolean and ``enum``), chosen from a hash of ``seed_text``, the way a server with
    structured output returns only schema-valid JSON.

    Examples:
        >>> schema_instance({"type": "integer", "enum": [1, 2, 3]}, "x") in (1, 2, 3)
        True
    """
    h = zlib.crc32(seed_text.encode("utf-8", "replace"))
    if "enum" in schema:
        options = list(schema["enum"])
        return options[h % len(options)]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: schema_instance(v, f"{seed_text}/{k}") for k, v in props.items()}
    if kind == "array":
        return [schema_instance(schema.get("items") or {}, seed_text)]
    if kind == "integer":
        return int(schema.get("minimum", 0)) + h % 5
    if kind == "number":
        return float(schema.get("minimum", 0)) + (h % 1000) / 1000
    if kind == "boolean":
        return bool(h % 2)
    return f"fake structured reply {h % 10_000}"


def _usage(n_in: int, n_out: int) -> dict[str, int]:
    return {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}


def _completion_logprobs(
    prompt: str, text: str, echo: bool, *, prompt_values: bool = True
) -> dict[str, Any]:
    """Tokens, offsets and log-probabilities of the (echoed prompt and the) generated text.

    The prompt and the generated text are tokenized apart, as a server does, so the first
    generated token never merges with the prompt's last one.
    """
    parts = [(prompt, 0, prompt_values)] if echo else []
    parts.append((text, len(prompt), True))
    tokens: list[str] = []
    offsets: list[int] = []
    values: list[float | None] = []
    top: list[dict[str, float] | None] = []
    for part, base, scored in parts:
        for m in _TOKEN.finditer(part):
            token = m.group()
            tokens.append(token)
            offsets.append(base + m.start())
            values.append(_logprob(token) if scored else None)
            top.append(_top(token) if scored else None)
    if echo and prompt.strip() and tokens:  # the first prompt token has no context
        values[0] = None
        top[0] = None
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": top, "text_offset": offsets}


def _validate(path: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Expected a JSON object body."
    if not isinstance(body.get("model"), str):
        return "Expected a 'model' string."
    if path == "/v1/completions":
        prompt = body.get("prompt")
        ok = isinstance(prompt, str) or (
            isinstance(prompt, list) and all(isinstance(p, str) for p in prompt)
        )
        return None if ok else "Expected 'prompt' to be a string or a list of strings."
    if not isinstance(body.get("messages"), list):
        return "Expected a 'messages' list."
    if path == "/v1/messages" and not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    return None


def _prompt_of(path: str, body: dict[str, Any]) -> str:
    if path == "/v1/completions":
        prompt = body["prompt"]
        return prompt if isinstance(prompt, str) else (prompt[0] if prompt else "")
    users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return _text(users[-1].get("content")) if users else ""


def _received_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:]
    return request.headers.get("x-api-key", "")


async def start(
    options: FakeServerOptions, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, FakeApp, int]:
    """Start serving on the running loop; returns the runner, the app state and the port."""
    if not _is_loopback(host):
        raise ConfigError(f"The fake server binds only to loopback addresses, got {host!r}.")
    state = FakeApp(options)
    # handler_cancellation ends a hanging handler as soon as its client gives up.
    runner = web.AppRunner(
        state.build(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, state, runner.addresses[0][1]


async def stop(runner: web.AppRunner, state: FakeApp) -> None:
    """Stop a server started with ``start``."""
    state.close()
    await runner.cleanup()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FakeServer:
    """The fake server on its own event loop in a background thread.

    Args:
        port: 0 (default) picks a free port.
        **options: the fields of ``FakeServerOptions``.

    Examples:
        >>> import json, urllib.request
        >>> with FakeServer(reply="hello") as server:
        ...     body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        ...     req = urllib.request.Request(server.url + "/chat/completions", body.encode(),
        ...                                  {"Content-Type": "application/json"})
        ...     reply = json.load(urllib.request.urlopen(req))
        >>> reply["choices"][0]["message"]["content"], server.port > 0
        ('hello', True)
    """

    def __init__(self, *, port: int = 0, **options: Any) -> None:
        fields = {f.name for f in dataclasses.fields(FakeServerOptions)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ConfigError(
                f"Unknown FakeServer option(s) {', '.join(unknown)}. "
                f"Accepted: port, {', '.join(sorted(fields))}."
            )
        self.options = FakeServerOptions(**options)
        self._requested_port = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._state: FakeApp | None = None

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the Anthropic SDK's base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (an OpenAI-compatible base URL)."""
        return f"{self.root_url}/v1"

    def start(self) -> FakeServer:
        """Start serving; returns once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._runner, self._state, self.port = loop.run_until_complete(
                    start(self.options, "127.0.0.1", self._requested_port)
                )
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(stop(self._runner, self._state))
                loop.close()

        self._thread = threading.Thread(target=run, name="evalstack-fake-server", daemon=True)
        self._thread.start()
        started = ready.wait(30)
        if failure or not started:
            self._thread = None
            raise failure[0] if failure else RuntimeError("The fake server did not start in 30 s.")
        return self

    def close(self) -> None:
        """Stop serving and join the thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._thread = None

    def _call(self, fn: Any) -> Any:
        if self._loop is None or self._state is None or self._thread is None:
            raise RuntimeError("The fake server is not running; use it as a context manager.")

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(30)

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset: requests, faults, outcomes, prompts, paths."""
        stats: dict[str, Any] = self._call(lambda: self._state.stats())  # type: ignore[union-attr]
        return stats

    def reset(self) -> None:
        """Zero the counters, forget the request bodies and reseed the fault RNG."""
        self._call(lambda: self._state.reset())  # type: ignore[union-attr]

    def bodies(self, path: str | None = None) -> list[dict[str, Any]]:
        """The JSON bodies of the requests since the last reset (the last 10,000), oldest
        first; only those sent to ``path`` (e.g. ``"/v1/completions"``) when given."""
        kept = self._call(lambda: list(self._state.bodies))  # type: ignore[union-attr]
        return [k["body"] for k in kept if path is None or k["path"] == path]

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, FakeServerOptions]:
    p = argparse.ArgumentParser(
        prog="python -m evalstack.testing.fake_server", description=__doc__.splitlines()[0]
    )
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--fault-kinds", default="429,500", help="comma-separated: 429,500,hang,...")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--hang-seconds", type=float, default=30.0)
    p.add_argument("--retry-after", default="1", help="seconds, or 'none' for no header")
    p.add_argument("--reply")
    p.add_argument("--reply-file")
    p.add_argument("--reply-bytes", type=int)
    p.add_argument("--model-version")
    p.add_argument("--api-key")
    p.add_argument("--log")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flavour", default="openai", choices=_FLAVOURS)
    p.add_argument("--echo", default="full", choices=_ECHO_MODES)
    p.add_argument("--only-temperature", type=float)
    p.add_argument("--refusal")
    p.add_argument("--n-ctx", type=int, default=2048)
    p.add_argument("--capacity", type=int, help="requests served at once; the rest queue")
    p.add_argument("--degrade-above", type=int,
                   help="corrupt replies while more than this many requests are in flight")
    a = p.parse_args(argv)
    try:
        retry_after = None if a.retry_after.lower() == "none" else float(a.retry_after)
    except ValueError:
        p.error(f"--retry-after expects seconds or 'none', got {a.retry_after!r}")
    options = FakeServerOptions(
        latency_ms=a.latency_ms,
        fail_rate=a.fail_rate,
        fault_kinds=tuple(k.strip() for k in a.fault_kinds.split(",") if k.strip()),
        fail_first=a.fail_first,
        hang_seconds=a.hang_seconds,
        retry_after=retry_after,
        reply=a.reply,
        reply_file=a.reply_file,
        reply_bytes=a.reply_bytes,
        model_version=a.model_version,
        api_key=a.api_key,
        log=a.log,
        seed=a.seed,
        flavour=a.flavour,
        echo=a.echo,
        only_temperature=a.only_temperature,
        refusal=a.refusal,
        n_ctx=a.n_ctx,
        capacity=a.capacity,
        degrade_above=a.degrade_above,
    )
    return a, options


async def _serve(host: str, port: int, options: FakeServerOptions) -> None:
    runner, state, bound = await start(options, host, port)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on http://{shown}:{bound}", flush=True)
    try:
        await done.wait()
    finally:
        await stop(runner, state)


def main(argv: list[str] | None = None) -> int:
    """Run the fake server until SIGINT or SIGTERM."""
    try:
        args, options = _parse_args(argv)
        asyncio.run(_serve(args.host, args.port, options))
    except ConfigError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
