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

import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalstack.core import registry
from evalstack.core.errors import ConfigError, DataError, validation_problems
from evalstack.core.scorer import Scorer
from evalstack.core.task import Solver, Task
from evalstack.core.types import GenerateConfig
from evalstack.datasets.files import directory_message, load_dataset, not_utf8
from evalstack.datasets.record import FieldMap
from evalstack.runner.specs import resolve_scorer
from evalstack.solvers.generate import generate
from evalstack.solvers.multiple_choice import MMLU_TEMPLATE, multiple_choice
from evalstack.solvers.templates import check_template, sample_fields


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


_EXACT_MATCH: list[str | ScorerSpec] = ["exact_match"]


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
    scorers: list[str | ScorerSpec] = Field(default_factory=lambda: _EXACT_MATCH.copy())
    config: ConfigSpec = Field(default_factory=ConfigSpec)
    epochs: int = Field(1, ge=1)


def _open(spec: str | DatasetSpec, base: Path, where: str):  # type: ignore[no-untyped-def]
    if isinstance(spec, str):
        spec = DatasetSpec(path=spec)
    fields = FieldMap(spec.input_field, spec.target_field, spec.id_field, spec.choices_field,
                      spec.category_field)
    path = Path(spec.path)
    full = path if path.is_absolute() else base / path
    if full.is_dir():
        raise DataError(f"{where}: " + directory_message(full, "a .jsonl or .csv dataset file"))
    if not full.exists():
        relative = ("" if path.is_absolute()
                    else f" (resolved against the eval file's folder, {base.resolve()})")
        raise DataError(
            f"{where}: dataset file not found: {full}{relative}. Expected a path to a .jsonl "
            f"or .csv file."
        )
    return load_dataset(full, fields=fields)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        with open(path, "rb") as raw:
            not_utf8(path, raw, ConfigError)
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}). Re-save it as UTF-8."
                          ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the eval file {path}: {exc.strerror}.") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or exc
        context = getattr(exc, "context", None)
        context_mark = getattr(exc, "context_mark", None)
        also = ""
        if context and context_mark is not None:
            also = f" ({context} on line {context_mark.line + 1})"
        raise ConfigError(
            f"{where}: invalid YAML: {problem}{also}. Fix the YAML syntax there (quote a "
            f"template that holds ': ' or starts with '{{')."
        ) from None


def _check_templates(spec: EvalFile, path: Path, sample: Any) -> None:
    fields = sample_fields(sample) if sample is not None else None
    if spec.template is not None:
        check_template(spec.template, source=f"{path}: field 'template'", fields=fields,
                       require_field=True)


def load_eval_file(path: Path) -> Task:
    """Parse and validate an eval file into a ``Task``."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of eval settings at the top level.")
    try:
        spec = EvalFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {validation_problems(exc, 'field ')}.") from None
    base = path.parent
    dataset = _open(spec.dataset, base, f"{path}: field 'dataset'")
    shots_source = (_open(spec.fewshot_dataset, base, f"{path}: field 'fewshot_dataset'")
                    if spec.fewshot_dataset else dataset)
    _check_templates(spec, path, next(iter(dataset), None))
    shots = list(itertools.islice(shots_source, spec.fewshot))
    config = GenerateConfig(
        max_tokens=spec.config.max_tokens, temperature=spec.config.temperature,
        top_p=spec.config.top_p, stop=tuple(spec.config.stop), seed=spec.config.seed,
    )
    solver: Solver
    if spec.solver == "multiple_choice":
        solver = multiple_choice(template=spec.template or MMLU_TEMPLATE, method=spec.method,
                                 fewshot=shots)
        default_scorers: list[str | ScorerSpec] = ["choice"]
    else:
        solver = generate(template=spec.template, system=spec.system, fewshot=shots)
        default_scorers = ["exact_match"]
    scorers = [_scorer(s, path) for s in (spec.scorers if "scorers" in raw else default_scorers)]
    return Task(spec.name, dataset, solver, scorers, version=spec.version, config=config,
                epochs=spec.epochs, args={"eval_file": str(path)}, description=spec.description)


def _scorer(spec: str | ScorerSpec, path: Path) -> Scorer:
    """One entry of the ``scorers`` list: ``name[:args]`` or ``{name, args}``."""
    if isinstance(spec, str):
        return resolve_scorer(spec)
    try:
        built: Scorer = registry.lookup("scorer", spec.name)(**spec.args)
    except TypeError as exc:
        raise ConfigError(f"{path}: scorer {spec.name!r}: {exc}.") from None
    return built
