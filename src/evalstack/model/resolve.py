"""From a ``provider/model`` spec to a provider object, through the lazy provider registry."""

from __future__ import annotations

from typing import Any

from evalstack.core import registry
from evalstack.core.errors import ConfigError
from evalstack.core.provider import ModelProvider


def resolve_model(spec: str, args: dict[str, Any] | None = None) -> ModelProvider:
    """Build the provider for ``provider/model``."""
    prefix, sep, model = spec.partition("/")
    if not sep or not model:
        raise ConfigError(
            f"Model {spec!r} must be provider/model, e.g. local/smollm2, openai/gpt-4o-mini, "
            f"anthropic/claude-3-5-haiku-latest, mock/echo. Providers: "
            f"{', '.join(registry.names('provider'))}."
        )
    factory = registry.lookup("provider", prefix)
    provider: ModelProvider = factory(model, **(args or {}))
    return provider
