"""Run matrices: one YAML file lists tasks x targets x named prompt templates.

Example (a runnable one is ``examples/matrix/suite.yaml``)::

    kind: suite                      # optional: `tasks` or `targets` at the top make a suite
    name: greetings-prompts
    tasks:
      - greetings.jsonl              # a name, a .py/.yaml/.jsonl/.csv file (relative to here)
      - {task: demo_unit, args: {}, scorers: [exact_match]}
    targets:
      - mock/echo
      - {model: mock/constant, args: {text: hello}, generation: {max_tokens: 8}}
    templates:                       # optional; none runs each task's own prompt
      plain: "{input}"
      polite: "Please repeat after me: {input}"
      own: null                      # the task's own prompt, as one more candidate
      long: {file: prompts/long.txt, system: Answer briefly.}
    generation: {temperature: 0, max_tokens: 16}
    limit: 50

A YAML file is a suite when its top level is a mapping with a ``tasks`` or ``targets`` key
(or ``kind: suite``); eval files have neither key, so they are read as before. Unknown keys
are errors, YAML is only ``safe_load``ed, and each error names the file, the line and the
field.

Every task x target x template is its own stored run (resumed and cached like any other).
Each run's task arguments carry ``suite: {name, template}``, so ``evalstack select --suite
NAME`` finds the runs of a suite and ranks its templates.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalstack.core.errors import ConfigError, EvalstackError
from evalstack.core.provider import public_args
from evalstack.core.records import RunRecord
from evalstack.core.results import TaskResult
from evalstack.core.task import Task
from evalstack.datasets.record import FieldMap
from evalstack.runner.config import RunConfig
from evalstack.runner.evalfile import _read_yaml
from evalstack.solvers.generate import generate
from evalstack.solvers.multiple_choice import multiple_choice
from evalstack.solvers.templates import check_template, sample_fields

#: The key under ``Task.args`` (and so the stored ``task_spec.args``) that labels a suite run.
SUITE_ARG = "suite"
#: What a suite run's template is called when it uses the task's own prompt.
OWN_PROMPT = "(task prompt)"

_SUITE_KEYS = ("tasks", "targets")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _lift(value: Any, key: str) -> Any:
    """A bare string entry is short for ``{key: string}``."""
    return {key: value} if isinstance(value, str) else value


class GenerationSpec(BaseModel):
    """Generation settings for every request of the suite (or of one target)."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: list[str] | None = None
    seed: int | None = None

    def changes(self) -> dict[str, Any]:
        """The fields set, as ``GenerateConfig`` keyword arguments."""
        out = self.model_dump(exclude_none=True)
        if "stop" in out:
            out["stop"] = tuple(out["stop"])
        return out


class TaskEntry(BaseModel):
    """One task: ``demo_unit``, ``tasks.py@name``, ``eval.yaml`` or ``cases.jsonl``."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    scorers: list[str] = Field(default_factory=list)
    input_field: str = "input"
    target_field: str = "target"
    id_field: str = "id"


class TargetEntry(BaseModel):
    """One model: ``provider/model``, its arguments and generation overrides."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)


