"""Tasks: a dataset, a solver, scorers, and the generation settings, under a versioned name."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from evalstack.core.component import ComponentSpec
from evalstack.core.scorer import Scorer, TaskState
from evalstack.core.types import (
    Capability,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    Sample,
)


class ModelCaller(Protocol):
    """What a solver may call: the provider behind retries, rate limits, cache and accounting."""

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    async def generate(self, request: GenerateRequest) -> ModelOutput: ...

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput: ...


@runtime_checkable
class Solver(Protocol):
    """Builds the prompt for a sample, calls the model, and fills in a ``TaskState``.

    Examples:
        >>> from evalstack.solvers.generate import generate
        >>> generate(template="Q: {input}\\nA:").spec.name
        'generate'
    """

    spec: ComponentSpec

    def missing_capabilities(self, available: frozenset[Capability]) -> list[str]:
        """What this solver needs that ``available`` lacks, in words; empty when satisfied."""
        ...

    async def __call__(self, state: TaskState, model: ModelCaller) -> TaskState: ...


@runtime_checkable
class Dataset(Protocol):
    """A finite, re-iterable, hashable collection of samples.

    File-backed datasets stream from disk on each iteration so that a large run does not
    hold every sample in memory.
    """

    name: str

    def __iter__(self) -> Iterator[Sample]: ...

    def __len__(self) -> int: ...

    def fingerprint(self) -> str:
        """A sha256 of the dataset's content, stored with every run."""
        ...


@dataclass(frozen=True)
class Task:
    """An evaluation: a dataset, a solver, scorers and settings.

    Frozen: to run a task with other settings, build a new one with ``dataclasses.replace``.

    Attributes:
        name: registered or file-derived name.
        version: an integer that changes whenever the prompt or scoring changes.
        args: the arguments the task factory was called with (stored with the run).
        config: generation parameters for every request.
        epochs: how many times each sample is run by default.
        for_model: when set, called with the task and a model's capabilities before the run
            is planned; it returns the task to run on that model (HumanEval picks its chat or
            completion form this way). Not part of the stored spec: the task it returns is.
    """

    name: str
    dataset: Dataset
    solver: Solver
    scorers: Sequence[Scorer]
    version: int = 1
    config: GenerateConfig = GenerateConfig()
    epochs: int = 1
    args: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    for_model: Callable[[Task, frozenset[Capability]], Task] | None = None

    def adapted(self, capabilities: frozenset[Capability]) -> Task:
        """The task to run on a model with ``capabilities`` (itself unless ``for_model``)."""
        if self.for_model is None:
            return self
        return self.for_model(self, capabilities)

    def score_names(self) -> list[str]:
        """The name each scorer's score is stored under: its name, or its label (name and
        arguments) when two scorers share a name."""
        names = [s.spec.name for s in self.scorers]
        return [s.spec.label() if names.count(s.spec.name) > 1 else s.spec.name
                for s in self.scorers]

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "args": self.args,
            "solver": self.solver.spec.to_dict(),
            "scorers": [s.spec.to_dict() for s in self.scorers],
            "config": self.config.to_dict(),
        }


T = TypeVar("T", bound=Callable[..., Task])


@overload
def task(fn: T, *, name: str | None = None, version: int | None = None) -> T: ...


@overload
def task(
    fn: None = None, *, name: str | None = None, version: int | None = None
) -> Callable[[T], T]: ...


def task(
    fn: T | None = None, *, name: str | None = None, version: int | None = None
) -> T | Callable[[T], T]:
    """Declare a task factory.

    The decorated function returns a ``Task``; the decorator fills in its name, version and
    the arguments it was called with.

    Examples:
        >>> from evalstack.datasets.memory import MemoryDataset
        >>> from evalstack.solvers.generate import generate
        >>> from evalstack.scorers.match import exact_match
        >>> @task(version=2)
        ... def arithmetic():
        ...     data = MemoryDataset("arith", [Sample("1", "2+2=", "4")])
        ...     return Task("", data, generate(), [exact_match()])
        >>> t = arithmetic()
        >>> (t.name, t.version)
        ('arithmetic', 2)
    """

    def decorate(factory: T) -> T:
        sig = inspect.signature(factory)

        @functools.wraps(factory)
        def build(*args: Any, **kwargs: Any) -> Task:
            result = factory(*args, **kwargs)
            if not isinstance(result, Task):
                raise TypeError(f"@task function {factory.__name__} must return a Task")
            bound = sig.bind(*args, **kwargs)
            return dataclasses.replace(
                result, name=name or result.name or factory.__name__,
                version=result.version if version is None else version,
                args={**result.args, **bound.arguments},
            )

        build.is_evalstack_task = True  # type: ignore[attr-defined]
        build.version = version  # type: ignore[attr-defined]  # for `evalstack list`
        return build  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
