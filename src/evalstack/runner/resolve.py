"""From names on the command line to objects: tasks, models and scorers.

A TASK is a registered name, a Python file with ``@task`` functions (``file.py`` or
``file.py@name``), an eval file (``.yaml``), or a bare ``.jsonl``/``.csv`` dataset with
``input``/``target`` fields (scored by exact match unless ``--scorer`` says otherwise).
A MODEL is ``provider/model``. A SCORER is ``name`` or ``name:key=value,key=value`` (or
``name:{json}``).

A task file the user wrote is configuration: a syntax error in it, an import that fails, or
any exception raised while it runs is a ``ConfigError`` (exit 2) giving the file, the line and
the exception's one-line message, never a traceback.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from evalstack.core import registry
from evalstack.core.errors import ConfigError, EvalstackError, UnknownNameError
from evalstack.core.task import Task
from evalstack.datasets.files import directory_message, load_dataset
from evalstack.datasets.record import FieldMap
from evalstack.runner.evalfile import load_eval_file
from evalstack.runner.specs import parse_kv, parse_value, resolve_scorer

__all__ = ["TASK_SUFFIXES", "parse_kv", "parse_value", "resolve_scorer", "resolve_task"]

TASK_SUFFIXES = (".py", ".yaml", ".yml", ".jsonl", ".ndjson", ".csv")


def _user_frame(tb: TracebackType | None, path: Path) -> int | None:
    """The line of the innermost traceback frame that runs ``path``, if any."""
    line = None
    target = str(path.resolve())
    while tb is not None:
        if str(Path(tb.tb_frame.f_code.co_filename).resolve()) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _innermost(tb: TracebackType | None) -> tuple[str, int] | None:
    last = None
    while tb is not None:
        last = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return last


def _task_file_error(path: Path, exc: BaseException, doing: str) -> ConfigError:
    """A one-line ``file:line: Error: message`` for an exception raised by a task file."""
    if isinstance(exc, SyntaxError):
        same = not exc.filename or Path(exc.filename).resolve() == path.resolve()
        where = f"{path if same else exc.filename}:{exc.lineno or '?'}"
        if exc.offset:
            where += f":{exc.offset}"
        code = (exc.text or "").strip()
        shown = f" ({code!r})" if code else ""
        via = ""
        if not same:
            at = _user_frame(exc.__traceback__, path)
            via = f" It is imported by {path}{f':{at}' if at else ''}."
        return ConfigError(
            f"{where}: {type(exc).__name__}: {exc.msg}{shown}.{via} Fix the Python syntax "
            f"there; no task was loaded and no model request was made."
        )
    line = _user_frame(exc.__traceback__, path)
    where = f"{path}:{line}" if line else str(path)
    inner = _innermost(exc.__traceback__)
    raised = ""
    if inner and Path(inner[0]).resolve() != path.resolve():
        raised = f" (raised in {inner[0]}:{inner[1]})"
    message = str(exc).splitlines()[0] if str(exc) else ""
    hint = ""
    if isinstance(exc, ModuleNotFoundError):
        hint = (f" Install the module {exc.name!r} in the environment evalstack runs in "
                f"({sys.executable}), or fix the import.")
    elif isinstance(exc, ImportError):
        hint = " Check the import: the module exists but does not provide that name."
    return ConfigError(
        f"{where}: {type(exc).__name__}: {message}{raised}, while {doing}.{hint} No task was "
        f"loaded and no model request was made."
    )


def _tasks_in_file(path: Path, which: str | None, task_args: dict[str, Any]) -> list[Task]:
    """The ``@task`` functions of a Python file, called with ``task_args``.

    A syntax error, a failing import or any exception raised while the file runs (or while
    a task function builds its task) is a ``ConfigError`` (exit 2) naming the file, the line
    and the exception's message, not a traceback: the task file is the user's configuration.
    evalstack's own errors (a missing dataset, say) pass through as they are.
    """
    module = _import_task_file(path)
    found = {n: f for n, f in vars(module).items() if getattr(f, "is_evalstack_task", False)}
    if not found:
        raise ConfigError(f"{path} defines no @task function.")
    if which is not None and which not in found:
        raise UnknownNameError("task", which, list(found))
    chosen = found if which is None else {which: found[which]}
    return [_build_task(path, name, factory, task_args) for name, factory in chosen.items()]


def _import_task_file(path: Path) -> ModuleType:
    """Run a task file as a module of its own (its folder importable while it runs)."""
    mod_name = f"evalstack_tasks_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot load tasks from {path}: expected a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except EvalstackError:
        sys.modules.pop(mod_name, None)
        raise
    except Exception as exc:  # the user's code may raise anything; report it in one line
        sys.modules.pop(mod_name, None)
        raise _task_file_error(path, exc, f"importing {path}") from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _build_task(path: Path, name: str, factory: Callable[..., Task],
                task_args: dict[str, Any]) -> Task:
    """Call one ``@task`` function, its arguments checked against its signature first."""
    try:
        inspect.signature(factory).bind(**task_args)
    except TypeError as exc:
        raise ConfigError(
            f"{path}: task {name!r}: {exc}. Check the -T/--task-arg names."
        ) from None
    except ValueError:  # no signature to check; the call below will say
        pass
    try:
        return factory(**task_args)
    except EvalstackError:
        raise
    except Exception as exc:
        raise _task_file_error(path, exc, f"building task {name!r}") from None


def resolve_task(spec: str, *, fields: FieldMap = FieldMap(), scorers: Sequence[str] = (),
                 task_args: dict[str, Any] | None = None,
                 optional_args: dict[str, Any] | None = None) -> list[Task]:
    """The task(s) named by ``spec`` (see the module docstring).

    ``task_args`` go to the task factory (an unknown name is an error); ``optional_args`` go
    only to factories that take them (``unsafe_no_sandbox`` for the code benchmarks).
    """
    from evalstack.scorers.match import exact_match
    from evalstack.solvers.generate import generate

    path_part, _, which = spec.partition("@")
    path = Path(path_part)
    suffix = path.suffix.lower()
    if suffix in TASK_SUFFIXES or path.exists():
        if path.is_dir():
            raise ConfigError(directory_message(
                path, "a task: a registered name (see evalstack list), a .py task file, a "
                ".yaml eval file or a .jsonl/.csv dataset", TASK_SUFFIXES))
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
        tasks = [dataclasses.replace(t, scorers=built) for t in tasks]
    return tasks
