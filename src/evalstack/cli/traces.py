"""``evalstack traces export``: chosen production traces as an eval dataset (JSONL)."""

from __future__ import annotations

import os
from pathlib import Path

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
