"""The model as solvers see it: retries, timeouts, rate limits, cache and cost accounting.

One ``ModelRunner`` per model per run holds the shared machinery (a concurrency semaphore,
rate limits, the cache); each sample gets a light ``SampleCaller`` that adds up its own
attempts, tokens, cost and latency.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from evalstack.core.errors import ProviderError
from evalstack.core.provider import ModelProvider
from evalstack.core.types import (
    Capability,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)
from evalstack.runner import cache as cache_keys
from evalstack.runner.config import RunConfig
from evalstack.runner.prices import Price
from evalstack.runner.ratelimit import RateLimiter
from evalstack.runner.retry import backoff_delay


class ModelRunner:
    """Shared per-model state for one run."""

    def __init__(
        self,
        provider: ModelProvider,
        run: RunConfig,
        price: Price,
        *,
        cache_get: Callable[[str], Awaitable[dict[str, Any] | None]] | None,
        cache_put: Callable[[str, dict[str, Any]], None] | None,
    ) -> None:
        self.provider = provider
        self.run = run
        self.price = price
        limit = run.concurrency
        if provider.max_concurrency:
            limit = min(limit, provider.max_concurrency)
        self.concurrency = limit
        self.semaphore = asyncio.Semaphore(limit)
        self.limiter = RateLimiter(run.rpm, run.tpm)
        self.cache_get = cache_get
        self.cache_put = cache_put
        self.keys = cache_keys.KeySpace(provider.identity())
        self.rng = random.Random(run.seed)
        self.requests = 0

    def for_sample(self, epoch: int) -> SampleCaller:
        return SampleCaller(self, epoch)


class SampleCaller:
    """Implements ``ModelCaller`` for one sample and keeps its usage."""

    __slots__ = ("_runner", "epoch", "attempts", "input_tokens", "output_tokens", "cost",
                 "cached", "latency_ms", "model_version")

    def __init__(self, runner: ModelRunner, epoch: int) -> None:
        self._runner = runner
        self.epoch = epoch
        self.attempts = 0
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cost = 0.0
        self.cached = False
        self.latency_ms: float | None = None
        self.model_version: str | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._runner.provider.capabilities

    def _usage(self, input_tokens: int | None, output_tokens: int | None) -> None:
        if input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + input_tokens
        if output_tokens is not None:
            self.output_tokens = (self.output_tokens or 0) + output_tokens
        self.cost += self._runner.price.cost(input_tokens, output_tokens)

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        r = self._runner
        key = r.keys.generate(request, self.epoch)
        estimate = sum(len(m.content) for m in request.messages) / 4 + (
            request.config.max_tokens or 256)
        out = await self._call(key, lambda: r.provider.generate(request), estimate)
        assert isinstance(out, ModelOutput)
        if out.model_version:
            self.model_version = out.model_version
        return out

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        r = self._runner
        key = r.keys.loglikelihood(request)
        estimate = (len(request.context) + sum(map(len, request.continuations))) / 4
        out = await self._call(key, lambda: r.provider.loglikelihood(request), estimate)
        assert isinstance(out, LoglikelihoodOutput)
        return out

    async def _call(
        self,
        key: str,
        make: Callable[[], Awaitable[ModelOutput | LoglikelihoodOutput]],
        estimated_tokens: float,
    ) -> ModelOutput | LoglikelihoodOutput:
        r = self._runner
        if r.cache_get is not None:
            hit = await r.cache_get(key)
            if hit is not None:
                self.cached = True
                return cache_keys.output_from_json(hit)
        attempt = 0
        # Seconds spent in attempts and backoffs (waits for a slot or the rate limit are not
        # counted): no request takes longer than --retry-time, however many retries are left.
        spent = 0.0
        budget, per_attempt = r.run.retry_time, r.run.timeout
        while True:
            attempt += 1
            self.attempts += 1
            if r.limiter.active:
                await r.limiter.acquire(estimated_tokens)
            limit = max(0.0, min(per_attempt, budget - spent))
            start = time.perf_counter()
            try:
                async with r.semaphore:
                    r.requests += 1
                    start = time.perf_counter()
                    async with asyncio.timeout(limit):
                        out = await make()
                    elapsed = (time.perf_counter() - start) * 1000.0
            except TimeoutError:
                why = ("set --timeout to change" if limit >= per_attempt
                       else "the rest of the --retry-time budget")
                error = ProviderError(f"request timed out after {limit:g}s ({why})",
                                      retryable=True)
            except ProviderError as exc:
                error = exc
            else:
                if isinstance(out, ModelOutput):
                    self._usage(out.input_tokens, out.output_tokens)
                else:
                    self._usage(out.input_tokens, None)
                self.latency_ms = (self.latency_ms or 0.0) + elapsed
                if r.cache_put is not None:
                    r.cache_put(key, cache_keys.output_to_json(out))
                return out
            spent += time.perf_counter() - start
            if not error.retryable or attempt > r.run.max_retries:
                if attempt > 1:
                    raise ProviderError(
                        f"{error} (after {attempt} attempts)", retryable=False,
                        status=error.status,
                    ) from error
                raise error
            delay = backoff_delay(attempt, error, base=r.run.retry_base, cap=r.run.retry_max,
                                  rng=r.rng)
            if spent + delay >= budget:  # no time left for another attempt after the backoff
                raise ProviderError(
                    f"{error}; gave up after {attempt} attempt{'s' if attempt > 1 else ''} in "
                    f"{spent:.1f} s (--retry-time {budget:g} s budget for all attempts; "
                    f"--timeout {per_attempt:g} s per attempt)",
                    retryable=False, status=error.status,
                ) from error
            slept = time.perf_counter()
            await asyncio.sleep(delay)
            spent += time.perf_counter() - slept
