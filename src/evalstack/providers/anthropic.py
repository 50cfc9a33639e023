"""Anthropic's Messages API through the official ``anthropic`` SDK.

Registered under the prefix ``anthropic``: ``anthropic/claude-3-5-haiku-latest``. The SDK is
imported when the provider is built, so evalstack itself does not need it; install it with
``pip install 'evalstack[anthropic]'``. The SDK's own retries are off: the runner retries,
using the ``retryable`` and ``retry_after`` of the ``ProviderError`` raised here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any
from urllib.parse import parse_qsl

from evalstack.core.errors import ConfigError, MissingDependencyError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.redact import redact_url
from evalstack.core.text import DEFAULT_MAX_OUTPUT_CHARS, cap_text
from evalstack.core.types import (
    DEFAULT_TEMPERATURE,
    Capability,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)
from evalstack.providers._http import PerLoop, parse_endpoint, positive_arg, redact, status_error

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_TOKENS = 1024
ACCEPTED_ARGS = ("base_url", "api_key", "timeout", "max_tokens", "max_output_chars")
_OPERATIONAL_ARGS = frozenset({"timeout", "base_url"})


class AnthropicProvider:
    """A Claude model behind Anthropic's Messages API.

    Args:
        model: the model name, e.g. ``claude-3-5-haiku-latest``.
        base_url: the API root; default ``$ANTHROPIC_BASE_URL``, else Anthropic's API. A
            trailing ``/v1`` is removed (the SDK adds it), so an OpenAI-style base URL works.
        api_key: default ``$ANTHROPIC_API_KEY``; else the SDK's other credential sources.
        timeout: seconds allowed per request (default 120).
        max_tokens: used when the request's config sets none (the API requires one).
        max_output_chars: longer outputs are cut and flagged ``truncated``.

    System messages are joined and sent as the ``system`` parameter. ``seed`` and
    ``logprobs`` are not offered by the API and are ignored.
    """

    capabilities = frozenset({Capability.GENERATE, Capability.CHAT})
    max_concurrency: int | None = None

    def __init__(self, model: str, **args: Any) -> None:
        unknown = sorted(set(args) - set(ACCEPTED_ARGS))
        if unknown:
            raise ConfigError(
                f"anthropic/{model}: unknown model argument(s) {', '.join(unknown)}. "
                f"Accepted: {', '.join(ACCEPTED_ARGS)}."
            )
        if not isinstance(model, str) or not model:
            raise ConfigError(f"Expected a model name after 'anthropic/', got {model!r}.")
        try:
            import anthropic
        except ImportError:
            raise MissingDependencyError(
                "anthropic", "anthropic", "The anthropic provider"
            ) from None
        self._sdk = anthropic
        self.name = f"anthropic/{model}"
        self._model = model
        self._args = public_args(args)  # the key is kept apart, for the client only

        base_url = args.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        endpoint = parse_endpoint(base_url, self.name, DEFAULT_BASE_URL)
        root = endpoint.root[:-3] if endpoint.root.endswith("/v1") else endpoint.root
        self._endpoint = dataclasses.replace(endpoint, root=root)
        # The SDK gets the URL with its userinfo (httpx sends it as Basic auth) but without
        # the query string, which it would glue to the path: that goes in default_query.
        info = base_url.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
        self._base_url = root.replace("://", f"://{info}@", 1) if info else root
        self._query = dict(parse_qsl(endpoint.query, keep_blank_values=True))
        self._timeout = positive_arg(
            self.name, "timeout", args.get("timeout", DEFAULT_TIMEOUT), float
        )
        self._max_tokens = positive_arg(
            self.name, "max_tokens", args.get("max_tokens", DEFAULT_MAX_TOKENS), int
        )
        self._max_output_chars = positive_arg(
            self.name,
            "max_output_chars",
            args.get("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS),
            int,
        )
        key = args["api_key"] if "api_key" in args else os.environ.get("ANTHROPIC_API_KEY")
        self._api_key: str | None = key or None
        self._secrets = ((key,) if key else ()) + self._endpoint.secrets()
        # The SDK's HTTP client belongs to one event loop: keep one client per loop.
        self._clients: PerLoop[Any] = PerLoop(self._new_client, lambda client: client.close())

    def __repr__(self) -> str:
        return f"AnthropicProvider({self.name!r}, base_url={self._endpoint.shown!r})"

    def identity(self) -> dict[str, Any]:
        """Provider, endpoint, model and the non-secret output-affecting arguments."""
        args = {k: v for k, v in self._args.items() if k not in _OPERATIONAL_ARGS}
        return {
            "provider": "anthropic",
            "base_url": self._endpoint.shown,  # no credentials: a new key keeps the cache
            "model": self._model,
            "args": public_args(args),
        }

    def _new_client(self) -> Any:
        kwargs: dict[str, Any] = {
            "base_url": self._base_url,
            "timeout": self._timeout,
            "max_retries": 0,
        }
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if self._query:
            kwargs["default_query"] = self._query
        return self._sdk.AsyncAnthropic(**kwargs)

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        """Generate one reply; raises ``ProviderError`` on any failure."""
        cfg = request.config
        system = [m.content for m in request.messages if m.role == "system"]
        kwargs: dict[str, Any] = {
            "model": self._model,
            "messages": [
                {"role": m.role, "content": m.content}
                for m in request.messages
                if m.role != "system"
            ],
            "max_tokens": cfg.max_tokens if cfg.max_tokens is not None else self._max_tokens,
        }
        if system:
            kwargs["system"] = "\n\n".join(system)
        # Sampling settings go in extra_body: recent SDKs dropped them as keyword arguments.
        # The one generation default (greedy) unless the request sets a temperature.
        sampling: dict[str, float] = {
            "temperature": DEFAULT_TEMPERATURE if cfg.temperature is None else cfg.temperature
        }
        if cfg.top_p is not None:
            sampling["top_p"] = cfg.top_p
        kwargs["extra_body"] = sampling
        if cfg.stop:
            kwargs["stop_sequences"] = list(cfg.stop)
        try:
            message = await self._clients.get().messages.create(**kwargs)
        except self._sdk.APIError as exc:
            raise self._error(exc) from None
        except TypeError as exc:  # the SDK found no credentials
            if "authentication" not in str(exc):
                raise
            raise ProviderError(
                f"{self.name} has no API key: set ANTHROPIC_API_KEY or pass api_key=.",
                retryable=False,
            ) from None
        text = "".join(
            getattr(block, "text", "") for block in message.content if block.type == "text"
        )
        text, truncated = cap_text(text, self._max_output_chars)
        usage = message.usage
        return ModelOutput(
            text,
            getattr(usage, "input_tokens", None),
            getattr(usage, "output_tokens", None),
            message.model,
            message.stop_reason,
            truncated,
        )

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        """Not offered: the capabilities say so, and the runner checks before any request."""
        raise ProviderError(
            f"{self.name} cannot score continuations: the Messages API gives no "
            "log-probabilities. Use a provider with the loglikelihood capability.",
            retryable=False,
        )

    def _error(self, exc: Exception) -> ProviderError:
        sdk = self._sdk
        label = f"{self.name} at {redact_url(self._endpoint.url('/v1/messages'))}"
        if isinstance(exc, sdk.APIStatusError):
            try:
                body = exc.response.text
            except Exception:  # the body may be unread or undecodable
                body = str(exc.body)
            return status_error(
                exc.status_code, body, exc.response.headers, label=label, secrets=self._secrets
            )
        if isinstance(exc, sdk.APITimeoutError):
            return ProviderError(
                f"{label} timed out: no complete response within {self._timeout:g} s. "
                "Raise the timeout= model argument if the model is slow.",
                retryable=True,
            )
        detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)
        if isinstance(exc, sdk.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            if cause is not None:
                detail += redact(f" ({type(cause).__name__}: {cause})", self._secrets)
            return ProviderError(
                f"{label} failed to connect or lost the connection: {detail}. "
                "Check that the server is running and base_url is right.",
                retryable=True,
            )
        return ProviderError(f"{label} failed: {detail}", retryable=False)

    async def aclose(self) -> None:
        """Close the SDK client of the running event loop."""
        await self._clients.aclose()
