"""Any OpenAI-compatible HTTP API: OpenAI itself, vLLM, llama.cpp's server, Ollama, LM Studio.

Registered under the prefix ``openai``: ``openai/gpt-4o-mini``, or
``openai/my-model`` with ``base_url=http://127.0.0.1:8000/v1`` for a local server.

The hot path is one dict, one JSON encode, one POST on a shared keep-alive session, and one
JSON decode: no SDK, no validation models, no per-request logging.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from evalstack.core.errors import CapabilityError, ConfigError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.text import DEFAULT_MAX_OUTPUT_CHARS, cap_text
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    StructuredOutput,
)
from evalstack.providers._http import (
    JSON_HEADERS,
    SessionPool,
    bad_json_error,
    dumps,
    exception_error,
    excerpt,
    loads,
    positive_arg,
    read_body,
    status_error,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 120.0
ACCEPTED_ARGS = (
    "base_url",
    "api_key",
    "api",
    "timeout",
    "max_output_chars",
    "organization",
    "extra_body",
)
# Arguments that change how a request is sent but never what comes back: kept out of
# identity() so that changing them does not invalidate the response cache.
_OPERATIONAL_ARGS = frozenset({"timeout", "base_url", "api"})


def render_prompt(messages: Sequence[ChatMessage]) -> str:
    """The prompt text a completions endpoint gets for a conversation.

    A single user message is sent as its text. Anything else becomes a ``role: content``
    transcript that ends with ``assistant:`` to cue the reply.

    Examples:
        >>> render_prompt([ChatMessage("user", "2+2=")])
        '2+2='
        >>> print(render_prompt([ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]))
        system: Be brief.
        user: Hi
        assistant:
    """
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].content
    lines = [f"{m.role}: {m.content}" for m in messages]
    if not messages or messages[-1].role != "assistant":
        lines.append("assistant:")
    return "\n".join(lines)


class OpenAICompatProvider:
    """A model behind an OpenAI-compatible ``/chat/completions`` or ``/completions`` API.

    Args:
        model: the model name the server knows, e.g. ``gpt-4o-mini``.
        base_url: the API root; default ``$OPENAI_BASE_URL``, else the OpenAI API.
        api_key: default ``$OPENAI_API_KEY``; optional for local servers. Never stored.
        api: ``"chat"`` (default) or ``"completions"``; only the latter offers log-likelihood.
        timeout: seconds allowed per request (default 120).
        max_output_chars: longer outputs are cut and flagged ``truncated``.
        organization: sent as the ``OpenAI-Organization`` header.
        extra_body: fields added to every request body (request settings take precedence).

    Examples:
        >>> p = OpenAICompatProvider("my-model", base_url="http://127.0.0.1:8000/v1")
        >>> p.name, sorted(c.value for c in p.capabilities)
        ('openai/my-model', ['generate'])
    """

    max_concurrency: int | None = None

    def __init__(self, model: str, **args: Any) -> None:
        unknown = sorted(set(args) - set(ACCEPTED_ARGS))
        if unknown:
            raise ConfigError(
                f"openai/{model}: unknown model argument(s) {', '.join(unknown)}. "
                f"Accepted: {', '.join(ACCEPTED_ARGS)}."
            )
        if not isinstance(model, str) or not model:
            raise ConfigError(f"Expected a model name after 'openai/', got {model!r}.")
        self.name = f"openai/{model}"
        self._model = model
        self._args = public_args(args)  # no secret is kept beyond the auth header

        base_url = args.get("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{self.name}: expected base_url to be an http(s) URL such as "
                f"http://127.0.0.1:8000/v1, got {base_url!r}."
            )
        self._base_url = base_url.rstrip("/")

        api = args.get("api", "chat")
        if api not in ("chat", "completions"):
            raise ConfigError(
                f"{self.name}: expected api to be 'chat' or 'completions', got {api!r}."
            )
        self._api: str = api
        self._chat = api == "chat"
        self.capabilities = frozenset(
            {Capability.GENERATE} if self._chat else {Capability.GENERATE, Capability.LOGLIKELIHOOD}
        )
        self._timeout = positive_arg(
            self.name, "timeout", args.get("timeout", DEFAULT_TIMEOUT), float
        )
        self._max_output_chars = positive_arg(
            self.name,
            "max_output_chars",
            args.get("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS),
            int,
        )
        self._extra_body = _extra_body(self.name, args.get("extra_body"))
        if "extra_body" in args:
            self._args["extra_body"] = self._extra_body

        api_key = args["api_key"] if "api_key" in args else os.environ.get("OPENAI_API_KEY")
        if not api_key and self._base_url == DEFAULT_BASE_URL:
            raise ConfigError(
                f"{self.name} at {DEFAULT_BASE_URL} needs an API key, and none was given. "
                "Set OPENAI_API_KEY, or pass base_url= for a local server."
            )
        self._secrets = (api_key,) if api_key else ()
        headers = dict(JSON_HEADERS)
        headers["User-Agent"] = "evalstack"
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        organization = args.get("organization")
        if organization:
            headers["OpenAI-Organization"] = str(organization)
        self._pool = SessionPool(headers=headers, timeout=self._timeout)

        self._chat_url = f"{self._base_url}/chat/completions"
        self._completions_url = f"{self._base_url}/completions"
        self._generate_url = self._chat_url if self._chat else self._completions_url

    def __repr__(self) -> str:
        return (
            f"OpenAICompatProvider({self.name!r}, base_url={self._base_url!r}, api={self._api!r})"
        )

    def identity(self) -> dict[str, Any]:
        """Provider, endpoint, model, API flavour and the non-secret output-affecting args."""
        args = {k: v for k, v in self._args.items() if k not in _OPERATIONAL_ARGS}
        return {
            "provider": "openai",
            "base_url": self._base_url,
            "model": self._model,
            "api": self._api,
            "args": public_args(args),
        }

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        """Generate one completion; raises ``ProviderError`` on any failure."""
        cfg = request.config
        body: dict[str, Any] = dict(self._extra_body) if self._extra_body else {}
        body["model"] = self._model
        if self._chat:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            body["prompt"] = render_prompt(request.messages)
        if cfg.max_tokens is not None:
            body["max_tokens"] = cfg.max_tokens
        if cfg.temperature is not None:
            body["temperature"] = cfg.temperature
        if cfg.top_p is not None:
            body["top_p"] = cfg.top_p
        if cfg.stop:
            body["stop"] = list(cfg.stop)
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        if cfg.logprobs:
            body["logprobs"] = True if self._chat else 1
        if cfg.structured is not None:
            body.update(_structured_body(cfg.structured, self._chat))
        data, raw = await self._post(self._generate_url, body)
        try:
            choice = data["choices"][0]
            if self._chat:
                text = _message_text(choice["message"])
            else:
                text = choice["text"] or ""
            logprobs = _generated_logprobs(choice, self._chat) if cfg.logprobs else None
        except (KeyError, IndexError, TypeError, ValueError):
            raise self._shape_error(self._generate_url, raw) from None
        text, truncated = cap_text(text, self._max_output_chars)
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        return ModelOutput(
            text,
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            data.get("model"),
            choice.get("finish_reason"),
            truncated,
            logprobs,
        )

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        """``log P(continuation | context)`` for each continuation (``api="completions"``).

        Each continuation is scored with one echo request (``echo=True, logprobs=1,
        max_tokens=0``) on ``context + continuation``. The tokens that overlap the
        continuation's characters are summed; a token that straddles the boundary counts.
        """
        if self._chat:
            raise CapabilityError(
                f"{self.name} uses the chat API, which gives no prompt log-probabilities. "
                "Pass api=completions to score continuations."
            )
        conts = request.continuations
        if len(conts) == 1:
            results = [await self._score(request.context, conts[0])]
        else:
            gathered = await asyncio.gather(
                *(self._score(request.context, c) for c in conts), return_exceptions=True
            )
            for item in gathered:
                if isinstance(item, BaseException):
                    raise item
            results = gathered  # type: ignore[assignment]
        greedy = [g for _, g, _ in results]
        tokens = [t for _, _, t in results]
        return LoglikelihoodOutput(
            tuple(lp for lp, _, _ in results),
            None if any(g is None for g in greedy) else tuple(greedy),  # type: ignore[arg-type]
            None if any(t is None for t in tokens) else sum(tokens),  # type: ignore[arg-type]
        )

    async def _score(
        self, context: str, continuation: str
    ) -> tuple[float, bool | None, int | None]:
        body: dict[str, Any] = dict(self._extra_body) if self._extra_body else {}
        body.update(
            model=self._model,
            prompt=context + continuation,
            echo=True,
            logprobs=1,
            max_tokens=0,
            temperature=0,
        )
        data, raw = await self._post(self._completions_url, body)
        try:
            lp = data["choices"][0]["logprobs"]
            tokens: list[str] = lp["tokens"]
            values: list[float | None] = lp["token_logprobs"]
            offsets: list[int] | None = lp.get("text_offset")
            top: list[dict[str, float] | None] | None = lp.get("top_logprobs")
        except (KeyError, IndexError, TypeError):
            raise self._shape_error(self._completions_url, raw) from None
        if offsets is None:
            offsets, pos = [], 0
            for tok in tokens:
                offsets.append(pos)
                pos += len(tok)
        start, end = len(context), len(context) + len(continuation)
        total, counted = 0.0, 0
        greedy: bool | None = True if top is not None else None
        for i, (tok, value, off) in enumerate(zip(tokens, values, offsets, strict=False)):
            if off + len(tok) <= start:
                continue
            if off >= end:  # a server that generated despite max_tokens=0
                break
            if value is None:
                continue
            total += value
            counted += 1
            if greedy and top is not None:
                alts = top[i] if i < len(top) else None
                if alts and max(alts, key=alts.__getitem__) != tok:
                    greedy = False
        if continuation and counted == 0:
            raise ProviderError(
                f"{self.name}: expected log-probabilities for the continuation "
                f"{continuation[:50]!r}, got none from {self._completions_url}. Does the server "
                "support echo=True with logprobs and max_tokens=0?",
                retryable=False,
            )
        usage = data.get("usage")
        input_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return total, greedy, input_tokens

    async def _post(self, url: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        session = self._pool.get()
        try:
            async with session.post(url, data=dumps(body)) as resp:
                status = resp.status
                raw = await read_body(resp)
                if not 200 <= status < 300:
                    raise status_error(
                        status, raw, resp.headers, label=self._label(url), secrets=self._secrets
                    )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise exception_error(
                exc, label=self._label(url), timeout=self._timeout, secrets=self._secrets
            ) from None
        try:
            data = loads(raw)
        except ValueError:
            raise bad_json_error(raw, label=self._label(url), secrets=self._secrets) from None
        if not isinstance(data, dict):
            raise self._shape_error(url, raw)
        return data, raw

    def _label(self, url: str) -> str:
        return f"{self.name} at {url}"

    def _shape_error(self, url: str, raw: bytes) -> ProviderError:
        return ProviderError(
            f"{self._label(url)} returned JSON without the expected completion fields "
            f"(choices[0]): {excerpt(raw, self._secrets) or '(empty body)'}",
            retryable=False,
            status=200,
        )

    async def aclose(self) -> None:
        """Close the HTTP session of the running event loop."""
        await self._pool.aclose()


def _structured_body(structured: StructuredOutput, chat: bool) -> dict[str, Any]:
    """Request fields that constrain the reply's shape.

    The chat API takes OpenAI's ``response_format`` (also understood by vLLM, llama.cpp's
    server and Ollama). The legacy completions API has no standard field; vLLM's
    ``guided_json`` is sent there, which other servers ignore.
    """
    schema = structured.schema()
    if chat:
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": structured.name, "strict": True, "schema": schema},
            }
        }
    return {"guided_json": schema}


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Some servers return a list of content parts.
    return "".join(
        p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
    )


def _generated_logprobs(choice: Mapping[str, Any], chat: bool) -> tuple[float, ...] | None:
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return None
    if chat:
        content = lp.get("content")
        return tuple(float(t["logprob"]) for t in content) if content else None
    values = lp.get("token_logprobs")
    return tuple(float(v) for v in values if v is not None) if values else None


def _extra_body(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
    if not isinstance(parsed, dict):
        raise ConfigError(
            f"{name}: expected extra_body to be a JSON object (a dict of request fields), "
            f"got {value!r}."
        )
    return parsed