class TemplateEntry(BaseModel):
    """A prompt template: its text (or a file holding it) and an optional system message."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    file: str | None = None
    system: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TemplateEntry:
        if (self.text is None) == (self.file is None):
            raise ValueError("give exactly one of 'text' (the template) or 'file' (a path to "
                             "it), e.g. {text: \"Q: {input}\"}")
        return self


class Suite(BaseModel):
    """The schema of a suite file."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["suite"] = "suite"
    name: str | None = None
    description: str = ""
    tasks: list[TaskEntry] = Field(min_length=1)
    targets: list[TargetEntry] = Field(min_length=1)
    templates: dict[str, TemplateEntry | None] = Field(default_factory=dict)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    limit: int | None = Field(None, ge=1)
    epochs: int | None = Field(None, ge=1)

    @field_validator("tasks", mode="before")
    @classmethod
    def _bare_tasks(cls, value: Any) -> Any:
        return [_lift(v, "task") for v in value] if isinstance(value, list) else value

    @field_validator("targets", mode="before")
    @classmethod
    def _bare_targets(cls, value: Any) -> Any:
        return [_lift(v, "model") for v in value] if isinstance(value, list) else value

    @field_validator("templates", mode="before")
    @classmethod
    def _bare_templates(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key in value:
            if not isinstance(key, str) or not _NAME.match(key):
                raise ValueError(f"template name {key!r} should be letters, digits, '_', '.' "
                                 f"or '-' (starting with a letter or digit), e.g. 'plain'")
        return {k: _lift(v, "text") for k, v in value.items()}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"the suite name should be letters, digits, '_', '.' or '-' "
                             f"(starting with a letter or digit), e.g. 'prompts-v1'; "
                             f"received {value!r}")
        return value


# --- reading, with file:line for every problem ----------------------------------------------


