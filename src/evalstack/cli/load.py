"""``evalstack load TARGET TASK``: throughput, latency, failures and quality as concurrency
rises, and the knee: the highest level that keeps the latency SLO and the quality."""

from __future__ import annotations

import json
import math
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
def load_command(target: str, task: str, levels: str, samples: int | None,
                 seconds: float | None, slo_ms: float | None, alpha: float,
                 metric: str | None, model_args: tuple[str, ...], task_args: tuple[str, ...],
                 scorers: tuple[str, ...], input_field: str, target_field: str, id_field: str,
                 timeout: float | None, max_retries: int, retry_time: float | None, seed: int,
                 fmt: str, as_json: bool) -> None:
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

    \b
    Example:
      evalstack load openai/m cases.jsonl -M base_url=http://127.0.0.1:8000/v1 \\
          --levels 1,2,4,8,16,32,64 --samples 200 --slo-ms 500
    """
    from evalstack.runner.load import parse_levels

    chosen = parse_levels(levels)
    run = _run_config(samples, timeout, max_retries, retry_time, seed)
    loaded = _resolve(task, task_args, scorers, input_field, target_field, id_field)
    name = _metric(loaded, metric)
    report = _measure(loaded, target, run, chosen, name, model_args, seconds, slo_ms, alpha,
                      quiet=as_json or fmt == "json")
    if as_json or fmt == "json":
        click.echo(json.dumps(report))
        return
    _print(report, fmt)


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


def _ms(r: dict[str, Any] | None) -> str:
    """A latency with its interval; ``timeout`` where it is at the timeout."""
    if r is None or (r["estimate"] is None and "at_timeout" not in r):
        return "-"
    timed = r.get("at_timeout", {})
    est = "timeout" if timed.get("estimate") else f"{r['estimate']:.0f}"
    high = "timeout" if timed.get("ci_high") else f"{r['ci_high']:.0f}"
    low = "-" if r["ci_low"] is None else f"{r['ci_low']:.0f}"
    return f"{est} [{low}, {high}]"


def _rate(r: dict[str, Any] | None, digits: int = 3) -> str:
    if r is None or r["estimate"] is None:
        return "-"
    return f"{r['estimate']:.{digits}f} [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"


def _pct(r: dict[str, Any] | None) -> str:
    if r is None or r["estimate"] is None:
        return "-"
    return f"{100 * r['estimate']:.1f}% [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"


def _vs(r: dict[str, Any] | None) -> str:
    if r is None:
        return "(baseline)"
    if r["estimate"] is None:
        return "-"
    p = r.get("p_value")
    shown = "-" if p is None or math.isnan(p) else f"{p:.2g}"
    return f"{r['estimate']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] p={shown}"


def _print(report: dict[str, Any], fmt: str) -> None:
    from evalstack.cli._decide import Rows, say
    from evalstack.cli.render import make_console

    console = make_console()
    rows = Rows(f"load: {report['task']} on {report['model']} ({report['metric']})",
                ["level", "n", "ok/s", "p50 ms", "p95 ms", "p99 ms", "errors", "timeouts",
                 "quality", "vs lowest (paired)"], right=range(1, 10))
    for r in report["results"]:
        lat = r["latency_ms"]
        rows.add(r["level"], r["n"], _rate(r["throughput"], 1), _ms(lat["p50"]),
                 _ms(lat["p95"]), _ms(lat["p99"]), _pct(r["error_rate"]),
                 _pct(r["timeout_rate"]), _rate(r["quality"]), _vs(r["quality_vs_lowest"]))
    rows.print(fmt, console)
    for line in _verdict(report):
        say(fmt, console, line, "bold" if line.startswith("Knee") else None)


def _verdict(report: dict[str, Any]) -> list[str]:
    """The knee and why each other level was excluded, in words."""
    slo = report["slo_ms"]
    rule = (f"p95 <= {slo:g} ms" if slo is not None else "no --slo-ms, latency not checked")
    knee = report["knee"]
    lines = [f"Knee: {knee} ({rule}; quality and failures not significantly worse than "
             f"level {report['levels'][0]} at alpha {report['alpha']:g})" if knee is not None
             else f"Knee: none: no level qualifies ({rule})."]
    lines += [f"- level {lvl} excluded: {'; '.join(why)}"
              for lvl, why in report["excluded"].items()]
    first: dict[str, Any] = report["results"][0] if report["results"] else {}
    if first and (first["error_rate"]["estimate"] or first["timeout_rate"]["estimate"]):
        lines.append(f"Note: the lowest level itself had failures (errors "
                     f"{_pct(first['error_rate'])}, timeouts {_pct(first['timeout_rate'])}); "
                     "the comparisons with it cannot see failures it shares.")
    most = max((r["n"] for r in report["results"]), default=0)
    over = [r["level"] for r in report["results"] if r["level"] > most]
    if over:
        lines.append(f"Note: level(s) {', '.join(map(str, over))} exceed the {most} samples "
                     "run, so fewer requests were in flight; give more --samples.")
    if any(r["stopped"] for r in report["results"]):
        lines.append("Note: --seconds stopped some levels; their unfinished samples are not "
                     "counted, and each level is compared on the samples both finished.")
    lines.append("Intervals are 95%; latency intervals from order statistics, throughput "
                 "Poisson, rates Wilson; each level compared with the lowest on the same "
                 "samples.")
    return lines
