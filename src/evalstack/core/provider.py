"""The model-provider protocol: one narrow async method, plus declared capabilities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from evalstack.core.redact import redact_value
from evalstack.core.types import (
    Capability,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)

# Model-argument names whose values are secrets: never stored, logged, hashed or exported.
SECRET_ARG_NAMES = frozenset({"api_key", "apikey", "token", "auth_token", "password", "secret"})


def public_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The model arguments that may be stored or shown.

    Secret arguments (``api_key``, ...) are dropped, not masked; secrets inside the others
    (a password or key in ``base_url``) are masked by ``core.redact``.

    Examples:
        >>> public_args({"api_key": "k", "base_url": "http://u:pw@h/v1?key=k1", "timeout": 5})
        {'base_url': 'http://u:***@h/v1?key=***', 'timeout': 5}
    """
    return {
        k: redact_value(v) for k, v in args.items() if k.lower() not in SECRET_ARG_NAMES
    }


@runtime_checkable
class ModelProvider(Protocol):
    """A model behind one uniform interface.

    Providers are built by a factory registered under a prefix (``openai``, ``llamacpp``, ...)
    and called as ``factory(model_name, **model_args)``.

    Attributes:
        name: the full model spec, e.g. ``"openai/gpt-4o-mini"``.
        capabilities: what the provider can do; the runner checks a task's needs against it
            before the first request.
        max_concurrency: an upper bound the provider imposes (1 for an in-process model).

    Examples:
        >>> import asyncio
        >>> from evalstack.providers.mock import MockProvider
        >>> from evalstack.core.types import GenerateRequest
        >>> p = MockProvider("echo")
        >>> asyncio.run(p.generate(GenerateRequest.from_prompt("hi"))).text
        'hi'
    """

    name: str
    capabilities: frozenset[Capability]
    max_concurrency: int | None

    def identity(self) -> dict[str, Any]:
        """Provider, endpoint, model and non-secret arguments: part of every cache key."""
        ...

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        """Generate one completion. Raises ``ProviderError`` on failure."""
        ...

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        """Score continuations (only when ``Capability.LOGLIKELIHOOD`` is declared)."""
        ...

    # Optional: ``async def prepare(self) -> None`` loads weights or opens connections before
    # the first request, so that set-up is not counted as a sample's latency.

    async def aclose(self) -> None:
        """Release connections, threads and model memory."""
        ...
