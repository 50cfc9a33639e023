"""Perturbations: named, versioned, seeded transforms of a task's samples.

A perturbation turns one sample into zero or more variants that keep the answer (or change it
in a way it knows). ``perturb_task`` wraps a task so that its dataset yields the variants;
the perturbation's name, version, parameters and seed go into the task's stored ``args``, so
a variant run records exactly how it was made and a rerun builds the same variants.

Each variant keeps its original's category and carries ``metadata["original_id"]``, which is
how the robustness report pairs it with the original run's sample.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar

from evalstack.core.errors import ConfigError
from evalstack.core.task import Dataset, Task
from evalstack.core.types import ChatMessage, Sample

ORIGINAL_ID = "original_id"
PERTURBATION = "perturbation"


class Perturbation(abc.ABC):
    """The base of every perturbation: subclasses set ``name``, ``version`` and implement
    ``variants``.

    Attributes:
        name: the registered name (``rotate``, ``typos``, ...).
        version: changes whenever the transform's output changes.
        needs_choices: the transform applies only to multiple-choice samples.
        params: the parameters it was built with (stored with the run).
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    needs_choices: ClassVar[bool] = False
    #: ``prepare`` asks a model (through the model layer): the caller opens the cache first
    uses_model: ClassVar[bool] = False
    #: says what the transform keeps, for ``--help`` and the docs
    summary: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)

    @abc.abstractmethod
    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        """The variants of ``sample`` (without ids: ``PerturbedDataset`` names them), or
        ``None`` when the transform cannot apply to this sample (it is then left out and
        counted)."""

    def prepare(self, samples: Sequence[Sample]) -> None:
        """Work done once before the variants are made (a paraphraser asks its model here,
        through the model layer, and checks and caches the answers); nothing by default."""
        return None

    def check(self, task: Task) -> None:
        """Raise ``ConfigError`` when the perturbation cannot apply to ``task`` at all."""
        if not self.needs_choices:
            return
        first = next(iter(task.dataset), None)
        if first is not None and not first.choices:
            raise ConfigError(
                f"The perturbation {self.name!r} changes a multiple-choice item's options, but "
                f"task {task.name!r} has no options (its first sample, {first.id!r}, has no "
                "'choices'). Use a text perturbation instead: typos, casing, whitespace, "
                "distractor or paraphrase."
            )

    def spec(self, seed: int) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "seed": seed,
                "params": dict(sorted(self.params.items()))}


def sample_rng(seed: int, name: str, sample_id: str) -> random.Random:
    """A generator seeded by (seed, perturbation, sample): each item's variants are the same
    whatever the other items are, and whatever order they come in."""
    digest = hashlib.sha256(f"{seed}\x00{name}\x00{sample_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def with_question(sample: Sample, text: str) -> Sample:
    """``sample`` with its question (the last user message for chat input) replaced."""
    if isinstance(sample.input, str):
        return dataclasses.replace(sample, input=text)
    messages = list(sample.input)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            messages[i] = ChatMessage("user", text)
            break
    return dataclasses.replace(sample, input=tuple(messages))


def check_variants(name: str, variants: Any) -> int:
    if not isinstance(variants, int) or isinstance(variants, bool) or variants < 1:
        raise ConfigError(f"{name}: variants must be a whole number of at least 1; got "
                          f"{variants!r}.")
    return variants


@dataclass
class Skipped:
    """The items a perturbation could not apply to."""

    ids: list[str] = field(default_factory=list)


class PerturbedDataset:
    """A dataset's samples replaced by their variants (``<id>~<name><k>``)."""

    def __init__(self, base: Sequence[Sample], perturbation: Perturbation, seed: int,
                 base_name: str, base_fingerprint: str) -> None:
        self.perturbation = perturbation
        self.seed = seed
        self.name = f"{base_name}~{perturbation.name}"
        self._base = list(base)
        self._base_fingerprint = base_fingerprint
        self._variants: list[Sample] | None = None
        self.skipped = Skipped()

    def _build(self) -> list[Sample]:
        if self._variants is None:
            out: list[Sample] = []
            p = self.perturbation
            for sample in self._base:
                made = p.variants(sample, sample_rng(self.seed, p.name, sample.id))
                if not made:
                    self.skipped.ids.append(sample.id)
                    continue
                for k, variant in enumerate(made):
                    meta = {**variant.metadata, ORIGINAL_ID: sample.id,
                            PERTURBATION: p.name, "variant": k}
                    out.append(dataclasses.replace(variant, id=f"{sample.id}~{p.name}{k}",
                                                   metadata=meta))
            self._variants = out
        return self._variants

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def fingerprint(self) -> str:
        spec = json.dumps(self.perturbation.spec(self.seed), sort_keys=True, default=str)
        return hashlib.sha256(f"{self._base_fingerprint}\x00{spec}".encode()).hexdigest()


def perturb_task(task: Task, perturbation: Perturbation, *, seed: int = 0,
                 limit: int | None = None) -> Task:
    """``task`` with its first ``limit`` samples (all by default) replaced by their variants.

    Raises:
        ConfigError: the perturbation cannot apply to the task (say, an option shuffle on a
            task without options).
    """
    perturbation.check(task)
    base = list(islice(task.dataset, limit)) if limit else list(task.dataset)
    perturbation.prepare(base)
    data: Dataset = PerturbedDataset(base, perturbation, seed, task.dataset.name,
                                     task.dataset.fingerprint())
    args = {**task.args, "perturb": perturbation.spec(seed)}
    if limit:
        args["perturb"]["limit"] = limit
    return dataclasses.replace(task, dataset=data, args=args)


def describe(spec: Mapping[str, Any]) -> str:
    """``rotate v1 seed 0`` from a stored perturbation spec."""
    params = ", ".join(f"{k}={v}" for k, v in (spec.get("params") or {}).items())
    return (f"{spec.get('name')} v{spec.get('version')} seed {spec.get('seed')}"
            + (f" ({params})" if params else ""))
