"""The ``http`` target: a user's own HTTP app (a RAG service, an agent, a whole pipeline).

``http/<url>`` POSTs one JSON request per sample to ``url`` and reads the reply with
JMESPath expressions (``jmespath.org``; ``answer``, ``data.choices[0].text``)::

    evalstack run cases.jsonl -m http/http://127.0.0.1:8000/ask \\
        -M 'body={"question": "{input}", "user": "{user_id}"}' \\
        -M answer=answer -M contexts=sources -M context_id=doc_id

Model arguments (``-M``):

- ``body``: the request body, a JSON template over the sample. A string that is exactly
  ``"{name}"`` becomes that field's value (``"{messages}"`` a list); inside longer text a
  field is written as text; ``{{`` and ``}}`` are literal braces. Fields: ``input`` (the
  sample's input), ``prompt`` (the rendered prompt that a model would get), ``messages`` (the
  conversation, ``[{role, content}]``), ``id``, ``metadata`` (all of it) and each metadata
  field by name. The target is never offered. Default ``{"input": "{input}"}``.
- ``answer`` (default ``answer``): where the answer text is.
- ``contexts``: where the retrieved documents are (a list of strings or of objects), with
  ``context_id``, ``context_text`` and ``context_score`` naming their fields (defaults ``id``,
  ``text``, ``score``).
- ``tool_calls``, ``input_tokens``, ``output_tokens``, ``cost``, ``trace_id``: where those are.
- ``bearer_env=VAR``: send ``Authorization: Bearer $VAR``; ``headers_env=VAR``: send the JSON
  object of headers in ``$VAR``. Values come from the environment and are never stored (the
  stored identity names the variables only).
- ``timeout`` (seconds per request, default 120), ``max_output_chars``.

Retries, rate limits and per-attempt timeouts come from the model layer like any model's: a
429 or 5xx is retried; any other error status, a reply that is not JSON, or a reply without a
configured path is an error for that sample only, naming the path and quoting the reply.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import jmespath
from jmespath.exceptions import JMESPathError

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.text import cap_text
from evalstack.core.types import Capability, GenerateRequest, ModelOutput
from evalstack.providers._http import (
    JSON_HEADERS,
    SessionPool,
    dumps,
    exception_error,
    loads,
    parse_endpoint,
    positive_arg,
    read_body,
    status_error,
)
from evalstack.providers.pipeline import pipeline_output, shape_error, tokens_from

DEFAULT_TIMEOUT = 120.0
DEFAULT_BODY = '{"input": "{input}"}'
_PATHS = ("answer", "contexts", "tool_calls", "input_tokens", "output_tokens", "cost",
          "trace_id")
_DOC_KEYS = {"context_id": "id", "context_text": "text", "context_score": "score"}
ACCEPTED_ARGS = ("body", *_PATHS, *_DOC_KEYS, "bearer_env", "headers_env", "timeout",
                 "max_output_chars", "max_concurrency")
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class HttpAppProvider:
    """A user's HTTP app as a target (see the module docstring)."""

    capabilities = frozenset({Capability.GENERATE, Capability.CHAT})
    #: The request is built from the sample's fields, so they are part of the cache key.
    uses_sample_fields = True

    def __init__(self, model: str, **args: Any) -> None:
        unknown = sorted(set(args) - set(ACCEPTED_ARGS))
        if unknown:
            raise ConfigError(f"http/{model}: unknown model argument(s) {', '.join(unknown)}. "
                              f"Accepted: {', '.join(ACCEPTED_ARGS)}.")
        url = model if model.startswith(("http://", "https://")) else f"http://{model}"
        self._endpoint = parse_endpoint(url, f"http/{model}", "http://127.0.0.1:8000/ask")
        self.name = f"http/{self._endpoint.shown}"
        self._body = _parse_body(self.name, args.get("body", DEFAULT_BODY))
        self._paths = {p: _compile(self.name, p, args.get(p, "answer" if p == "answer" else None))
                       for p in _PATHS}
        self._doc_keys = (str(args.get("context_id", "id")), str(args.get("context_text", "text")),
                          str(args.get("context_score", "score")))
        self._timeout = positive_arg(self.name, "timeout", args.get("timeout", DEFAULT_TIMEOUT),
                                     float)
        self._max_chars = positive_arg(self.name, "max_output_chars",
                                       args.get("max_output_chars", 1_000_000), int)
        self.max_concurrency: int | None = args.get("max_concurrency")
        headers, self._secrets = _headers(self.name, args, self._endpoint.authorization())
        self._args = public_args(args)
        self._pool = SessionPool(headers=headers, timeout=self._timeout)

    def identity(self) -> dict[str, Any]:
        return {"provider": "http", "url": self._endpoint.shown, "args": self._args}

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        body = render_body(self._body, _fields(request), self.name)
        status, raw, headers = await self._exchange(body)
        if not 200 <= status < 300:
            raise status_error(status, raw, headers, label=self.name, secrets=self._secrets)
        try:
            reply = loads(raw)
        except ValueError:
            raise shape_error(self.name, "the reply", "a JSON body", raw.decode("utf-8", "replace"),
                              "(not JSON)") from None
        return self._output(reply)

    async def _exchange(self, body: Any) -> tuple[int, bytes, Mapping[str, str]]:
        session = self._pool.get()
        try:
            async with session.post(self._endpoint.url(), data=dumps(body)) as resp:
                return resp.status, await read_body(resp), resp.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise exception_error(exc, label=self.name, timeout=self._timeout,
                                  secrets=self._secrets) from None

    def _output(self, reply: Any) -> ModelOutput:
        values = {p: (f"path {expr.expression!r}", expr.search(reply))
                  for p, expr in self._paths.items() if expr is not None}
        where, text = values["answer"]
        if not isinstance(text, str):
            raise shape_error(self.name, where, "the answer text (a string)", text, reply)
        capped, truncated = cap_text(text, self._max_chars)
        tokens = {p: tokens_from(values[p][1], label=self.name, where=values[p][0], reply=reply)
                  if p in values else None for p in ("input_tokens", "output_tokens")}
        pipeline = pipeline_output(
            {"contexts": values.get("contexts", ("", None)),
             "tool_calls": values.get("tool_calls", ("", None)),
             "cost_usd": values.get("cost", ("", None)),
             "trace_id": values.get("trace_id", ("", None))},
            label=self.name, reply=reply, keys=self._doc_keys)
        return ModelOutput(capped, tokens["input_tokens"], tokens["output_tokens"],
                           model_version=self.name, truncated=truncated, pipeline=pipeline)

    async def aclose(self) -> None:
        await self._pool.aclose()


