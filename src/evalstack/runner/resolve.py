"""From names on the command line to objects: tasks, models and scorers.

A TASK is a registered name, a Python file with ``@task`` functions (``file.py`` or
``file.py@name``), an eval file (``.yaml``), or a bare ``.jsonl``/``.csv`` dataset with
``input``/``target`` fields (scored by exact match unless ``--scorer`` says otherwise).
A MODEL is ``provider/model``. A SCORER is ``name`` or ``name:key=value,key=value`` (or
``name:{json}``).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from evalstack.core import registry
from evalstack.core.errors import ConfigError, UnknownNameError
from evalstack.core.provider import ModelProvider
from evalstack.core.scorer import Scorer
from evalstack.core.task import Task
from evalstack.datasets.files import load_dataset
from evalstack.datasets.record import FieldMap


def parse_value(text: str) -> Any:
    """A command-line value as YAML scalar: ``3`` → 3, ``true`` → True, ``a,b`` stays a string."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_kv(items: Sequence[str], what: str) -> dict[str, Any]:
    """``["k=v", ...]`` into a dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} must look like key=value; received {item!r}.")
        out[key.strip()] = parse_value(value)
    return out


def resolve_model(spec: str, args: dict[str, Any] | None = None) -> ModelProvider:
    """Build the provider for ``provider/model``."""
    prefix, sep, model = spec.partition("/")
    if not sep or not model:
        raise ConfigError(
            f"Model {spec!r} must be provider/model, e.g. local/smollm2, openai/gpt-4o-mini, "
            f"anthropic/claude-3-5-haiku-latest, mock/echo. Providers: "
            f"{', '.join(registry.names('provider'))}."
        )
    factory = registry.lookup("provider", prefix)
    return factory(model, **(args or {}))


def resolve_scorer(spec: str) -> Scorer:
    """Build a scorer from ``name`` or ``name:k=v,...`` or ``name:{json}``."""
    name, _, rest = spec.partition(":")
    factory = registry.lookup("scorer", name.strip())
    kwargs: dict[str, Any] = {}
    rest = rest.strip()
    if rest.startswith("{"):
        try:
            kwargs = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Scorer {spec!r}: arguments are not valid JSON ({exc}).") from None
    elif rest:
        kwargs = parse_kv(rest.split(","), f"Scorer {name} arguments")
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"Scorer {spec!r}: {exc}.") from None


def _tasks_in_file(path: Path, which: str | None, task_args: dict[str, Any]) -> list[Task]:
    mod_name = f"evalstack_tasks_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot load tasks from {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    found = {n: f for n, f in vars(module).items() if getattr(f, "is_evalstack_task", False)}
    if not found:
        raise ConfigError(f"{path} defines no @task function.")
    if which is not None:
        if which not in found:
            raise UnknownNameError("task", which, list(found))
        return [found[which](**task_args)]
    return [f(**task_args) for f in found.values()]


def resolve_task(spec: str, *, fields: FieldMap = FieldMap(), scorers: Sequence[str] = (),
                 task_args: dict[str, Any] | None = None,
                 optional_args: dict[str, Any] | None = None) -> list[Task]:
    """The task(s) named by ``spec`` (see the module docstring).

    ``task_args`` go to the task factory (an unknown name is an error); ``optional_args`` go
    only to factories that take them (``unsafe_no_sandbox`` for the code benchmarks).
    """
    from evalstack.runner.evalfile import load_eval_file
    from evalstack.scorers.match import exact_match
    from evalstack.solvers.generate import generate

    path_part, _, which = spec.partition("@")
    path = Path(path_part)
    suffix = path.suffix.lower()
    if suffix in (".py", ".yaml", ".yml", ".jsonl", ".ndjson", ".csv") or path.exists():
        if not path.exists():
            raise ConfigError(f"Task file not found: {path}.")
        if suffix == ".py":
            tasks = _tasks_in_file(path, which or None, task_args or {})
        elif suffix in (".yaml", ".yml"):
            tasks = [load_eval_file(path)]
        else:
            dataset = load_dataset(path, fields=fields)
            task = Task(dataset.name, dataset, generate(), [exact_match()],
                        args={"path": str(path)})
            tasks = [task]
    else:
        factory = registry.lookup("task", spec)
        accepted = inspect.signature(factory).parameters
        kwargs = dict(task_args or {})
        kwargs.update({k: v for k, v in (optional_args or {}).items() if k in accepted})
        try:
            tasks = [factory(**kwargs)]
        except TypeError as exc:
            raise ConfigError(f"Task {spec!r}: {exc}. Check the -T/--task-arg names.") from None
    if scorers:
        built = [resolve_scorer(s) for s in scorers]
        for t in tasks:
            t.scorers = built
    return tasks