def _compose(path: Path) -> yaml.Node | None:
    """The YAML node tree (no objects are built), for the lines of problems."""
    try:
        return yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _line(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The line of the deepest node of ``loc`` found in ``root`` (1-based)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value
                        if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and part < len(node.value)):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _field(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model an annotation holds, and whether it holds it inside a list or dict."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin in (list, dict):
        inner, _ = _model_in(typing.get_args(annotation)[-1])
        return inner, True
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found[0] is not None:
                return found
    return None, False


def _keys_at(loc: Sequence[Any]) -> list[str]:
    """The keys the schema allows at ``loc`` (the mapping holding its last part)."""
    model: type[BaseModel] | None = Suite
    skip = False
    for part in loc:
        if skip:
            skip = False
            continue
        if model is None or part not in model.model_fields:
            return []
        model, skip = _model_in(model.model_fields[part].annotation)
    return list(model.model_fields) if model is not None and not skip else []


def _problem(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        home = [k for k in allowed if str(loc[-1]) in _keys_at((*loc[:-1], k))]
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = (f" It belongs under {home[0]!r}: {home[0]}: {{{loc[-1]}: ...}}." if home
                else f" Did you mean {close[0]!r}?" if close else "")
        return (f"unknown key {loc[-1]!r}.{hint} Expected one of: {', '.join(allowed)}; remove "
                f"or rename it")
    if kind == "missing":
        return "this required field is missing; add it"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    if len(loc) == 2 and kind in ("model_type", "dict_type") and loc[0] in _ENTRY_SHAPES:
        message = _ENTRY_SHAPES[str(loc[0])]
    received = error.get("input")
    shown = repr(received) if not isinstance(received, dict | list) else type(received).__name__
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"expected: {message}; received {shown}"


#: What one entry of each list (or mapping) of a suite looks like, for a wrong type.
_ENTRY_SHAPES = {
    "tasks": "a task name or file, or {task: NAME, args: {...}}",
    "targets": "a model spec such as mock/echo, or {model: SPEC, args: {...}}",
    "templates": "a template string using {input}, {text: ..., system: ...}, {file: PATH} "
                 "or null (the task's own prompt)",
}


def _validation_error(path: Path, exc: ValidationError) -> ConfigError:
    root = _compose(path)
    parts = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        line = _line(root, loc)
        where = f"{path}:{line}" if line else str(path)
        parts.append(f"{where}: field {_field(loc)!r}: {_problem(error)}")
    return ConfigError("; ".join(parts) + ". See docs/matrix.md for the suite schema.")


def _mapping(path: Path) -> Any:
    """The top level of a YAML file, or ``None`` when it cannot be read as YAML."""
    try:
        return _read_yaml(path)
    except ConfigError:
        return None


def is_suite_file(path: Path) -> bool:
    """Whether ``path`` is a suite: a ``.yaml``/``.yml`` mapping with ``tasks`` or ``targets``
    at the top (or ``kind: suite``). Anything else is left to the eval-file reader."""
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    raw = _mapping(path)
    return isinstance(raw, dict) and (raw.get("kind") == "suite"
                                      or any(k in raw for k in _SUITE_KEYS))


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A named prompt template of a suite (``text`` ``None``: the task's own prompt)."""

    name: str
    text: str | None
    system: str | None = None


@dataclass(frozen=True)
class Target:
    """A model of a suite: its spec, arguments and generation overrides."""

    model: str
    args: dict[str, Any]
    generation: dict[str, Any]

    @property
    def label(self) -> str:
        """The spec, with its arguments when it has any (secrets dropped or masked)."""
        shown = public_args(self.args)
        if not shown:
            return self.model
        inner = ",".join(f"{k}={v}" for k, v in sorted(shown.items()))
        return f"{self.model} ({inner})"


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite: its tasks resolved, its templates read and checked."""

    path: Path
    name: str
    tasks: list[Task]
    targets: list[Target]
    templates: list[Template]
    generation: dict[str, Any]
    limit: int | None
    epochs: int | None

    def combinations(self) -> int:
        return len(self.tasks) * len(self.targets) * len(self.templates)


def load_suite(path: Path, *, optional_args: dict[str, Any] | None = None) -> LoadedSuite:
    """Parse and validate a suite file: every problem is found before any model is asked.

    Raises:
        ConfigError: naming the file, the line and the field, what was expected and received.
    """
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping (tasks, targets, templates, ...) at the "
                          f"top level; received {type(raw).__name__}.")
    try:
        spec = Suite.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(path, exc) from None
    root = _compose(path)
    base = path.parent
    tasks: list[Task] = []
    task_keys: list[tuple[str, str, int]] = []
    for i, entry in enumerate(spec.tasks):
        where = f"{path}:{_line(root, ('tasks', i))}: field 'tasks[{i}]'"
        found = _resolve(entry, base, where, optional_args)
        tasks.extend(found)
        task_keys += [(t.name, repr(t.spec()), i) for t in found]
    templates = [_template(name, entry, base, f"{path}:{_line(root, ('templates', name))}")
                 for name, entry in spec.templates.items()] or [Template(OWN_PROMPT, None)]
    for template in templates:
        for task in tasks:
            _check(template, task, f"{path}:{_line(root, ('templates', template.name))}")
    _no_repeats(task_keys, "tasks", "task", path, root)
    _no_repeats([(t.model, repr(sorted(t.args.items())), i) for i, t in enumerate(spec.targets)],
                "targets", "target", path, root)
    targets = []
    for i, t in enumerate(spec.targets):
        targets.append(Target(t.model, dict(t.args), t.generation.changes()))
        for task in tasks:  # the settings a run would use, refused here with the line
            _configured(task, {**spec.generation.changes(), **t.generation.changes()},
                        f"{path}:{_line(root, ('targets', i))}: field 'targets[{i}]'")
    return LoadedSuite(path, spec.name or path.stem, tasks, targets, templates,
                       spec.generation.changes(), spec.limit, spec.epochs)


def _no_repeats(keys: list[tuple[str, str, int]], field: str, what: str, path: Path,
                root: yaml.Node | None) -> None:
    """The same task (or target) twice would make two runs that no ranking can tell apart.

    ``keys`` are ``(name, arguments, index of the entry in field)``."""
    seen: set[tuple[str, str]] = set()
    for name, args, index in keys:
        if (name, args) in seen:
            raise ConfigError(
                f"{path}:{_line(root, (field, index))}: field '{field}[{index}]': the {what} "
                f"{name!r} is listed twice with the same arguments. Expected each {what} "
                f"once; remove the repeat."
            )
        seen.add((name, args))


def _resolve(entry: TaskEntry, base: Path, where: str,
             optional_args: dict[str, Any] | None) -> list[Task]:
    from evalstack.runner.resolve import TASK_SUFFIXES, resolve_task

    spec = entry.task
    path_part, at, which = spec.partition("@")
    path = Path(path_part)
    if path.suffix.lower() in TASK_SUFFIXES and not path.is_absolute():
        spec = str(base / path) + at + which
    fields = FieldMap(input=entry.input_field, target=entry.target_field, id=entry.id_field)
    try:
        found = resolve_task(spec, fields=fields, scorers=entry.scorers, task_args=entry.args,
                             optional_args=optional_args)
    except EvalstackError as exc:
        exc.args = (f"{where} ({entry.task!r}): {exc}",)
        raise
    for task in found:
        if SUITE_ARG in task.args:
            raise ConfigError(f"{where}: task {task.name!r} has an argument named "
                              f"{SUITE_ARG!r}, the name suite runs are labelled with; rename "
                              f"the task's argument to run it in a suite.")
    return found


def _template(name: str, entry: TemplateEntry | None, base: Path, where: str) -> Template:
    if entry is None:
        return Template(name, None)
    text = entry.text
    if entry.file is not None:
        file = Path(entry.file)
        full = file if file.is_absolute() else base / file
        try:
            text = full.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(
                f"{where}: field 'templates.{name}.file': cannot read {full} ({reason}). "
                f"Expected a UTF-8 text file holding the template, relative to the suite's "
                f"folder ({base.resolve()})."
            ) from None
        text = text.removesuffix("\n")
    return Template(name, text, entry.system)


def _check(template: Template, task: Task, where: str) -> None:
    """The template must use a field, and only fields the task's samples have."""
    if template.text is None:
        return
    sample = next(iter(task.dataset), None)
    fields = sample_fields(sample) if sample is not None else None
    source = f"{where}: field 'templates.{template.name}'"
    names = check_template(template.text, source=source, fields=fields, require_field=True)
    missing = [n for n in names if fields is not None and n not in fields]
    if missing and sample is not None:
        raise ConfigError(
            f"{source} uses {{{missing[0]}}}, but the samples of task {task.name!r} have no "
            f"such field (first sample {sample.id!r}). Available fields: "
            f"{', '.join(fields or [])}. Fix the placeholder, e.g. {{input}}."
        )
    _with_template(task, template, source)


def _configured(task: Task, changes: dict[str, Any], where: str) -> Task:
    if not changes:
        return task
    try:
        return dataclasses.replace(task, config=dataclasses.replace(task.config, **changes))
    except ConfigError as exc:
        raise ConfigError(f"{where}: field 'generation': {exc}") from None


_SOLVERS: dict[str, Any] = {"generate": generate, "multiple_choice": multiple_choice}


def _with_template(task: Task, template: Template, where: str) -> Task:
    """``task`` with its solver rebuilt around ``template`` (the solver's other arguments
    kept: few-shot examples, system message, method)."""
    if template.text is None:
        return task
    spec = task.solver.spec
    factory = _SOLVERS.get(spec.name)
    if factory is None:
        raise ConfigError(
            f"{where}: task {task.name!r} uses the solver {spec.name!r}, which takes no prompt "
            f"template; templates apply to tasks solved by generate or multiple_choice (eval "
            f"files, .jsonl/.csv files, most built-in tasks). Run this task in a suite "
            f"without templates."
        )
    args = dict(spec.args)
    args["template"] = template.text
    if spec.name == "multiple_choice":
        args.pop("generate_template", None)  # the suite's template is the prompt either way
        if template.system is not None:
            raise ConfigError(
                f"{where}: field 'system' is set, but task {task.name!r} is multiple choice, "
                f"which sends no system message. Remove 'system' or put it in the template."
            )
    elif template.system is not None:
        args["system"] = template.system
    solver = factory(**args)
    return dataclasses.replace(task, solver=solver)


def suite_task(task: Task, suite: str, template: Template, generation: dict[str, Any]) -> Task:
    """The task one cell of the matrix runs: its template, settings and suite label."""
    labelled = dataclasses.replace(
        _configured(task, generation, f"suite {suite!r}"),
        args={**task.args, SUITE_ARG: {"name": suite, "template": template.name}},
    )
    inner = labelled.for_model
    if inner is None:
        return _with_template(labelled, template, f"suite {suite!r}")

    def adapted(t: Task, capabilities: Any) -> Task:  # the model's form, then the template
        return _with_template(inner(t, capabilities), template, f"suite {suite!r}")

    return dataclasses.replace(labelled, for_model=adapted)


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteRun:
    """One cell of the matrix and its result."""

    task: str
    target: str
    template: str
    result: TaskResult


def run_suite(suite: LoadedSuite, run: RunConfig) -> list[SuiteRun]:
    """Run every task x target x template, each as its own stored run, target by target.

    ``run.limit`` and ``run.epochs`` (the command line) win over the suite's own.
    """
    from evalstack.runner.evaluate import evaluate

    updates = {k: getattr(suite, k) for k in ("limit", "epochs")
               if getattr(run, k) is None and getattr(suite, k) is not None}
    run = run.model_copy(update=updates) if updates else run
    out: list[SuiteRun] = []
    for target in suite.targets:
        generation = {**suite.generation, **target.generation}
        cells = [(task, tpl) for task in suite.tasks for tpl in suite.templates]
        tasks = [suite_task(task, suite.name, tpl, generation) for task, tpl in cells]
        result = evaluate(tasks, [target.model], run, model_args=dict(target.args))
        for (task, tpl), res in zip(cells, result.tasks, strict=True):
            out.append(SuiteRun(task.name, target.label, tpl.name, res))
    return out


# --- finding a suite's runs ------------------------------------------------------------------


def suite_label(run: RunRecord) -> tuple[str, str] | None:
    """``(suite name, template name)`` of a suite run, else ``None``."""
    label = (run.task_spec.get("args") or {}).get(SUITE_ARG)
    if isinstance(label, dict) and isinstance(label.get("name"), str):
        return label["name"], str(label.get("template") or OWN_PROMPT)
    return None


def suite_runs(store: Any, name: str) -> list[RunRecord]:
    """The newest completed run of each task x target x template of suite ``name``.

    Raises:
        ConfigError: no completed run carries that suite name (the message lists the suites
            the store knows).
    """
    newest: dict[tuple[str, str, str, str], RunRecord] = {}
    known: set[str] = set()
    for run in store.list_runs(limit=None, status="completed"):  # newest first
        label = suite_label(run)
        if label is None:
            continue
        known.add(label[0])
        if label[0] == name:
            key = (run.task_name, run.model, repr(sorted(run.model_args.items())), label[1])
            newest.setdefault(key, run)
    if not newest:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(sorted(known)) or "none"
        raise ConfigError(
            f"No completed run of suite {name!r} in the store.{hint} Suites with completed "
            f"runs: {listing}. Run it first with: evalstack run SUITE.yaml"
        )
    return sorted(newest.values(), key=lambda r: r.id)


def by_target(runs: Sequence[RunRecord]) -> dict[str, dict[str, list[RunRecord]]]:
    """Suite runs grouped by target (model and arguments), then by template.

    Raises:
        ConfigError: a run carries no suite label.
    """
    out: dict[str, dict[str, list[RunRecord]]] = {}
    for run in runs:
        label = suite_label(run)
        if label is None:
            raise ConfigError(
                f"Run {run.id} ({run.task_name} on {run.model}) is not a suite run, so it has "
                f"no template to choose. Pass only runs made by `evalstack run SUITE.yaml`, or "
                f"use --suite NAME."
            )
        target = Target(run.model, run.model_args, {}).label
        out.setdefault(target, {}).setdefault(label[1], []).append(run)
    return out
