"""``get_model``: how a component (a judge, a paraphraser, an attacker) gets its model.

A run opens a ``ModelContext`` with its ``CallPolicy``, its response cache and its price
table; every model asked for inside it obeys the same limits and retries, is cached like the
solver's model, and is priced into the run's totals under its role. Outside any run a default
context applies (default policy, no cache, the built-in prices).

As Inspect AI's scorers call ``get_model()``, components never build retries or caches of
their own, and never import the runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from evalstack.core.provider import ModelProvider
from evalstack.model.model import Model, ResponseCache
from evalstack.model.policy import CallPolicy
from evalstack.model.prices import BUILTIN, price_for
from evalstack.model.usage import JUDGE_ROLE


class ModelContext:
    """The models of one run (or one judge command), built on first use.

    Args:
        policy: the limits and retries every model here obeys.
        cache: a factory of the response cache for a model's cache-key prefix (so a model
            with nothing cached needs no look-ups), or ``None`` for no cache.
        prices: the price table (``model.prices.load_table``).
    """

    def __init__(self, policy: CallPolicy = CallPolicy(), *,
                 cache: Callable[[str], ResponseCache | None] | None = None,
                 prices: dict[str, tuple[float, float]] | None = None) -> None:
        self.policy = policy
        self._cache = cache
        self.prices = prices if prices is not None else dict(BUILTIN)
        self._models: dict[tuple[str, int, int], Model] = {}

    def model(self, provider: ModelProvider, *, role: str = JUDGE_ROLE,
              concurrency: int | None = None) -> Model:
        """The ``Model`` for ``provider`` in ``role`` (the same object on every call)."""
        # Per event loop too: a Model's semaphore and rate limits belong to one loop.
        key = (role, id(provider), id(asyncio.get_running_loop()))
        found = self._models.get(key)
        if found is None or found.provider is not provider:
            policy = self.policy.with_concurrency(concurrency)
            found = Model(provider, policy, price=price_for(provider.name, self.prices),
                          role=role)
            if self._cache is not None and policy.cache:
                found.cache = self._cache(found.keys.prefix)
            self._models[key] = found
        return found

    def models(self) -> list[Model]:
        """Every model built here so far."""
        return list(self._models.values())


_DEFAULT = ModelContext()
_CURRENT: ContextVar[ModelContext | None] = ContextVar("evalstack_models", default=None)


def current_context() -> ModelContext:
    """The innermost active ``ModelContext``, else the default one."""
    return _CURRENT.get() or _DEFAULT


@contextmanager
def use_models(context: ModelContext) -> Iterator[ModelContext]:
    """Make ``context`` the one ``get_model`` uses inside the block (and its tasks)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def get_model(provider: ModelProvider, *, role: str = JUDGE_ROLE,
              concurrency: int | None = None) -> Model:
    """The current context's ``Model`` for ``provider``.

    Must be called inside a running event loop.

    Examples:
        >>> import asyncio
        >>> from evalstack.providers.mock import MockProvider
        >>> p = MockProvider("echo")
        >>> async def same() -> bool:
        ...     return get_model(p) is get_model(p)
        >>> asyncio.run(same())
        True
    """
    return current_context().model(provider, role=role, concurrency=concurrency)


def describe(models: list[Model]) -> dict[str, Any]:
    """Requests, tokens and cost of ``models`` by role, for a run's notes."""
    out: dict[str, Any] = {}
    for m in models:
        entry = out.setdefault(m.role, {"requests": 0, "input_tokens": 0, "output_tokens": 0,
                                        "cost_usd": 0.0})
        entry["requests"] += m.requests
        entry["input_tokens"] += m.usage.input_tokens or 0
        entry["output_tokens"] += m.usage.output_tokens or 0
        entry["cost_usd"] += m.usage.cost
    return out
