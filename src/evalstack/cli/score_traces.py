"""``evalstack score-traces``: score a project's new sampled traces under a policy."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from evalstack.cli.options import model_call_options


@click.command("score-traces")
@click.option("--policy", "policy_path", required=True, type=click.Path(dir_okay=False),
              help="The scoring policy (YAML): name, rate, scorers, filters, budget.")
@click.option("--project", required=True, help="The project whose traces to score.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path (the traces, and the judge's reply cache).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@model_call_options
def score_traces_command(policy_path: str, project: str, store: str | None, as_json: bool,
                         **limits: Any) -> None:
    """Score a deterministic sample of a project's traces, within the policy's budget.

    A trace is in the sample when a hash of the policy's name and the trace id falls under
    the rate, so a rerun picks the same traces; a trace already scored on a metric is never
    scored again. The judge's calls count against the daily budget, checked before each
    trace against the worst case, so it is never exceeded; when it runs out, scoring stops
    and says how many sampled traces wait.

    \b
    A policy file:
      name: nightly
      rate: 0.01
      scorers: [llm_judge]
      filters: {model: gpt-4o-mini}
      budget: {judge_calls_per_day: 500}

    \b
    Examples:
      evalstack score-traces --policy nightly.yaml --project support-bot
      evalstack score-traces --policy nightly.yaml --project support-bot --rpm 60 --json
    """
    from dataclasses import asdict

    from evalstack.cli.judge import _judge_models
    from evalstack.cli.safe import echo
    from evalstack.core.errors import UserError
    from evalstack.production.scoring import load_policy, score_traces
    from evalstack.production.store import project_id
    from evalstack.store import Store

    policy = load_policy(policy_path)
    with Store.open(store, create=False) as opened:
        pid = project_id(opened, project)
        if pid is None:
            raise UserError(f"No project named {project!r} in the store. Make one with: "
                            f"evalstack serve --new-project {project}")
        with _judge_models(store, False, limits, opened=opened):
            report = asyncio.run(score_traces(opened, pid, policy))
    if as_json:
        click.echo(json.dumps(asdict(report)))
    else:
        echo(report.message)
