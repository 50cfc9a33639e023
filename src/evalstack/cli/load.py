"""``evalstack load TARGET TASK``: throughput, latency, failures and quality as concurrency
rises, and the knee: the highest level that keeps the latency SLO and the quality."""

from __future__ import annotations

import json
from typing import Any

import click

from evalstack.cli.options import ALPHA, FiniteFloat, IntAtLeast
from evalstack.runner.load import DEFAULT_LEVELS

_SECONDS = FiniteFloat(0, low_open=True, what="a number of seconds", example="30")


@click.command("load")
@click.argument("target", metavar="TARGET")
@click.argument("task", metavar="TASK")
@click.option("--levels", default=DEFAULT_LEVELS, show_default=True,
              help="Concurrency levels (requests in flight), comma-separated integers >= 1; "
                   "sorted and deduplicated.")
@click.option("--samples", type=IntAtLeast(1), default=None,
              help="Samples per level: the task's first N [default: all].")
@click.option("--seconds", type=_SECONDS, default=None,
              help="Stop each level after this many seconds; unfinished samples are not "
                   "counted (the samples are not repeated).")
@click.option("--slo-ms", type=FiniteFloat(0, low_open=True, what="milliseconds",
                                           example="500"), default=None,
              help="The p95 latency a level must keep to be the knee [default: not checked].")
@click.option("--alpha", type=ALPHA, default=0.05, show_default=True,
              help="Significance level of the paired comparisons with the lowest level.")
@click.option("--metric", default=None, help="The score to compare (default: the task's first "
                                             "scorer).")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the model, e.g. -M base_url=http://127.0.0.1:8000/v1.")
@click.option("-T", "--task-arg", "task_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the task.")
@click.option("-s", "--scorer", "scorers", multiple=True, metavar="NAME[:K=V,...]",
              help="Scorer(s) replacing the task's, e.g. exact_match.")
@click.option("--input-field", default="input", show_default=True,
              help="Field holding the input, for a bare JSONL/CSV task.")
@click.option("--target-field", default="target", show_default=True,
              help="Field holding the expected answer, for a bare JSONL/CSV task.")
@click.option("--id-field", default="id", show_default=True, help="Field holding the sample id.")
@click.option("--timeout", type=_SECONDS, default=None,
              help="Seconds per request; a slower one counts as a timeout [default: 120].")
@click.option("--max-retries", type=IntAtLeast(0), default=0, show_default=True,
              help="Retries of a retryable error (0: every failure is counted as it is).")
@click.option("--retry-time", type=_SECONDS, default=None,
              help="Seconds one request may take in all, retries included [default: 300].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the permutation tests and bootstrap intervals.")
@click.option("--format", "fmt", type=click.Choice(("table", "markdown", "json")),
              default="table", show_default=True, help="Output: a table, Markdown or JSON.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path the load test is saved in [default: the user store].")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report with the charts to this file.")
def load_command(target: str, task: str, levels: str, samples: int | None,
                 seconds: float | None, slo_ms: float | None, alpha: float,
                 metric: str | None, model_args: tuple[str, ...], task_args: tuple[str, ...],
                 scorers: tuple[str, ...], input_field: str, target_field: str, id_field: str,
                 timeout: float | None, max_retries: int, retry_time: float | None, seed: int,
                 fmt: str, as_json: bool, store: str | None, report_path: str | None
                 ) -> None:
    """Send TASK's samples to TARGET at each concurrency level and find the knee.

    \b
    TARGET is a model spec as for `run -m` (openai/NAME -M base_url=..., ...).
    TASK is a task as for `run` (a built-in name, a .py, .yaml, .jsonl or .csv file).

    Each level runs the same samples with the response cache off. Per level: throughput
    (answered samples/s), latency p50/p95/p99, error and timeout rates, and quality
    against the lowest level, paired on the same samples (McNemar for binary scores,
    else a paired permutation test); every number with n and a 95% interval.

    The knee is the highest level whose p95 is within --slo-ms and that is not
    significantly worse (at --alpha) than the lowest level in quality or in failures.

    The result is saved in the store (the levels' own runs are not) and its id printed:
    the viewer (`evalstack view`, page Load) and `evalstack report --load ID` draw
    latency, throughput and quality against concurrency, with the knee marked.

    \b
    Example:
      evalstack load openai/m cases.jsonl -M base_url=http://127.0.0.1:8000/v1 \\
          --levels 1,2,4,8,16,32,64 --samples 200 --slo-ms 500
    """
    from evalstack.core.errors import EvalstackError
    from evalstack.runner.load import parse_levels
    from evalstack.store import Store

    chosen = parse_levels(levels)
    run = _run_config(samples, timeout, max_retries, retry_time, seed)
    loaded = _resolve(task, task_args, scorers, input_field, target_field, id_field)
    name = _metric(loaded, metric)
    with Store.open(store) as st:  # opened first: a bad --store fails before any request
        report = _measure(loaded, target, run, chosen, name, model_args, seconds, slo_ms,
                          alpha, quiet=as_json or fmt == "json")
        settings = {"samples": samples, "timeout": timeout, "max_retries": max_retries,
                    "retry_time": retry_time, "seed": seed,
                    "task_version": loaded.version}
        try:
            record = _save(st, report, settings, model_args)
        except EvalstackError:
            _show(report, fmt, as_json)  # what was measured is not lost with the store
            raise
        report = {"load_test_id": record.id, **report}
        if report_path:
            from evalstack.web.report import write_report

            write_report(st, [], report_path, load_ids=[record.id])
    if _show(report, fmt, as_json):
        return
    from evalstack.cli._decide import say
    from evalstack.cli.render import make_console

    console = make_console()
    say(fmt, console, f"Stored as load test {record.id}: see it in `evalstack view` "
                      f"(/load/{record.id}) or with `evalstack report --load {record.id} "
                      "-o report.html`.")
    if report_path:
        say(fmt, console, f"Report written to {report_path}")


