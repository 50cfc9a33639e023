"""``evalstack runs``: list stored runs."""

from __future__ import annotations

import json

import click

from evalstack.cli.options import IntAtLeast


@click.command("runs")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, help="Store URL or path.")
@click.option("--task", default=None, help="Only runs of this task.")
@click.option("--model", default=None, help="Only runs of this model.")
@click.option("--status", type=click.Choice(["running", "completed", "failed", "interrupted"]),
              default=None, help="Only runs with this status.")
@click.option("-n", "--limit", type=IntAtLeast(1), default=50, show_default=True,
              help="How many runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only run ids, one per line (for scripts: RUN=$(evalstack runs -q -n 1)).")
def runs_command(store: str | None, task: str | None, model: str | None, status: str | None,
                 limit: int, as_json: bool, quiet: bool) -> None:
    """List stored runs, newest first, with their headline metric.

    \b
    Example:
      evalstack runs --task demo_mmlu --status completed
    """
    from rich.table import Table

    from evalstack.cli.render import make_console
    from evalstack.cli.safe import echo
    from evalstack.store import Store

    st = Store.open(store, create=False)
    try:
        rows = st.list_runs(limit=limit, task=task, model=model, status=status)
    finally:
        st.close()
    if quiet:
        for r in rows:
            echo(r.id)
        return
    if as_json:
        for r in rows:
            click.echo(json.dumps({
                "run_id": r.id, "created_at": r.created_at.isoformat(), "status": r.status,
                "task": r.task_name, "task_version": r.task_version, "model": r.model,
                "samples": r.dataset_size * r.epochs,
                "metrics": (r.summary or {}).get("metrics", {}),
            }))
        return
    if not rows:
        click.echo("No runs stored yet. Start one with: "
                   "evalstack run demo_unit --model local/smollm2")
        return
    table = Table(title="Runs", title_justify="left")
    table.add_column("run id", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("task", overflow="fold")
    table.add_column("model", overflow="fold")
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("headline [95% CI]", overflow="fold")
    for r in rows:
        metrics = (r.summary or {}).get("metrics", {})
        headline = ""
        if metrics:
            name, m = next(iter(metrics.items()))
            if m.get("estimate") is not None:
                headline = f"{name} {m['estimate']:.2f} [{m['ci_low']:.2f}, {m['ci_high']:.2f}]"
        table.add_row(r.id, r.created_at.strftime("%m-%d %H:%M"), r.status, r.task_name,
                      r.model, str(r.dataset_size * r.epochs), headline)
    make_console().print(table)