def _compile(name: str, part: str, expression: Any) -> Any:
    if expression is None:
        return None
    try:
        return jmespath.compile(str(expression))
    except JMESPathError as exc:
        raise ConfigError(f"{name}: {part}={expression!r} is not a JMESPath expression ({exc}). "
                          "Expected a path such as answer or data.sources[0].id.") from None


def _parse_body(name: str, body: Any) -> Any:
    if not isinstance(body, str):
        return body  # already JSON-like, from the Python API
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ConfigError(f"{name}: body= must be a JSON template such as {DEFAULT_BODY}; "
                          f"received {body!r} ({exc}).") from None


def _headers(name: str, args: Mapping[str, Any], basic: str | None
             ) -> tuple[dict[str, str], tuple[str, ...]]:
    headers = dict(JSON_HEADERS)
    secrets: list[str] = []
    if basic:
        headers["Authorization"] = basic
        secrets.append(basic)
    if "headers_env" in args:
        extra = _env_json(name, str(args["headers_env"]))
        headers.update(extra)
        secrets += [v for v in extra.values() if v]
    if "bearer_env" in args:
        token = _env(name, str(args["bearer_env"]))
        headers["Authorization"] = f"Bearer {token}"
        secrets.append(token)
    return headers, tuple(secrets)


def _env(name: str, var: str) -> str:
    value = os.environ.get(var)
    if not value:
        raise ConfigError(f"{name}: the environment variable {var} is not set; it should hold "
                          "the credential (export it before the run).")
    return value


def _env_json(name: str, var: str) -> dict[str, str]:
    try:
        value = json.loads(_env(name, var))
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{name}: ${var} must hold a JSON object of header names to string "
                          'values, such as {"X-Api-Key": "..."}.')
    return {str(k): v for k, v in value.items()}


def _fields(request: GenerateRequest) -> dict[str, Any]:
    messages = [m.to_dict() for m in request.messages]
    prompt = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    own = request.sample.request_fields() if request.sample is not None else {"input": prompt}
    metadata = {k: v for k, v in own.items() if k not in ("id", "input")}
    return {"metadata": metadata, **own, "prompt": prompt, "messages": messages}


def render_body(template: Any, fields: Mapping[str, Any], name: str) -> Any:
    """``template`` with its ``{field}`` placeholders filled in from ``fields``.

    Examples:
        >>> render_body({"q": "{input}", "n": ["{k}"], "t": "Q: {input}"},
        ...             {"input": "2+2?", "k": 3}, "http/x")
        {'q': '2+2?', 'n': [3], 't': 'Q: 2+2?'}
    """
    if isinstance(template, str):
        whole = _FIELD.fullmatch(template)
        if whole and whole.group(1) is not None:
            return _value(whole.group(1), fields, name)
        return _FIELD.sub(lambda m: _text(m, fields, name), template)
    if isinstance(template, list):
        return [render_body(item, fields, name) for item in template]
    if isinstance(template, dict):
        return {render_body(k, fields, name): render_body(v, fields, name)
                for k, v in template.items()}
    return template


def _text(match: re.Match[str], fields: Mapping[str, Any], name: str) -> str:
    if match.group(1) is None:
        return match.group(0)[0]  # {{ or }}
    value = _value(match.group(1), fields, name)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _value(field: str, fields: Mapping[str, Any], name: str) -> Any:
    if field not in fields:
        shown = ", ".join(sorted(k for k in fields if k != "metadata"))
        raise ProviderError(f"{name}: the body template asks for {{{field}}}, which this sample "
                            f"does not have. Its fields: {shown}.", retryable=False)
    return fields[field]
