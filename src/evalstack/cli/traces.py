"""``evalstack traces``: export chosen production traces as an eval dataset (JSONL), print
feedback metrics per window, and prune old traces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from evalstack.cli.options import IntAtLeast


@click.group("traces")
def traces_command() -> None:
    """Production traces: export chosen ones as an eval dataset."""


@traces_command.command("export")
@click.option("--project", required=True, help="The project whose traces to export.")
@click.option("--since", help="Traces started at or after this date or time (UTC), e.g. "
                              "2026-12-01.")
@click.option("--until", help="Traces started before this date or time (UTC).")
@click.option("--model", "models", multiple=True, help="Only traces of this model (repeatable).")
@click.option("--min-score", "min_scores", multiple=True, metavar="METRIC:VALUE",
              help="Only traces whose online score on METRIC is at least VALUE (repeatable).")
@click.option("--max-score", "max_scores", multiple=True, metavar="METRIC:VALUE",
              help="Only traces whose online score on METRIC is at most VALUE (repeatable).")
@click.option("--feedback", "feedback", multiple=True, metavar="NAME[=LABEL]",
              help="Only traces with this feedback (on the trace or its conversation), e.g. "
                   "escalated or thumbs=down (repeatable).")
@click.option("--limit", type=IntAtLeast(1), default=None,
              help="At most this many traces (the first in start order).")
@click.option("--redact", is_flag=True,
              help="Replace e-mails, phone numbers, card numbers, IBANs, IPs, SSNs and URL "
                   "credentials with placeholders, and print the counts.")
@click.option("--region", default="US", show_default=True,
              help="With --redact: the country phone numbers without +code are read in.")
@click.option("--answer-as-target", is_flag=True,
              help="Use the app's answer as the target (default: empty target, the answer "
                   "kept in 'answer' for review).")
@click.option("-o", "--out", "out", default="-", show_default=True,
              help="Output JSONL file ('-' for standard output).")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
def export_command(project: str, since: str | None, until: str | None, models: tuple[str, ...],
                   min_scores: tuple[str, ...], max_scores: tuple[str, ...],
                   feedback: tuple[str, ...], limit: int | None, redact: bool, region: str,
                   answer_as_target: bool, out: str, store: str | None) -> None:
    """Write a project's chosen traces as an eval dataset that `evalstack run` reads.

    Each trace becomes one line: id (the trace id), input (the last user message, or the
    chat messages), target (empty: a reference must be reviewed before it is trusted; or the
    app's answer with --answer-as-target), category (the model), and conversation_id,
    model, started_at, scores, feedback and answer as metadata.

    \b
    Examples:
      evalstack traces export --project support-bot --feedback thumbs=down --redact -o bad.jsonl
      evalstack traces export --project support-bot --max-score llm_judge:0.5 --since 2026-12-01
      evalstack run bad.jsonl --model openai/gpt-4o-mini
    """
    import sys

    from evalstack.cli.safe import echo
    from evalstack.core.errors import StoreError, UserError
    from evalstack.production.export import (
        TraceFilter,
        export_traces,
        parse_feedback,
        parse_score_bound,
        parse_when,
    )
    from evalstack.production.redact import check_region
    from evalstack.production.store import project_id
    from evalstack.store import Store
    from evalstack.store.export import check_output_path

    spec = TraceFilter(
        since=None if since is None else parse_when("--since", since),
        until=None if until is None else parse_when("--until", until),
        models=models,
        min_scores=tuple(parse_score_bound("--min-score", s) for s in min_scores),
        max_scores=tuple(parse_score_bound("--max-score", s) for s in max_scores),
        feedback=tuple(parse_feedback("--feedback", f) for f in feedback),
        limit=limit)
    code = check_region(region) if redact else region
    if out != "-":
        check_output_path(out, what="dataset file", suffix=".jsonl")
    with Store.open(store, create=False) as opened:
        pid = project_id(opened, project)
        if pid is None:
            raise UserError(f"No project named {project!r} in the store. Make one with: "
                            f"evalstack serve --new-project {project}")
        if out == "-":
            report = export_traces(opened, pid, spec, sys.stdout, redact=redact,
                                   answer_as_target=answer_as_target, region=code)
        else:
            path = Path(out)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    report = export_traces(opened, pid, spec, fh, redact=redact,
                                           answer_as_target=answer_as_target, region=code)
                os.replace(tmp, path)
            except OSError as exc:
                raise StoreError(f"Cannot write the dataset file {path}: {exc.strerror or exc}."
                                 " Nothing was written.") from None
            finally:
                tmp.unlink(missing_ok=True)
    where = "" if out == "-" else f" to {out}"
    skipped = (f" ({report.skipped_no_input} chosen had no input message and were skipped)"
               if report.skipped_no_input else "")
    echo(f"Wrote {report.written} traces of {report.considered} considered{where}{skipped}.",
         err=True)
    if redact:
        found = ", ".join(f"{k} {n}" for k, n in report.redactions.items()) or "none found"
        echo(f"Redacted: {found}.", err=True)


@traces_command.command("prune")
@click.option("--project", required=True, help="The project to prune.")
@click.option("--older-than", "days", type=click.FloatRange(min=0, min_open=True),
              required=True, metavar="DAYS",
              help="Delete traces (with their spans and scores), feedback and conversations "
                   "older than this many days.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
def prune_command(project: str, days: float, store: str | None) -> None:
    """Delete a project's production data older than --older-than DAYS.

    \b
    Example:
      evalstack traces prune --project support-bot --older-than 90
    """
    from datetime import UTC, datetime, timedelta

    from evalstack.cli.safe import echo
    from evalstack.core.errors import UserError
    from evalstack.production.store import project_id, prune
    from evalstack.store import Store

    with Store.open(store, create=False) as opened:
        pid = project_id(opened, project)
        if pid is None:
            raise UserError(f"No project named {project!r} in the store.")
        counts = prune(opened, pid, datetime.now(UTC) - timedelta(days=days))
    echo("Deleted " + ", ".join(f"{n} {table}" for table, n in counts.items()) + ".")


@traces_command.command("metrics")
@click.option("--project", required=True, help="The project.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(dir_okay=False),
              help="Metric definitions (YAML list): rates, means and retention.")
@click.option("--since", "since_days", type=click.FloatRange(min=0, min_open=True),
              default=None, metavar="DAYS", help="Only the last DAYS days.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def metrics_command(project: str, metrics_path: str, since_days: float | None,
                    store: str | None, as_json: bool) -> None:
    """Feedback and outcome metrics per day or week, each with its interval and n.

    \b
    A metrics file:
      - {name: resolution_rate, kind: rate, event: resolved}
      - {name: thumbs_up, kind: rate, event: thumbs, per: event, success: up}
      - {name: conversation_length, kind: mean, of: turns}
      - {name: retention, kind: retention, periods: 4}
    """
    import json
    from datetime import UTC, datetime, timedelta

    from evalstack.cli._decide import Rows
    from evalstack.cli.render import make_console
    from evalstack.core.errors import ConfigError, UserError
    from evalstack.production.metrics import compute_retention, load_metrics
    from evalstack.production.monitor import metric_series, stored_conversations
    from evalstack.production.store import project_id
    from evalstack.store import Store

    try:
        text = Path(metrics_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {metrics_path}: {exc.strerror}.") from None
    definitions = load_metrics(text, metrics_path)
    since = datetime.now(UTC) - timedelta(days=since_days) if since_days else None
    with Store.open(store, create=False) as opened:
        pid = project_id(opened, project)
        if pid is None:
            raise UserError(f"No project named {project!r} in the store.")
        series = metric_series(opened, pid, definitions, since=since)
        convs = stored_conversations(opened, pid, since=since)
        cohorts = {d.name: compute_retention(d, convs) for d in definitions
                   if d.kind == "retention"}

    def stat(r: Any) -> dict[str, Any]:
        return {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}

    if as_json:
        click.echo(json.dumps({
            "series": {name: [{"start": p.start.isoformat(), **stat(p.result)}
                              for p in s.points] for name, s in series.items()},
            "retention": {name: [{"start": c.start.isoformat(), "size": c.size,
                                  "returns": [stat(r) for r in c.returns]} for c in cs]
                          for name, cs in cohorts.items()}}))
        return
    console = make_console()
    for name, s in series.items():
        rows = Rows(f"{name} per {s.window} (95% intervals)", ["window", "estimate",
                                                               "95% CI", "n"], right=(1, 3))
        for p in s.points:
            r = p.result
            rows.add(p.start.date().isoformat(), f"{r.estimate:.3f}",
                     f"[{r.ci_low:.3f}, {r.ci_high:.3f}]", r.n)
        rows.print("table", console)
    for name, cs in cohorts.items():
        rows = Rows(f"{name}: share of each week's new users back k weeks later",
                    ["cohort", "users", *[f"+{k}" for k in range(1, 1 + max(
                        (len(c.returns) for c in cs), default=0))]], right=(1,))
        for c in cs:
            rows.add(c.start.date().isoformat(), c.size,
                     *[f"{r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for r in c.returns])
        rows.print("table", console)
