"""In-process models that run every call in one dedicated worker thread.

A local model is not thread-safe and its calls block for a while; running them in a single
worker thread keeps the event loop responsive (progress, timeouts, Ctrl-C) while calls stay
serial. Subclasses implement the ``*_sync`` methods, which run in that thread.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evalstack.core.types import (
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)


class WorkerThreadModel(abc.ABC):
    """Base for providers whose model lives in this process (llama.cpp, transformers)."""

    thread_name = "evalstack-model"
    max_concurrency: int | None = 1
    _executor: ThreadPoolExecutor | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self.thread_name)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def prepare(self) -> None:
        """Load the model now, so that loading is not counted as the first sample's latency."""
        await self._run(self._load)

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        """Generate a completion (greedy unless the request sets a temperature)."""
        output: ModelOutput = await self._run(self._generate_sync, request)
        return output

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        """Sum ``log P(continuation | context)`` per continuation."""
        scored: LoglikelihoodOutput = await self._run(self._loglikelihood_sync, request)
        return scored

    async def aclose(self) -> None:
        """Free the model and stop the worker thread."""
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, self._close_sync)
        executor.shutdown(wait=False)

    @abc.abstractmethod
    def _load(self) -> Any:
        """Load the model (once); runs in the worker thread."""

    @abc.abstractmethod
    def _generate_sync(self, request: GenerateRequest) -> ModelOutput:
        """Generate; runs in the worker thread."""

    @abc.abstractmethod
    def _loglikelihood_sync(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        """Score continuations; runs in the worker thread."""

    @abc.abstractmethod
    def _close_sync(self) -> None:
        """Release the model; runs in the worker thread."""


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two token sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
