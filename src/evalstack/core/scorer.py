"""Scores, the state a solver hands to scorers, and the scorer protocol."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from evalstack.core.component import ComponentSpec
from evalstack.core.types import ChatMessage, GenerateConfig, ModelOutput, Sample

ScoreKind = Literal["binary", "continuous", "ordinal"]


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's verdict on one sample.

    Attributes:
        value: 1.0/0.0 for binary scores; any float otherwise.
        kind: ``binary`` (Wilson interval), ``continuous`` or ``ordinal`` (bootstrap interval).
        answer: what the scorer extracted from the output and compared.
        explanation: why (a judge's rationale, a regex that failed to match, ...).
        metadata: JSON-safe facts stored with the score (a judge's model, version, template
            hash and per-criterion scores, ...).
    """

    value: float
    kind: ScoreKind = "binary"
    answer: str | None = None
    explanation: str | None = None
    metadata: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value, "kind": self.kind}
        if self.answer is not None:
            d["answer"] = self.answer
        if self.explanation is not None:
            d["explanation"] = self.explanation
        if self.metadata:
            d["metadata"] = dict(self.metadata)
        return d


@dataclass(slots=True)
class TaskState:
    """What a solver built for one sample: the prompt it sent and what came back.

    Attributes:
        sample: the dataset item.
        messages: the conversation sent to the model.
        output: the last generation, if any.
        choice_logprobs: per-choice log-likelihoods, for multiple choice scored that way.
        choice: the index of the chosen option (multiple choice), when known.
        config: the task's generation settings, which solvers use unless they override them.
        metadata: solver-specific notes stored with the sample.
    """

    sample: Sample
    messages: tuple[ChatMessage, ...] = ()
    output: ModelOutput | None = None
    choice_logprobs: tuple[float, ...] | None = None
    choice: int | None = None
    config: GenerateConfig = GenerateConfig()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def completion(self) -> str:
        return self.output.text if self.output is not None else ""


@runtime_checkable
class Scorer(Protocol):
    """Turns a finished ``TaskState`` into a ``Score``; may be sync or async.

    Build scorers with factories decorated by ``@component("scorer")`` so they carry a
    ``spec``.

    Examples:
        >>> from evalstack.scorers.match import exact_match
        >>> s = exact_match()
        >>> state = TaskState(Sample("1", "Capital of France?", "Paris"),
        ...                   output=ModelOutput(" paris."))
        >>> s(state.sample, state).value
        1.0
    """

    spec: ComponentSpec

    def __call__(self, sample: Sample, state: TaskState) -> Score | Awaitable[Score]: ...


class SyncScorer(Scorer, Protocol):
    """A ``Scorer`` that returns its ``Score`` directly, never an awaitable.

    What a ``@component("scorer")`` factory builds when it is annotated to return a plain
    ``Callable[[Sample, TaskState], Score]``, so other scorers can call it synchronously.
    """

    def __call__(self, sample: Sample, state: TaskState) -> Score: ...