def _show(report: dict[str, Any], fmt: str, as_json: bool) -> bool:
    """Print ``report`` in the chosen format; whether that was JSON."""
    if as_json or fmt == "json":
        click.echo(json.dumps(report))
        return True
    _print(report, fmt)
    return False


def _save(store: Any, report: dict[str, Any], settings: dict[str, Any],
          model_args: tuple[str, ...]) -> Any:
    """Store ``report`` (what ``--json`` prints) as a load test; returns its record."""
    from datetime import UTC, datetime

    from evalstack._version import __version__
    from evalstack.runner.evaluate import git_revision
    from evalstack.runner.resolve import parse_kv
    from evalstack.store import new_id
    from evalstack.store.loadtests import LoadTestRecord, save_load_test

    keep = ("levels", "slo_ms", "alpha", "seconds_limit")
    record = LoadTestRecord(
        id=new_id(), created_at=datetime.now(UTC), task_name=report["task"],
        model=report["model"], model_args=parse_kv(model_args, "--model-arg"),
        metric=report["metric"], knee=report["knee"],
        settings={**{k: report[k] for k in keep}, **settings}, levels=report["results"],
        package_version=__version__, git_revision=git_revision(),
    )
    save_load_test(store, record)
    return record


def _run_config(samples: int | None, timeout: float | None, max_retries: int,
                retry_time: float | None, seed: int) -> Any:
    from evalstack.cli.options import build_run_config

    flags: dict[str, Any] = {"limit": samples, "timeout": timeout, "max_retries": max_retries,
                             "retry_time": retry_time}
    return build_run_config(flags, progress=False, seed=seed)


def _resolve(spec: str, task_args: tuple[str, ...], scorers: tuple[str, ...],
             input_field: str, target_field: str, id_field: str) -> Any:
    from evalstack.core.errors import ConfigError
    from evalstack.datasets.record import FieldMap
    from evalstack.runner.resolve import parse_kv, resolve_task

    fields = FieldMap(input=input_field, target=target_field, id=id_field)
    tasks = resolve_task(spec, fields=fields, scorers=scorers,
                         task_args=parse_kv(task_args, "--task-arg"))
    if len(tasks) != 1:
        names = ", ".join(t.name for t in tasks)
        raise ConfigError(f"load runs one task; {spec!r} holds {len(tasks)} ({names}). "
                          f"Pick one, e.g. {spec}@{tasks[0].name}.")
    return tasks[0]


def _metric(task: Any, metric: str | None) -> str:
    from evalstack.core.errors import ConfigError

    labels = task.score_names()
    if not labels:
        raise ConfigError(f"Task {task.name!r} has no scorer; give one with --scorer.")
    if metric is None:
        return str(labels[0])
    if metric not in labels:
        raise ConfigError(f"--metric {metric!r} is not a score of task {task.name!r}; "
                          f"it has {', '.join(labels)}.")
    return metric


def _measure(task: Any, target: str, run: Any, levels: list[int], metric: str,
             model_args: tuple[str, ...], seconds: float | None, slo_ms: float | None,
             alpha: float, *, quiet: bool) -> dict[str, Any]:
    import asyncio

    from evalstack.runner.load import choose_knee, level_json, run_load, summarize_levels
    from evalstack.runner.resolve import parse_kv

    def heard(level: Any) -> None:
        if not quiet:
            click.echo(f"level {level.level}: {len(level.outcomes)} samples in "
                       f"{level.seconds:.2f} s", err=True)

    runs = asyncio.run(run_load(task, target, run, levels, metric=metric,
                                model_args=parse_kv(model_args, "--model-arg"),
                                seconds=seconds, on_level=heard))
    summaries = summarize_levels(runs, run.seed)
    knee = choose_knee(summaries, slo_ms, alpha)
    return {
        "task": task.name, "model": target, "metric": metric, "slo_ms": slo_ms,
        "alpha": alpha, "seconds_limit": seconds, "levels": levels, "knee": knee.level,
        "excluded": {str(k): v for k, v in knee.excluded.items()},
        "results": [level_json(s, knee.excluded.get(s.level, [])) for s in summaries],
    }


def _print(report: dict[str, Any], fmt: str) -> None:
    from evalstack.cli._decide import Rows, say
    from evalstack.cli.render import make_console
    from evalstack.runner.load import LEVEL_COLUMNS, level_cells, verdict_lines

    console = make_console()
    rows = Rows(f"load: {report['task']} on {report['model']} ({report['metric']})",
                list(LEVEL_COLUMNS), right=range(1, len(LEVEL_COLUMNS)))
    for r in report["results"]:
        rows.add(*level_cells(r))
    rows.print(fmt, console)
    for line in verdict_lines(report):
        say(fmt, console, line, "bold" if line.startswith("Knee") else None)
