"""Declarative eval files (YAML): data, a prompt template and scorers, never logic.

Example::

    name: capitals
    version: 1
    dataset: capitals.jsonl          # relative to this file; or {path, input_field, ...}
    template: "Q: {input}\\nA:"
    system: Answer with one word.
    fewshot: 2                       # the first k samples of fewshot_dataset (or the dataset)
    solver: generate                 # or multiple_choice
    scorers: [exact_match, {name: f1}]
    config: {max_tokens: 16, temperature: 0}

Unknown keys are errors. YAML is read with ``safe_load`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalstack.core.errors import ConfigError, validation_problems
from evalstack.core.task import Task
from evalstack.core.types import GenerateConfig
from evalstack.datasets.files import load_dataset
from evalstack.datasets.record import FieldMap


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    input_field: str = "input"
    target_field: str = "target"
    id_field: str = "id"
    choices_field: str = "choices"
    category_field: str = "category"


class ScorerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ConfigSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None


class EvalFile(BaseModel):
    """The schema of an eval file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int = 1
    description: str = ""
    dataset: str | DatasetSpec
    template: str | None = None
    system: str | None = None
    fewshot: int = 0
    fewshot_dataset: str | DatasetSpec | None = None
    solver: Literal["generate", "multiple_choice"] = "generate"
    method: Literal["auto", "loglikelihood", "generate"] = "auto"
    scorers: list[str | ScorerSpec] = Field(default_factory=lambda: ["exact_match"])
    config: ConfigSpec = Field(default_factory=ConfigSpec)
    epochs: int = Field(1, ge=1)


def _open(spec: str | DatasetSpec, base: Path):  # type: ignore[no-untyped-def]
    if isinstance(spec, str):
        spec = DatasetSpec(path=spec)
    fields = FieldMap(spec.input_field, spec.target_field, spec.id_field, spec.choices_field,
                      spec.category_field)
    path = Path(spec.path)
    return load_dataset(path if path.is_absolute() else base / path, fields=fields)


def load_eval_file(path: Path) -> Task:
    """Parse and validate an eval file into a ``Task``."""
    from evalstack.runner.resolve import resolve_scorer
    from evalstack.solvers.generate import generate
    from evalstack.solvers.multiple_choice import MMLU_TEMPLATE, multiple_choice

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of eval settings at the top level.")
    try:
        spec = EvalFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {validation_problems(exc, 'field ')}.") from None
    base = path.parent
    dataset = _open(spec.dataset, base)
    shots_source = _open(spec.fewshot_dataset, base) if spec.fewshot_dataset else dataset
    shots = []
    if spec.fewshot:
        for sample in shots_source:
            if len(shots) == spec.fewshot:
                break
            shots.append(sample)
    config = GenerateConfig(
        max_tokens=spec.config.max_tokens, temperature=spec.config.temperature,
        top_p=spec.config.top_p, stop=tuple(spec.config.stop), seed=spec.config.seed,
    )
    if spec.solver == "multiple_choice":
        solver = multiple_choice(template=spec.template or MMLU_TEMPLATE, method=spec.method,
                                 fewshot=shots)
        default_scorers: list[str | ScorerSpec] = ["choice"]
    else:
        solver = generate(template=spec.template, system=spec.system, fewshot=shots)
        default_scorers = ["exact_match"]
    scorer_specs = spec.scorers if "scorers" in raw else default_scorers
    scorers = []
    for s in scorer_specs:
        if isinstance(s, str):
            scorers.append(resolve_scorer(s))
        else:
            from evalstack.core import registry

            try:
                scorers.append(registry.lookup("scorer", s.name)(**s.args))
            except TypeError as exc:
                raise ConfigError(f"{path}: scorer {s.name!r}: {exc}.") from None
    return Task(spec.name, dataset, solver, scorers, version=spec.version, config=config,
                epochs=spec.epochs, args={"eval_file": str(path)}, description=spec.description)
