"""A huge --concurrency makes no more workers than there are samples left."""

from __future__ import annotations

import asyncio

from evalstack import RunConfig, Sample, Task, evaluate
from evalstack.core.types import GenerateRequest, ModelOutput
from evalstack.datasets import MemoryDataset
from evalstack.providers.mock import MockProvider
from evalstack.runner.evaluate import MAX_WORKERS
from evalstack.scorers.match import exact_match
from evalstack.solvers import generate


class CountingEcho(MockProvider):
    """The echo model, noting how many asyncio tasks exist while it answers."""

    def __init__(self) -> None:
        super().__init__("echo", latency_ms=20)
        self.most_tasks = 0

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        self.most_tasks = max(self.most_tasks, len(asyncio.all_tasks()))
        return await super().generate(request)


def _task(n: int) -> Task:
    data = MemoryDataset("d", [Sample(str(i), f"q{i}", f"q{i}") for i in range(n)])
    return Task("echo", data, generate(), [exact_match()])


def test_workers_are_bounded_by_the_samples_left(tmp_path):
    model = CountingEcho()
    run = RunConfig(store=str(tmp_path / "s.db"), progress=False, concurrency=100_000_000)
    result = evaluate([_task(2)], [model], run)
    assert result.tasks[0].samples == 2 and result.tasks[0].errors == 0
    assert model.calls == 2
    # the main task and the two workers (nothing per --concurrency slot)
    assert model.most_tasks <= 3


def test_workers_never_exceed_the_maximum(tmp_path):
    model = CountingEcho()
    run = RunConfig(store=str(tmp_path / "s.db"), progress=False, concurrency=100_000_000)
    evaluate([_task(MAX_WORKERS + 50)], [model], run)
    assert model.calls == MAX_WORKERS + 50
    assert MAX_WORKERS <= model.most_tasks <= MAX_WORKERS + 1
