"""``evalstack list``: the built-in tasks, scorers, providers and model specs.

Every entry shows the first line of its docstring and its version: a task's
``@task(version=...)``; for a scorer or provider, the component's own ``version`` when it has
one, else the version of the package that ships it. A task also shows the data files it reads
with its default arguments (mirror path, package, hub id, licence) and whether each is here.
That check is the lookup a run makes offline, ``locate(source, download=False)``: a few file
stats and a package search that imports nothing. No data file is read and the network is
never used, so a ``no`` means a run would have to download the file.

Names come from the lazy registry, plugins included. Listing imports the component modules,
which is cheap: providers import their SDKs, torch and llama.cpp only when a model is built.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click

SECTIONS = ("tasks", "scorers", "providers", "models")
_KINDS = {"tasks": "task", "scorers": "scorer", "providers": "provider"}

#: The data each built-in benchmark reads with its default arguments, as ``(attribute of the
#: task's module, role, needed by default)``. The attribute is a ``DataSource``, or a function
#: of one subtask name returning one, applied to every name in the module's ``TASKS``.
TASK_DATA: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "mmlu": (("TEST", "test", True), ("DEV", "few-shot, -T fewshot=N", False)),
    "gsm8k": (("TEST", "test", True), ("TRAIN", "few-shot", True)),
    "math": (("SOURCE", "test", True),),
    "gpqa": (("DIAMOND", "test", True),),
    "humaneval": (("SOURCE", "test", True),),
    "mbpp": (("TEST_SOURCE", "test", True), ("PROMPT_SOURCE", "few-shot", True)),
    "arc_easy": (("EASY", "test", True),),
    "arc_challenge": (("CHALLENGE", "test", True),),
    "hellaswag": (("VALIDATION", "validation", True),),
    "truthfulqa_mc1": (("MC", "questions", True), ("CATEGORIES", "categories", False)),
    "truthfulqa_mc2": (("MC", "questions", True), ("CATEGORIES", "categories", False)),
    "bbh": (("data_source", "items", True), ("prompt_source", "3-shot CoT prompts", True)),
    "mt_bench": (("QUESTIONS", "questions", True), ("REFERENCES", "reference answers", True)),
    "vicuna_bench": (("VICUNA_QUESTIONS", "questions", True),),
    "guardrail": (("HARMBENCH", "harmful", True),
                  ("ADVBENCH", "harmful, -T harmful=harmbench,advbench", False),
                  ("MT_BENCH", "benign", True), ("VICUNA_BENCH", "benign", True)),
    "summarization": (("DOCUMENTS", "articles", True), ("REFERENCES", "gold summaries", True)),
    "rag_counterfactual": (("SOURCE", "questions and passages", True),),
    "injection_direct": (("HIJACKING", "hijacking attacks", True),
                         ("EXTRACTION", "extraction attacks", True)),
    "injection_indirect": (("EMAIL", "email contexts", True), ("TABLE", "table contexts", True),
                           ("CODE", "code contexts", True), ("TEXT_ATTACKS", "text attacks", True),
                           ("CODE_ATTACKS", "code attacks", True)),
    "contradiction": (("SOURCE", "questions and passages", True),),
}

#: The files some tasks ship in ``evalstack/data`` (path below it), and their licences.
BUNDLED: dict[str, tuple[str, str]] = {
    "demo_unit": ("demo/bbh_unit.jsonl",
                  "MIT (BIG-Bench Hard; task data from BIG-bench, Apache-2.0)"),
    "demo_mmlu": ("demo/mmlu_subset.jsonl", "MIT (MMLU)"),
    "ambiguity": ("adversarial/ambiguity.jsonl", "CC0-1.0 (written for evalstack)"),
    "over_refusal": ("adversarial/over_refusal.jsonl", "CC0-1.0 (written for evalstack)"),
}


@dataclass(frozen=True)
class ModelForm:
    """How to name a model of one provider, with examples and what it needs installed."""

    spec: str
    what: str
    examples: tuple[str, ...]
    extra: str | None = None
    needs: tuple[str, ...] = ()


#: Model specs by provider prefix; ``local`` and ``mock`` add their aliases and modes.
MODEL_FORMS: dict[str, ModelForm] = {
    "local": ModelForm("local/<alias>", "a model shipped in a Python package, on llama.cpp",
                       (), "local", ("llama_cpp",)),
    "llamacpp": ModelForm("llamacpp/<path.gguf>", "any GGUF model file, on llama.cpp",
                          ("llamacpp/models/model.Q4_K_M.gguf",), "local", ("llama_cpp",)),
    "transformers": ModelForm(
        "transformers/<path or hub id>", "a Hugging Face causal LM, with PyTorch",
        ("transformers/HuggingFaceTB/SmolLM2-135M-Instruct",), "transformers",
        ("transformers", "torch")),
    "openai": ModelForm(
        "openai/<model>", "any OpenAI-compatible server (OPENAI_BASE_URL or -M base_url=...)",
        ("openai/gpt-4o-mini", "openai/my-model -M base_url=http://127.0.0.1:8000/v1")),
    "anthropic": ModelForm("anthropic/<model>", "Anthropic's Messages API (ANTHROPIC_API_KEY)",
                           ("anthropic/claude-3-5-haiku-latest",), "anthropic", ("anthropic",)),
    "python": ModelForm("python/<module or file.py>:<function>",
                        "your own pipeline, a sync or async function",
                        ("python/examples/my_pipeline.py:answer",)),
    "mock": ModelForm("mock/<mode>", "scripted outputs, latency, errors and 429s, no network",
                      ()),
    "http": ModelForm("http/<url>", "your own HTTP app (a RAG pipeline, an agent), read with "
                      "JSON paths", ("http/http://127.0.0.1:8000/ask -M answer=answer",)),
    "guardrail": ModelForm("guardrail/keyword", "a keyword guardrail that blocks or allows",
                           ("guardrail/keyword",)),
    "refusal": ModelForm("refusal/<provider/model>",
                         "a model as guardrail: its refusals (pattern, optional judge) block",
                         ("refusal/local/smollm2",)),
}


@dataclass(frozen=True)
class DataFile:
    """One data file a task reads: where it may come from, and whether it is here.

    ``files`` counts the files of a per-subtask source (BBH's 27); ``found`` how many are
    here, and ``where`` where they were found (``mirror``, ``package``, ``cache``, ``bundled``).
    """

    role: str
    needed: bool
    mirror: str | None
    package: str | None
    url: str | None
    hub: str | None
    licence: str
    files: int
    found: int
    where: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One registered task, scorer or provider.

    ``available`` (tasks only) is whether every file needed by default is here; ``None`` when
    the task does not say what it reads. ``error`` says why the component did not import.
    """

    name: str
    description: str
    version: str | None
    target: str
    data: tuple[DataFile, ...] = ()
    available: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """The model specs of one provider prefix, and whether what they need is installed."""

    prefix: str
    spec: str
    description: str
    examples: tuple[str, ...]
    extra: str | None
    installed: bool


def summary(doc: str | None) -> str:
    """The first line of a docstring, with reST double backticks made single.

    Examples:
        >>> summary("MMLU in ``lm-eval``'s format; see the module docstring.\\n\\nMore.")
        "MMLU in `lm-eval`'s format."
    """
    lines = (doc or "").strip().splitlines()
    first = lines[0] if lines else ""
    first = re.sub(r"[;,]? \(?(see )?the module docstring( for the specs)?\)?", "", first)
    first = first.replace(" (module docstring)", "")
    return first.replace("``", "`")


def _dist_version(module: str) -> str | None:
    """The version of the installed distribution that ships the top-level ``module``."""
    top = module.partition(".")[0]
    dists = ["evalstack"] if top == "evalstack" else \
        importlib.metadata.packages_distributions().get(top, [])
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _task_version(factory: Any) -> str | None:
    version = getattr(factory, "version", None)  # set by @task(version=...)
    return None if version is None else str(version)


def _where_found(source: Any) -> str | None:
    """Where a run would find ``source`` offline, or ``None`` (see the module docstring)."""
    from evalstack.core.errors import DataError
    from evalstack.datasets.sources import ENV_DATA_DIR, locate

    try:
        path = locate(source, download=False)
    except DataError:
        return None
    mirror_root = os.environ.get(ENV_DATA_DIR)
    if mirror_root and path == Path(mirror_root) / source.mirror:
        return "mirror"
    if path in (source.cache_path(), source.hub_cache_path()):
        return "cache"
    return "package"


def _hub(source: Any) -> str | None:
    if not source.hub:
        return None
    return f"{source.hub} ({source.hub_config or 'default'}, {source.hub_split})"


def _data_file(attr: Any, role: str, needed: bool, subtasks: tuple[str, ...]) -> DataFile:
    if callable(attr):  # one source per subtask
        sources = [attr(name) for name in subtasks]
        shown = attr("<subtask>")
    else:
        sources = [attr]
        shown = attr
    where = [_where_found(s) for s in sources]
    return DataFile(
        role=role, needed=needed, mirror=shown.mirror,
        package=":".join(shown.package) if shown.package else None, url=shown.url,
        hub=_hub(shown), licence=shown.licence, files=len(sources),
        found=sum(w is not None for w in where),
        where=tuple(sorted({w for w in where if w is not None})),
    )


def _bundled_file(name: str) -> DataFile:
    filename, licence = BUNDLED[name]
    here = resources.files("evalstack").joinpath("data", *filename.split("/")).is_file()
    return DataFile(role="bundled", needed=True, mirror=None, package=f"evalstack:data/"
                    f"{filename}", url=None, hub=None, licence=licence, files=1,
                    found=int(here), where=("bundled",) if here else ())


def _task_data(name: str, module: Any) -> tuple[DataFile, ...] | None:
    from evalstack.datasets.sources import DataSource

    if name in BUNDLED:
        return (_bundled_file(name),)
    subtasks = tuple(getattr(module, "TASKS", ()))
    if name in TASK_DATA:
        return tuple(_data_file(getattr(module, attr), role, needed, subtasks)
                     for attr, role, needed in TASK_DATA[name])
    # A plugin task: every DataSource its module defines, if it defines any.
    found = [v for v in vars(module).values() if isinstance(v, DataSource)]
    return tuple(_data_file(s, s.name, True, ()) for s in found) or None


def _entry(kind: str, name: str) -> Entry:
    from evalstack.core import registry

    try:
        obj = registry.lookup(kind, name)
    except Exception as exc:  # a broken plugin must not hide the rest of the list
        return Entry(name, "", None, "", error=f"{type(exc).__name__}: {exc}")
    module_name = obj.__module__
    target = f"{module_name}:{obj.__qualname__}"
    if kind != "task":
        version = getattr(obj, "version", None)
        return Entry(name, summary(inspect.getdoc(obj)),
                     str(version) if version is not None else _dist_version(module_name),
                     target)
    data = _task_data(name, importlib.import_module(module_name))
    available = None if data is None else all(d.found == d.files for d in data if d.needed)
    return Entry(name, summary(inspect.getdoc(obj)), _task_version(obj), target, data or (),
                 available)


def entries(kind: str) -> list[Entry]:
    """Every registered name of ``kind`` (``task``, ``scorer``, ``provider``), described."""
    from evalstack.core import registry

    return [_entry(kind, name) for name in registry.names(kind)]


def _installed(modules: tuple[str, ...]) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def model_entries() -> list[ModelEntry]:
    """The model specs of every provider prefix, with examples."""
    from evalstack.core import registry

    out = []
    for prefix in registry.names("provider"):
        form = MODEL_FORMS.get(prefix)
        if form is None:  # a plugin provider
            doc = summary(inspect.getdoc(registry.lookup("provider", prefix)))
            form = ModelForm(f"{prefix}/<model>", doc, ())
        examples, needs = form.examples, form.needs
        if prefix == "local":
            from evalstack.providers.llamacpp import ALIASES

            examples = tuple(f"local/{alias}" for alias in ALIASES)
            needs = needs + tuple(package for package, _ in ALIASES.values())
        elif prefix == "mock":
            from evalstack.providers.mock import MODES

            examples = tuple(f"mock/{mode}" for mode in MODES)
        out.append(ModelEntry(prefix, form.spec, form.what, examples, form.extra,
                              _installed(needs)))
    return out


def _source_line(d: DataFile) -> str:
    if d.found == d.files:
        status = f"found: {', '.join(d.where)}"
    else:
        status = "not here" if d.found == 0 else f"{d.found} of {d.files} here"
    files = f", {d.files} files" if d.files > 1 else ""
    optional = "" if d.needed else "; optional"
    parts = [f"mirror {d.mirror}" if d.mirror else None,
             f"package {d.package}" if d.package else None,
             f"hub {d.hub}" if d.hub else None,
             d.licence or None]
    return f"{d.role}{files} ({status}{optional}): " + " · ".join(p for p in parts if p)


def _print_tables(chosen: list[str], data: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from evalstack.cli.render import make_console
    from evalstack.datasets.sources import ENV_DATA_DIR, cache_dir

    console = make_console()
    for section in chosen:
        rows = data[section]
        table = Table(title=f"{section.capitalize()} ({len(rows)})", title_justify="left")
        if section == "models":
            for col in ("spec", "what", "examples", "needs"):
                table.add_column(col, overflow="fold")
            for m in rows:
                needs = f"evalstack[{m.extra}]" if m.extra else "-"
                if m.extra:
                    needs += " (installed)" if m.installed else " (not installed)"
                table.add_row(*map(Text, (m.spec, m.description, "\n".join(m.examples),
                                          needs)))
        else:
            table.add_column(section[:-1], no_wrap=True)
            table.add_column("version", no_wrap=True)
            if section == "tasks":
                table.add_column("data here", no_wrap=True)
            table.add_column("description", overflow="fold", ratio=2)
            if section == "tasks":
                table.add_column("data files", overflow="fold", ratio=3)
            for e in rows:
                description = e.description if e.error is None else f"not loadable: {e.error}"
                cells = [e.name, e.version or "-"]
                if section == "tasks":
                    here = {True: "yes", False: "no", None: "?"}[e.available]
                    cells += [here, description, "\n".join(_source_line(d) for d in e.data)]
                else:
                    cells.append(description)
                table.add_row(*map(Text, cells))
        console.print(table)
        if section == "tasks":
            mirror = os.environ.get(ENV_DATA_DIR) or "not set"
            console.print(
                f"Data is looked up as a run does offline: the mirror ${ENV_DATA_DIR} "
                f"({mirror}), installed packages, then the cache ({cache_dir()}). A task "
                "whose data is not here downloads it on its first run (url or hub) unless "
                "HF_HUB_OFFLINE=1. Run one with: evalstack run NAME --model local/smollm2",
                markup=False, highlight=False,
            )


@click.command("list")
@click.argument("section", required=False, type=click.Choice(SECTIONS))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def list_command(section: str | None, as_json: bool) -> None:
    """List the built-in tasks, scorers, providers and model specs (all, or one SECTION).

    Tasks show their version, the data files they read (mirror path, package, hub id,
    licence) and whether the data is here, checked without reading it or using the network.

    \b
    Examples:
      evalstack list
      evalstack list tasks
      evalstack list models --json
    """
    chosen = [section] if section else list(SECTIONS)
    data: dict[str, Any] = {
        s: model_entries() if s == "models" else entries(_KINDS[s]) for s in chosen
    }
    if as_json:
        out: dict[str, Any] = {"schema_version": 1}
        out.update({s: [asdict(e) for e in rows] for s, rows in data.items()})
        click.echo(json.dumps(out))
        return
    _print_tables(chosen, data)
