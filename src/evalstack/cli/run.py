"""``evalstack run``: run tasks on models, print the results, store everything."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli.options import FiniteFloat, IntAtLeast, build_run_config, run_config_options
from evalstack.core.types import MAX_TEMPERATURE

if TYPE_CHECKING:
    from evalstack.runner.config import RunConfig

DEFAULT_MODEL = "local/smollm2"


_YOUNG_GENERATION = 20_000


@click.command("run")
@click.argument("tasks", nargs=-1, required=True, metavar="TASK...")
@click.option("-m", "--model", "models", multiple=True, metavar="PROVIDER/MODEL",
              help="Model(s) to evaluate, e.g. local/smollm2, openai/gpt-4o-mini, "
                   "anthropic/claude-3-5-haiku-latest, python/mymod:fn, mock/echo. "
                   f"[default: $EVALSTACK_MODEL or {DEFAULT_MODEL}]")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the model(s), e.g. -M base_url=http://127.0.0.1:8000/v1 "
                   "-M api=completions. API keys come from the environment and are never stored.")
@click.option("-T", "--task-arg", "task_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the task(s), e.g. -T subtask=boolean_expressions -T fewshot=3.")
@click.option("-s", "--scorer", "scorers", multiple=True, metavar="NAME[:K=V,...]",
              help="Scorer(s) replacing the task's, e.g. exact_match, f1, "
                   "'numeric:tolerance=0.01'.")
@click.option("--max-tokens", type=IntAtLeast(1), default=None,
              help="Override the task's max tokens (an integer >= 1).")
@click.option("--temperature", type=FiniteFloat(0, MAX_TEMPERATURE), default=None,
              help=f"Override the task's temperature (0 to {MAX_TEMPERATURE:g}; 0 is greedy).")
@click.option("--input-field", default="input", show_default=True,
              help="Field holding the input, for a bare JSONL/CSV task.")
@click.option("--target-field", default="target", show_default=True,
              help="Field holding the expected answer, for a bare JSONL/CSV task.")
@click.option("--id-field", default="id", show_default=True, help="Field holding the sample id.")
@run_config_options
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report to this file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (schema: docs/results-schema.md) instead of tables.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--unsafe-no-sandbox", is_flag=True,
              help="DANGEROUS: run model-written code (humaneval, mbpp) without the bubblewrap "
                   "sandbox, with only time and memory limits. For machines without bwrap.")
def run_command(tasks: tuple[str, ...], models: tuple[str, ...], model_args: tuple[str, ...],
                task_args: tuple[str, ...], scorers: tuple[str, ...], max_tokens: int | None,
                temperature: float | None,
                input_field: str, target_field: str, id_field: str, report_path: str | None,
                as_json: bool, no_progress: bool, unsafe_no_sandbox: bool,
                **flags: Any) -> None:
    """Run TASK(s) on the model(s); results are stored and printed with 95% intervals.

    \b
    TASK is one of:
      a built-in name         mmlu, gsm8k, demo_unit, ... (see `evalstack list tasks`)
      a Python file           tasks.py (every @task) or tasks.py@name
      an eval file            my_eval.yaml (dataset + template + scorers)
      a JSONL or CSV file     cases.jsonl with "input" and "target" fields
      a suite file            suite.yaml: tasks x targets x prompt templates (docs/matrix.md),
                              given alone; its runs are ranked by `evalstack select --suite`

    \b
    Examples:
      evalstack run demo_unit demo_mmlu --model local/smollm2
      evalstack run cases.jsonl -m openai/my-model -M base_url=http://127.0.0.1:8000/v1 --json
      evalstack run cases.jsonl -m mock/echo --scorer f1 --limit 100 --epochs 3

    Running the same command again resumes an unfinished run without repeating stored
    samples. Exit codes: 0 ok, 2 bad option or name, 3 bad data, 4 empty dataset,
    5 missing extra, 6 error budget exceeded, 130 interrupted.
    """
    from evalstack.datasets.record import FieldMap
    from evalstack.runner.evaluate import evaluate
    from evalstack.runner.resolve import parse_kv, resolve_task

    # A run allocates many short-lived objects and keeps few, so CPython's default young
    # generation (700 objects) means ~400 collections per 10,000 samples, about 3% of a fast
    # run's CPU (bench/README.md); at 20,000 it is a handful, with the same peak memory. This
    # process is ours, so the setting is made here and not in evaluate(), a library call.
    gc.set_threshold(_YOUNG_GENERATION, *gc.get_threshold()[1:])
    show_progress = not no_progress and sys.stderr.isatty()
    run = build_run_config(flags, progress=show_progress)
    suite = _suite_file(tasks)
    if suite is not None:
        _refuse_with_suite(suite, models=models, model_args=model_args, task_args=task_args,
                           scorers=scorers, max_tokens=max_tokens, temperature=temperature,
                           fields=(input_field, target_field, id_field) != ("input", "target",
                                                                            "id"))
        _run_suite(suite, run, unsafe_no_sandbox, report_path, as_json)
        return
    fields = FieldMap(input=input_field, target=target_field, id=id_field)
    targs = parse_kv(task_args, "--task-arg")
    loaded = []
    for spec in tasks:
        loaded.extend(resolve_task(
            spec, fields=fields, scorers=scorers, task_args=targs,
            optional_args={"unsafe_no_sandbox": True} if unsafe_no_sandbox else None,
        ))
    changes: dict[str, Any] = {}
    if max_tokens is not None:
        changes["max_tokens"] = max_tokens
    if temperature is not None:
        changes["temperature"] = temperature
    if changes:
        loaded = [dataclasses.replace(t, config=dataclasses.replace(t.config, **changes))
                  for t in loaded]
    chosen = _unique_models(models) or [os.environ.get("EVALSTACK_MODEL", DEFAULT_MODEL)]
    args = parse_kv(model_args, "--model-arg")
    result = evaluate(loaded, chosen, run, model_args=args)

    if report_path:
        from evalstack.store import Store
        from evalstack.web.report import write_report

        store = Store.open(run.store)
        try:
            write_report(store, [t.run_id for t in result.tasks], report_path)
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps(result.to_json_dict()))
        return
    from evalstack.cli.render import print_result

    print_result(result)
    _print_jury_agreement(loaded, result, run.store)
    if report_path:
        from evalstack.cli.safe import echo

        echo(f"Report written to {report_path}")


def _suite_file(tasks: tuple[str, ...]) -> Path | None:
    """The suite file among TASKs (``docs/matrix.md``), if any; a suite must be alone."""
    from evalstack.runner.matrix import is_suite_file

    suites = [t for t in tasks if is_suite_file(Path(t))]
    if not suites:
        return None
    if len(tasks) > 1:
        from evalstack.core.errors import ConfigError

        others = ", ".join(t for t in tasks if t != suites[0])
        raise ConfigError(
            f"{suites[0]} is a suite file, which lists its own tasks and targets, so it must be "
            f"the only TASK; received also {others}. Add them to the suite's `tasks`, or run "
            f"them separately."
        )
    return Path(suites[0])


def _refuse_with_suite(path: Path, **given: Any) -> None:
    """Options a suite sets in its file are refused on the command line, not ignored."""
    keys = {"models": ("-m/--model", "targets"), "model_args": ("-M/--model-arg", "targets"),
            "task_args": ("-T/--task-arg", "tasks[].args"), "scorers": ("-s/--scorer",
            "tasks[].scorers"), "max_tokens": ("--max-tokens", "generation.max_tokens"),
            "temperature": ("--temperature", "generation.temperature"),
            "fields": ("--input-field/--target-field/--id-field", "tasks[].input_field")}
    for name, (flag, field) in keys.items():
        value = given[name]  # --temperature 0 is given, though falsy
        if value is not None and value is not False and value != ():
            from evalstack.core.errors import ConfigError

            raise ConfigError(
                f"{flag} was given with the suite file {path}, which sets it in the file: put "
                f"it under `{field}` there instead (the run options, such as --limit and "
                f"--store, do apply to a suite)."
            )


def _run_suite(path: Path, run: RunConfig, unsafe_no_sandbox: bool, report_path: str | None,
               as_json: bool) -> None:
    from evalstack.cli.safe import echo
    from evalstack.runner.matrix import load_suite, run_suite

    suite = load_suite(path, optional_args={"unsafe_no_sandbox": True}
                       if unsafe_no_sandbox else None)
    cells = run_suite(suite, run)
    if report_path:
        from evalstack.store import Store
        from evalstack.web.report import write_report

        store = Store.open(run.store)
        try:
            write_report(store, [c.result.run_id for c in cells], report_path)
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps({"suite": suite.name, "runs": [
            {"task": c.task, "target": c.target, "template": c.template,
             **c.result.model_dump(mode="json")} for c in cells]}))
        return
    from evalstack.cli._decide import Rows
    from evalstack.cli.render import make_console

    rows = Rows(f"Suite {suite.name}: {len(cells)} runs (95% intervals)",
                ["task", "target", "template", "status", "n", "metric", "score [95% CI]",
                 "run id"], right=(4, 6))
    for c in cells:
        name, value = next(iter(c.result.metrics.items()), ("-", None))
        shown = "-" if value is None or value.estimate is None else (
            f"{value.estimate:.3f} [{value.ci_low:.3f}, {value.ci_high:.3f}]")
        rows.add(c.task, c.target, c.template, c.result.status, c.result.samples, name, shown,
                 c.result.run_id)
    rows.print("table", make_console())
    import shlex

    # a URL may hold a password: it is not repeated on the terminal
    store_flag = ("" if not run.store else " --store ..." if "://" in run.store
                  else f" --store {shlex.quote(run.store)}")
    echo(f"Choose among the templates with: evalstack select --suite {suite.name}{store_flag}"
         f" (add --by category for one ranking per category)")


def _unique_models(models: tuple[str, ...]) -> list[str]:
    """The models in order, each once; a note on stderr names each duplicate dropped."""
    unique = list(dict.fromkeys(models))
    if len(unique) < len(models):
        from collections import Counter

        from evalstack.cli.safe import echo

        for spec, times in Counter(models).items():
            if times > 1:
                echo(f"note: -m {spec} was given {times} times; it is evaluated once.", err=True)
    return unique


def _print_jury_agreement(tasks: Any, result: Any, store_url: str | None) -> None:
    """Every jury run reports how well its jurors agreed (as ``evalstack show`` does)."""
    if not any(s.spec.name == "llm_jury" for t in tasks for s in t.scorers):
        return
    from evalstack.analysis.judges import jury_agreement, jury_metrics
    from evalstack.cli.render import make_console
    from evalstack.cli.show import jury_notes, jury_table
    from evalstack.store import Store

    console = make_console()
    store = Store.open(store_url)
    try:
        for task in result.tasks:
            rows = list(store.iter_scores(task.run_id))
            for name in jury_metrics(rows):
                agreement = jury_agreement(rows, name)
                if agreement is None:
                    continue
                console.print(jury_table(agreement))
                for line in jury_notes(agreement):
                    console.print(line, highlight=False, markup=False, soft_wrap=True)
    finally:
        store.close()
