"""``Model``: one provider behind the limits, retries, response cache and cost accounting.

Every model call in evalstack goes through a ``Model``: the solver's, a judge's, and every
later component's. One ``Model`` per provider per run holds the shared machinery (a
concurrency semaphore, the rpm/tpm limits, the cache key space); the usage of each call is
added to the caller's ``Usage`` and to the current sample's for the model's role.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.provider import ModelProvider
from evalstack.core.types import (
    Capability,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    TokenScores,
    TokenScoresRequest,
)
from evalstack.model.cache import KeySpace, output_from_json, output_to_json
from evalstack.model.policy import CallPolicy
from evalstack.model.prices import FREE, Price
from evalstack.model.ratelimit import RateLimiter
from evalstack.model.retry import backoff_delay
from evalstack.model.usage import MODEL_ROLE, Usage, sample_usage

Output = ModelOutput | LoglikelihoodOutput | TokenScores

#: Which models offer ``Capability.TOKEN_SCORES`` (for the message refusing one that doesn't).
TOKEN_SCORES_OFFERED = (
    "local/... (llama.cpp, e.g. local/smollm2), llamacpp/PATH.gguf and transformers/..."
)


def _encode(out: Output) -> dict[str, Any]:
    if isinstance(out, TokenScores):
        return {**out.to_dict(), "_type": "token_scores"}
    return output_to_json(out)


def _decode(data: dict[str, Any]) -> Output:
    if data.get("_type") == "token_scores":
        return TokenScores.from_dict(data)
    return output_from_json(data)


class ResponseCache(Protocol):
    """Where successful responses are kept by key; an error is never put."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """The stored response under ``key``, or ``None``."""
        ...

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Keep ``value`` under ``key``."""
        ...


def _estimated_tokens(request: GenerateRequest) -> float:
    return sum(len(m.content) for m in request.messages) / 4 + (request.config.max_tokens or 256)


