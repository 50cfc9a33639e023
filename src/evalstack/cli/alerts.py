"""``evalstack alerts``: list fired alerts; ``evalstack alerts check``: evaluate the rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click


def _read(path: str) -> str:
    from evalstack.core.errors import ConfigError

    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None


@click.group("alerts", invoke_without_command=True)
@click.option("--project", default=None, help="Only this project's alerts.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def alerts_command(ctx: click.Context, project: str | None, store: str | None,
                   as_json: bool) -> None:
    """List the alerts that fired, newest first, with their delivery state.

    An alert fires once per episode: when a metric's interval over a window lies beyond the
    rule's threshold for the rule's number of windows, with at least min_n observations.

    \b
    Examples:
      evalstack alerts --project support-bot
      evalstack alerts check --project support-bot --metrics metrics.yaml \\
          --rules rules.yaml --webhook https://hooks.example.com/evalstack
    """
    if ctx.invoked_subcommand is not None:
        return
    from evalstack.cli.safe import echo
    from evalstack.production.store import list_alerts
    from evalstack.production.store import project_id as find_project
    from evalstack.store import Store

    with Store.open(store, create=False) as opened:
        pid = find_project(opened, project) if project else None
        rows = list_alerts(opened, pid)
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    if not rows:
        echo("No alerts have fired.")
    for row in rows:
        state = ("delivered" if row["delivered_at"] else
                 f"not delivered ({row['last_error'] or 'no webhook'})")
        echo(f"{row['fired_at']:%Y-%m-%d %H:%M} {row['rule']}: "
             f"{row['payload'].get('message', '')} [{state}, {row['attempts']} attempt(s)]")


@alerts_command.command("check")
@click.option("--project", required=True, help="The project to check.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(dir_okay=False),
              help="Metric definitions (YAML list).")
@click.option("--rules", "rules_path", required=True, type=click.Path(dir_okay=False),
              help="Alert rules (YAML list).")
@click.option("--webhook", default=None, help="POST each new alert here (JSON).")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
def check_command(project: str, metrics_path: str, rules_path: str, webhook: str | None,
                  store: str | None) -> None:
    """Evaluate the alert rules on the stored data and fire new episodes' alerts once."""
    from evalstack.cli.safe import echo
    from evalstack.core.errors import UserError
    from evalstack.production.alerts import load_rules
    from evalstack.production.metrics import load_metrics
    from evalstack.production.monitor import check_alerts
    from evalstack.production.store import project_id as find_project
    from evalstack.store import Store

    definitions = load_metrics(_read(metrics_path), metrics_path)
    rules = load_rules(_read(rules_path), rules_path)
    with Store.open(store, create=False) as opened:
        pid = find_project(opened, project)
        if pid is None:
            raise UserError(f"No project named {project!r} in the store.")
        fired: list[Any] = asyncio.run(check_alerts(opened, pid, definitions, rules,
                                                    webhook=webhook))
    if not fired:
        echo("No new alert: no rule's condition held, or its episode had already alerted.")
    for d in fired:
        echo(f"alert {d.alert_id}: " + ("delivered" if d.delivered else
                                        f"not delivered ({d.error})")
             + f" after {d.attempts} attempt(s)")
