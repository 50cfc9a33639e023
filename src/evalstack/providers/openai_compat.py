"""Any OpenAI-compatible HTTP API: OpenAI itself, vLLM, llama.cpp's server, Ollama, LM Studio.

Registered under the prefix ``openai``: ``openai/gpt-4o-mini``, or
``openai/my-model`` with ``base_url=http://127.0.0.1:8000/v1`` for a local server.

The hot path is one dict, one JSON encode, one POST on a shared keep-alive session, and one
JSON decode: no SDK, no validation models, no per-request logging.

Every request carries ``max_tokens`` and ``temperature`` (``GenerateConfig.with_defaults()``):
some servers read a missing or zero ``max_tokens`` as "until the context is full". Structured
output is negotiated per server (``_structured``); ``run_notes()`` reports what was used.
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
from evalstack.core.redact import redact_url
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
    parse_endpoint,
    positive_arg,
    read_body,
    status_error,
)
from evalstack.providers._structured import Negotiator, is_rejection

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
# The echo self-check: a context whose next token a language model predicts confidently, and
# how far (in nats) the echoed and the generated log-probability of that token may differ.
_ECHO_PROBE = "The capital of France is"
_ECHO_TOLERANCE = 0.05
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
        extra_body: fields added to every request body (the request's settings take
            precedence, the default temperature 0 and max_tokens included).

    Examples:
        >>> p = OpenAICompatProvider("my-model", base_url="http://127.0.0.1:8000/v1")
        >>> p.name, sorted(c.value for c in p.capabilities)
        ('openai/my-model', ['chat', 'generate'])
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
        # userinfo becomes Basic auth and the query string rides on every request; messages
        # and the stored identity show only ``endpoint.shown`` (core/redact.py)
        self._endpoint = parse_endpoint(base_url, self.name)
        self._base_url = self._endpoint.root

        api = args.get("api", "chat")
        if api not in ("chat", "completions"):
            raise ConfigError(
                f"{self.name}: expected api to be 'chat' or 'completions', got {api!r}."
            )
        self._api: str = api
        self._chat = api == "chat"
        self.capabilities = frozenset(
            {Capability.GENERATE, Capability.CHAT} if self._chat
            else {Capability.GENERATE, Capability.LOGLIKELIHOOD}
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

        basic = self._endpoint.authorization()
        if basic and args.get("api_key"):
            raise ConfigError(
                f"{self.name}: base_url carries a user and password ({self._endpoint.shown} "
                "with userinfo) and api_key= is given too; a request has room for one "
                "Authorization header. Pass one of them."
            )
        api_key = args["api_key"] if "api_key" in args else os.environ.get("OPENAI_API_KEY")
        if basic:  # the URL's own credentials win over $OPENAI_API_KEY
            api_key = None
        if not api_key and not basic and self._base_url == DEFAULT_BASE_URL:
            raise ConfigError(
                f"{self.name} at {DEFAULT_BASE_URL} needs an API key, and none was given. "
                "Set OPENAI_API_KEY, or pass base_url= for a local server."
            )
        self._secrets = ((api_key,) if api_key else ()) + self._endpoint.secrets()
        headers = dict(JSON_HEADERS)
        headers["User-Agent"] = "evalstack"
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        elif basic:
            headers["Authorization"] = basic
        organization = args.get("organization")
        if organization:
            headers["OpenAI-Organization"] = str(organization)
        self._pool = SessionPool(headers=headers, timeout=self._timeout)

        self._chat_url = self._endpoint.url("/chat/completions")
        self._completions_url = self._endpoint.url("/completions")
        self._generate_url = self._chat_url if self._chat else self._completions_url
        self._structured = Negotiator(self._generate_url, model, chat=self._chat)
        self._server: str | None = None  # a known server family, found by prepare()
        self._sampling: dict[str, Any] = {}  # what that family needs to sample neutrally
        self._echo_lock: asyncio.Lock | None = None
        self._echo_checked = False
        self._echo_error: CapabilityError | None = None

    def __repr__(self) -> str:
        return (
            f"OpenAICompatProvider({self.name!r}, base_url={self._endpoint.shown!r}, "
            f"api={self._api!r})"
        )

    def identity(self) -> dict[str, Any]:
        """Provider, endpoint, model, API flavour and the non-secret output-affecting args."""
        args = {k: v for k, v in self._args.items() if k not in _OPERATIONAL_ARGS}
        return {
            "provider": "openai",
            "base_url": self._endpoint.shown,  # no credentials: a new key keeps the cache
            "model": self._model,
            "api": self._api,
            "args": public_args(args),
        }

    def run_notes(self) -> dict[str, Any]:
        """What this provider learnt about its server, stored with the run.

        ``structured_output`` names the form of structured output the server took
        (``json_schema``, ``json_object+schema``, ``guided_json``, or ``none`` when it took
        none and replies were parsed unconstrained); ``structured_output_rejected`` maps the
        forms it refused to their HTTP status.
        """
        notes = self._structured.notes()
        if self._server is not None:
            notes["server"] = self._server
            notes["sampling"] = dict(self._sampling)
        return notes

    async def prepare(self) -> None:
        """Ask the server what it is (``GET /models``), before the first request.

        llama.cpp's servers (llama-cpp-python's, which lists models as ``owned_by: "me"``, and
        llama-server, ``"llamacpp"``) apply a ``repeat_penalty`` of 1.1 even at temperature 0,
        so greedy outputs differ from in-process llama.cpp's on replies that repeat a token.
        For them every request also carries ``repeat_penalty: 1.0`` (unless ``extra_body``
        sets one): the same weights give the same outputs behind either. Other servers get
        only OpenAI's fields (OpenAI's API refuses unknown ones). Any failure here is ignored.
        """
        if self._server is not None:
            return
        try:
            async with self._pool.get().get(self._endpoint.url("/models")) as resp:
                data = loads(await read_body(resp)) if resp.status == 200 else None
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return
        models = data.get("data") if isinstance(data, dict) else None
        owners = {m.get("owned_by") for m in models or [] if isinstance(m, dict)}
        if owners & {"me", "llamacpp"}:
            self._server = "llama.cpp"
            if "repeat_penalty" not in self._extra_body:
                self._sampling = {"repeat_penalty": 1.0}

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        """Generate one completion.

        Raises:
            ProviderError: the call failed (``retryable`` says whether a retry may help), or
                the server returned no text (a refusal or a tool call).
            ConfigError: the server refused the temperature (some models take only their own).
        """
        cfg = request.config.with_defaults()
        body: dict[str, Any] = dict(self._extra_body) if self._extra_body else {}
        body["model"] = self._model
        if self._chat:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            body["prompt"] = render_prompt(request.messages)
        if cfg.max_tokens is None or cfg.max_tokens < 1:
            # llama.cpp's server (and others) read max_tokens=0 as "up to the context size".
            raise ConfigError(
                f"{self.name}: expected max_tokens to be a positive integer, got "
                f"{cfg.max_tokens!r}. Pass --max-tokens N (N >= 1)."
            )
        body["max_tokens"] = cfg.max_tokens
        body["temperature"] = cfg.temperature
        body.update(self._sampling)
        if cfg.top_p is not None:
            body["top_p"] = cfg.top_p
        if cfg.stop:
            body["stop"] = list(cfg.stop)
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        if cfg.logprobs:
            body["logprobs"] = True if self._chat else 1
        url = self._generate_url
        if cfg.structured is None:
            data, raw = await self._post(url, body, temperature=cfg.temperature)
        else:
            data, raw = await self._negotiate(url, body, cfg.structured, cfg.temperature)
        try:
            choice = data["choices"][0]
            if self._chat:
                text = _message_text(choice["message"])
            else:
                text = choice["text"]
                if text is not None and not isinstance(text, str):
                    raise TypeError
            logprobs = _generated_logprobs(choice, self._chat) if cfg.logprobs else None
        except (KeyError, IndexError, TypeError, ValueError):
            raise self._shape_error(url, raw) from None
        if text is None:
            raise self._no_text_error(url, choice)
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

    async def _negotiate(
        self,
        url: str,
        body: dict[str, Any],
        structured: StructuredOutput,
        temperature: float | None,
    ) -> tuple[dict[str, Any], bytes]:
        """POST ``body`` with the first form of structured output the server takes."""
        for form in self._structured.order():
            attempt = dict(body)
            attempt.update(form.fields(structured))
            status, raw, headers = await self._exchange(url, attempt)
            if 200 <= status < 300:
                self._structured.accepted(form)
                return self._decode(url, raw)
            self._temperature_check(url, status, raw, temperature)
            if not is_rejection(form, status, raw):
                raise self._status_error(url, status, raw, headers)
            self._structured.rejected(form, status)
        raise AssertionError("the last form, 'none', is never rejected")  # pragma: no cover

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        """``log P(continuation | context)`` for each continuation (``api="completions"``).

        Each continuation is scored with one echo request on ``context + continuation``:
        ``echo=True, logprobs=1, max_tokens=1, temperature=0``, as lm-evaluation-harness
        sends it. (``max_tokens=0`` would be the natural ask, but llama.cpp's server reads it
        as "no limit" and generates to the end of its context.) The tokens that overlap the
        continuation's characters are summed, a token that straddles the boundary included;
        the generated token, past the prompt's characters, is ignored.

        Raises:
            CapabilityError: the server does not echo the prompt with per-token
                log-probabilities, so it cannot score continuations at all; the message
                names the alternatives.
        """
        if self._chat:
            raise CapabilityError(
                f"{self.name} uses the chat API, which gives no prompt log-probabilities. "
                "Pass api=completions to score continuations."
            )
        # Before any echo request: on llama-cpp-python's server each one costs seconds.
        await self._check_echo_once()
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

    async def _check_echo_once(self) -> None:
        if not self._echo_checked:
            if self._echo_lock is None:
                self._echo_lock = asyncio.Lock()
            async with self._echo_lock:
                if not self._echo_checked:
                    try:
                        self._echo_checked = await self._check_echo()
                    except CapabilityError as exc:
                        self._echo_error, self._echo_checked = exc, True
        if self._echo_error is not None:
            raise self._echo_error

    async def _check_echo(self) -> bool:
        """Refuse log-likelihood when the log-probability the server echoes for a prompt token
        disagrees with the one it reports when it generates that same token.

        llama-cpp-python's server (0.3.x) scores each echoed token with the distribution that
        follows it when the model adds no BOS token (SmolLM2): values that parse but are
        wrong (design/0010-llamacpp-server.md). Checked before the first continuation; returns
        whether it could decide (an error reply leaves it to ``_score``, and to a later call).
        """
        url = self._completions_url
        status, raw, _ = await self._exchange(url, self._logprobs_body(_ECHO_PROBE, echo=False))
        if not 200 <= status < 300:
            return False
        try:
            lp = self._decode(url, raw)[0]["choices"][0]["logprobs"]
            token, generated = lp["tokens"][0], lp["token_logprobs"][0]
        except (ProviderError, KeyError, IndexError, TypeError):
            return True  # no generated token to compare with
        if not isinstance(token, str) or not token or not isinstance(generated, float | int):
            return True
        status, raw, _ = await self._exchange(url, self._logprobs_body(_ECHO_PROBE + token))
        if not 200 <= status < 300:
            return False
        try:
            lp = self._decode(url, raw)[0]["choices"][0]["logprobs"]
            offsets = lp.get("text_offset")
            if offsets is None:
                offsets = [sum(map(len, lp["tokens"][:i])) for i in range(len(lp["tokens"]))]
            echoed = lp["token_logprobs"][offsets.index(len(_ECHO_PROBE))]
        except (ProviderError, KeyError, IndexError, TypeError, ValueError, AttributeError):
            return True  # _score reports a malformed echo
        if isinstance(echoed, float | int) and abs(echoed - generated) > _ECHO_TOLERANCE:
            raise CapabilityError(
                f"{self._label(self._completions_url)} cannot score continuations: the "
                f"log-probabilities it echoes for a prompt disagree with the ones it reports "
                f"when generating (log P({token!r} | {_ECHO_PROBE!r}) is {echoed:.2f} echoed, "
                f"{generated:.2f} generated). llama-cpp-python's server echoes them one token "
                "late for models without a BOS token, such as SmolLM2. Use a generative method "
                "instead (-T method=generate on the multiple-choice benchmarks), or a local "
                "backend that computes log-likelihoods itself: llamacpp/<file.gguf> or "
                "transformers/<model>."
            )
        return True

    def _logprobs_body(self, prompt: str, *, echo: bool = True) -> dict[str, Any]:
        """A completions request for ``prompt``'s log-probabilities: one generated token at
        most (``max_tokens=0`` means "no limit" to llama.cpp's server), greedy, echoed."""
        body: dict[str, Any] = dict(self._extra_body) if self._extra_body else {}
        body.update(model=self._model, prompt=prompt, max_tokens=1, logprobs=1, temperature=0)
        if echo:
            body["echo"] = True
        return body

    async def _score(
        self, context: str, continuation: str
    ) -> tuple[float, bool | None, int | None]:
        prompt = context + continuation
        url = self._completions_url
        status, raw, headers = await self._exchange(url, self._logprobs_body(prompt))
        if not 200 <= status < 300:
            if status in (400, 422, 500) and b"echo" in raw[:65536].lower():
                raise self._no_echo_error(f"it refused echo with HTTP {status}", raw)
            raise self._status_error(url, status, raw, headers)
        data, raw = self._decode(url, raw)
        try:
            choice = data["choices"][0]
            lp = choice.get("logprobs")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._shape_error(url, raw) from None
        if not isinstance(lp, dict):
            raise self._no_echo_error("its reply has no logprobs", lp)
        tokens, values = lp.get("tokens"), lp.get("token_logprobs")
        if not isinstance(tokens, list) or not isinstance(values, list):
            raise self._no_echo_error("its logprobs have no tokens and token_logprobs", lp)
        offsets: list[int] | None = lp.get("text_offset")
        top: list[dict[str, float] | None] | None = lp.get("top_logprobs")
        if offsets is None:
            text = choice.get("text")
            if isinstance(text, str) and not text.startswith(prompt):
                raise self._no_echo_error("its text does not start with the prompt", lp)
            offsets, pos = [], 0
            for tok in tokens:
                offsets.append(pos)
                pos += len(tok)
        if prompt and not any(off < len(prompt) for off in offsets):
            raise self._no_echo_error("no token of its reply lies within the prompt", lp)
        start, end = len(context), len(prompt)
        total, counted = 0.0, 0
        greedy: bool | None = True if top is not None else None
        for i, (tok, value, off) in enumerate(zip(tokens, values, offsets, strict=False)):
            if off + len(tok) <= start:
                continue
            if off >= end:  # the generated token (max_tokens=1), past the prompt
                break
            if value is None:
                if i == 0:  # the first token of a prompt has no context, hence no logprob
                    continue
                raise self._no_echo_error(
                    f"token_logprobs is null for the prompt token {tok!r}", lp
                )
            total += value
            counted += 1
            if greedy and top is not None:
                alts = top[i] if i < len(top) else None
                if alts and max(alts, key=alts.__getitem__) != tok:
                    greedy = False
        if continuation and counted == 0:
            raise ProviderError(
                f"{self.name}: expected log-probabilities for the continuation "
                f"{continuation[:50]!r}, got none from {url}: no token with a log-probability "
                "overlaps it. (A prompt's first token has none: give the request a context.)",
                retryable=False,
            )
        usage = data.get("usage")
        input_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return total, greedy, input_tokens

    async def _exchange(
        self, url: str, body: dict[str, Any]
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One POST: the status, the body and the headers; transport failures raise."""
        session = self._pool.get()
        try:
            async with session.post(url, data=dumps(body)) as resp:
                return resp.status, await read_body(resp), resp.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise exception_error(
                exc, label=self._label(url), timeout=self._timeout, secrets=self._secrets
            ) from None

    async def _post(
        self, url: str, body: dict[str, Any], *, temperature: float | None = None
    ) -> tuple[dict[str, Any], bytes]:
        status, raw, headers = await self._exchange(url, body)
        if not 200 <= status < 300:
            self._temperature_check(url, status, raw, temperature)
            raise self._status_error(url, status, raw, headers)
        return self._decode(url, raw)

    def _decode(self, url: str, raw: bytes) -> tuple[dict[str, Any], bytes]:
        try:
            data = loads(raw)
        except ValueError:
            raise bad_json_error(raw, label=self._label(url), secrets=self._secrets) from None
        if not isinstance(data, dict):
            raise self._shape_error(url, raw)
        return data, raw

    def _status_error(
        self, url: str, status: int, raw: bytes, headers: Mapping[str, str]
    ) -> ProviderError:
        return status_error(status, raw, headers, label=self._label(url), secrets=self._secrets)

    def _temperature_check(
        self, url: str, status: int, raw: bytes, temperature: float | None
    ) -> None:
        """A generate request refused for its temperature is a settings error, not a retry."""
        if temperature is None or status not in (400, 422):
            return
        if b"temperature" not in raw[:65536].lower():
            return
        raise ConfigError(
            f"{self._label(url)} refused temperature={temperature:g} (HTTP {status}: "
            f"{excerpt(raw, self._secrets)}). Some models, such as reasoning models, take only "
            "their default temperature. Run again with a temperature the model accepts, e.g. "
            "--temperature 1 (for a judge, its temperature= argument)."
        )

    def _label(self, url: str) -> str:
        return f"{self.name} at {redact_url(url)}"

    def _shape_error(self, url: str, raw: bytes) -> ProviderError:
        return ProviderError(
            f"{self._label(url)} returned JSON without the expected completion fields "
            f"(choices[0]): {excerpt(raw, self._secrets) or '(empty body)'}",
            retryable=False,
            status=200,
        )

    def _no_text_error(self, url: str, choice: Mapping[str, Any]) -> ProviderError:
        message = choice.get("message") if self._chat else None
        message = message if isinstance(message, Mapping) else {}
        facts = [f"finish_reason={choice.get('finish_reason')!r}"]
        refusal = message.get("refusal")
        if refusal:
            facts.append(f"refusal={str(refusal)[:200]!r}")
        if message.get("tool_calls"):
            facts.append("it made tool calls instead")
        hint = ""
        if message.get("reasoning_content") or message.get("reasoning"):
            facts.append("it returned only reasoning")
            hint = " Raise --max-tokens so the model can finish reasoning and answer."
        return ProviderError(
            f"{self._label(url)} returned no text (content is null; "
            f"{', '.join(facts)}). Counted as an error, not as an empty answer.{hint}",
            retryable=False,
            status=200,
        )

    def _no_echo_error(self, why: str, got: Any) -> CapabilityError:
        """``got``: the reply's ``logprobs``, or the raw body of an error reply."""
        if isinstance(got, bytes):
            shown = excerpt(got, self._secrets, limit=160)
        else:
            shown = "logprobs: " + excerpt(dumps(got), self._secrets, limit=160)
        return CapabilityError(
            f"{self._label(self._completions_url)} cannot score continuations: it did not echo "
            f"the prompt with per-token log-probabilities ({why}; sent echo=true, logprobs=1, "
            f"max_tokens=1; got {shown}). Many servers (llama.cpp's llama-server, Ollama, "
            "chat-only APIs) lack this. Use a generative method instead (-T method=generate on "
            "the multiple-choice benchmarks), or a local backend that computes log-likelihoods "
            "itself: llamacpp/<file.gguf> or transformers/<model>."
        )

    async def aclose(self) -> None:
        """Close the HTTP session of the running event loop."""
        self._echo_lock = None  # bound to this event loop; the verdict is kept
        await self._pool.aclose()


def _message_text(message: Mapping[str, Any]) -> str | None:
    """The reply's text; ``None`` when the server sent none (``content: null``)."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TypeError(f"content is {type(content).__name__}")
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