class Model:
    """A provider with the run's limits, retries, cache and price.

    Args:
        provider: the model behind it.
        policy: limits, timeouts and retries.
        price: USD per million tokens, for the cost of each call.
        cache: where responses are looked up and kept (``None``: no cache).
        role: what the model is for in a run (``"model"``, ``"judge"``); usage is counted
            per role.

    Examples:
        >>> import asyncio
        >>> from evalstack.providers.mock import MockProvider
        >>> m = Model(MockProvider("echo"))
        >>> asyncio.run(m.generate(GenerateRequest.from_prompt("hi"))).text
        'hi'
        >>> m.usage.attempts
        1
    """

    def __init__(self, provider: ModelProvider, policy: CallPolicy = CallPolicy(), *,
                 price: Price = FREE, cache: ResponseCache | None = None,
                 role: str = MODEL_ROLE) -> None:
        self.provider = provider
        self.policy = policy.with_concurrency(provider.max_concurrency)
        self.price = price
        self.cache = cache if policy.cache else None
        self.role = role
        self.concurrency = self.policy.concurrency
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._limiter = RateLimiter(policy.rpm, policy.tpm)
        self.keys = KeySpace(provider.identity(),
                             with_fields=bool(getattr(provider, "uses_sample_fields", False)))
        self._rng = random.Random(policy.seed)
        self.requests = 0
        #: Everything this model used, over every call.
        self.usage = Usage()

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.provider.capabilities

    def for_sample(self, epoch: int) -> SampleCaller:
        """The ``ModelCaller`` a solver gets for one sample and epoch."""
        return SampleCaller(self, epoch)

    async def generate(self, request: GenerateRequest, *, usage: Usage | None = None,
                       epoch: int = 0, key: Mapping[str, Any] | None = None,
                       refresh: bool = False,
                       keep: Callable[[ModelOutput], bool] | None = None) -> ModelOutput:
        """One completion, from the cache or the provider.

        Args:
            request: what to send.
            usage: also count this call's usage here.
            epoch: the repeat of the sample; repeats are cached apart.
            key: what the call is about, when the request itself is no key (a judge prompt
                with a fresh nonce per call); by default the request and epoch.
            refresh: skip the cache look-up (the cached reply was unusable) and keep the
                new reply in its place.
            keep: which replies may be cached (a judge keeps only replies that parse, so
                an unusable verdict is asked again next time, like an error).
        """
        cache_key = self.keys.key(dict(key)) if key is not None else self.keys.generate(
            request, epoch)
        accept = None if keep is None else (
            lambda out: isinstance(out, ModelOutput) and keep(out))
        out = await self._call(cache_key, lambda: self.provider.generate(request),
                               _estimated_tokens(request), usage, refresh, accept)
        if not isinstance(out, ModelOutput):
            raise ProviderError(f"{self.name} answered a generate request with {type(out)}")
        return out

    async def loglikelihood(self, request: LoglikelihoodRequest, *,
                            usage: Usage | None = None) -> LoglikelihoodOutput:
        """Log-probabilities of the continuations, from the cache or the provider."""
        estimate = (len(request.context) + sum(map(len, request.continuations))) / 4
        out = await self._call(self.keys.loglikelihood(request),
                               lambda: self.provider.loglikelihood(request), estimate, usage,
                               False)
        if not isinstance(out, LoglikelihoodOutput):
            raise ProviderError(f"{self.name} answered a loglikelihood request with {type(out)}")
        return out

    async def token_scores(self, request: TokenScoresRequest, *,
                           usage: Usage | None = None) -> TokenScores:
        """Per-token log-probabilities of a text and each position's distribution summary.

        Raises:
            ConfigError: the provider does not offer ``Capability.TOKEN_SCORES``.
        """
        if Capability.TOKEN_SCORES not in self.capabilities:
            raise ConfigError(
                f"{self.name} cannot give token scores: they need token log-probabilities and "
                f"each position's full next-token distribution; {TOKEN_SCORES_OFFERED} offer them.")
        method = getattr(self.provider, "token_scores", None)
        if method is None:
            raise ConfigError(f"{self.name} declares token scores but has no token_scores method.")
        out = await self._call(self.keys.key({"op": "token_scores", "text": request.text}),
                               lambda: method(request), len(request.text) / 4, usage, False)
        if not isinstance(out, TokenScores):
            raise ProviderError(f"{self.name} answered a token-scores request with {type(out)}")
        return out

    async def _call(self, key: str, make: Callable[[], Awaitable[Output]], estimate: float,
                    usage: Usage | None, refresh: bool,
                    accept: Callable[[Output], bool] | None = None) -> Output:
        sinks = self._sinks(usage)
        cache = self.cache
        if cache is not None and not refresh:
            hit = await cache.get(key)
            if hit is not None and "_type" in hit:  # older judge entries have no _type
                for u in sinks:
                    u.cached = True
                return _decode(hit)
        out, latency = await self._with_retries(make, estimate, sinks)
        self._count(out, latency, sinks)
        if cache is not None and (accept is None or accept(out)):
            cache.put(key, _encode(out))
        return out

    def _sinks(self, usage: Usage | None) -> list[Usage]:
        """Where a call's usage is counted: this model, the caller's, the current sample's."""
        current = sample_usage(self.role)
        if usage is None:
            return [self.usage] if current is None else [self.usage, current]
        if current is None or current is usage:
            return [self.usage, usage]
        return [self.usage, usage, current]

    def _count(self, out: Output, latency: float, sinks: list[Usage]) -> None:
        """Add one successful call's tokens, cost, latency and model version to ``sinks``."""
        output_tokens = getattr(out, "output_tokens", None)
        cost = self.price.cost(out.input_tokens, output_tokens)
        version = getattr(out, "model_version", None)
        for u in sinks:
            u.add_tokens(out.input_tokens, output_tokens, cost)
            u.latency_ms = (u.latency_ms or 0.0) + latency
            if version:
                u.model_version = version

    async def _with_retries(self, make: Callable[[], Awaitable[Output]], estimate: float,
                            sinks: list[Usage]) -> tuple[Output, float]:
        """The one retry loop: attempts until success, a final error or the time budget.

        Seconds spent in attempts and backoffs count against ``retry_time`` (waits for a
        slot or the rate limit do not), so no call outlasts it however many retries are left.
        """
        attempt, spent = 0, 0.0
        while True:
            attempt += 1
            for u in sinks:
                u.attempts += 1
            if self._limiter.active:
                await self._limiter.acquire(estimate)
            limit = max(0.0, min(self.policy.timeout, self.policy.retry_time - spent))
            result, seconds = await self._attempt(make, limit)
            if not isinstance(result, ProviderError):
                return result, seconds * 1000.0
            spent += seconds
            delay = self._next_delay(attempt, result, spent)
            slept = time.perf_counter()
            await asyncio.sleep(delay)
            spent += time.perf_counter() - slept

    async def _attempt(self, make: Callable[[], Awaitable[Output]],
                       limit: float) -> tuple[Output | ProviderError, float]:
        """One request within ``limit`` seconds: the output or the error, and its seconds."""
        async with self._semaphore:
            self.requests += 1
            start = time.perf_counter()
            try:
                async with asyncio.timeout(limit):
                    out = await make()
            except TimeoutError:
                why = ("set --timeout to change" if limit >= self.policy.timeout
                       else "the rest of the --retry-time budget")
                return (ProviderError(f"request timed out after {limit:g}s ({why})",
                                      retryable=True), time.perf_counter() - start)
            except ProviderError as exc:
                return exc, time.perf_counter() - start
            return out, time.perf_counter() - start

    def _next_delay(self, attempt: int, error: ProviderError, spent: float) -> float:
        """The backoff before the next attempt; raises when no attempt is left."""
        policy = self.policy
        if not error.retryable or attempt > policy.max_retries:
            if attempt > 1:
                raise ProviderError(f"{error} (after {attempt} attempts)", retryable=False,
                                    status=error.status) from error
            raise error
        delay = backoff_delay(attempt, error, base=policy.retry_base, cap=policy.retry_max,
                              rng=self._rng)
        if spent + delay >= policy.retry_time:  # no time left for an attempt after the wait
            raise ProviderError(
                f"{error}; gave up after {attempt} attempt{'s' if attempt > 1 else ''} in "
                f"{spent:.1f} s (--retry-time {policy.retry_time:g} s budget for all attempts; "
                f"--timeout {policy.timeout:g} s per attempt)",
                retryable=False, status=error.status,
            ) from error
        return delay

    async def aclose(self) -> None:
        """Close the provider."""
        await self.provider.aclose()


class SampleCaller:
    """The ``ModelCaller`` of one sample: the run's ``Model``, counting into ``usage``."""

    __slots__ = ("_model", "epoch", "usage")

    def __init__(self, model: Model, epoch: int) -> None:
        self._model = model
        self.epoch = epoch
        # Inside a sample's ``collect_sample_usage`` block this is that sample's model usage.
        self.usage = sample_usage(model.role) or Usage()

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._model.capabilities

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        return await self._model.generate(request, usage=self.usage, epoch=self.epoch)

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        return await self._model.loglikelihood(request, usage=self.usage)

    async def token_scores(self, request: TokenScoresRequest) -> TokenScores:
        return await self._model.token_scores(request, usage=self.usage)
