"""``evalstack baseline``: name and pin the runs that CI gates compare against."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli.safe import echo

if TYPE_CHECKING:
    from evalstack.core.records import BaselineRecord, RunRecord

_STORE = click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
                      help="Store URL or path.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("baseline")
def baseline_command() -> None:
    """Name and pin the runs that CI gates compare against.

    A baseline is a name ("prod", "release-1.4") pointing at one stored run. Commands that
    take a run id also take a baseline name, so a CI gate can compare each new run against
    whatever run is pinned as "prod" without anyone copying run ids around.

    \b
    Pin the run a CI gate compares against, then gate new runs on it:
      evalstack baseline set prod RUN_ID --note "v1.3 shipped"
      evalstack gate --baseline prod --candidate NEW_RUN

    \b
    Move the name when a new run ships, and look at what is pinned:
      evalstack baseline set prod NEW_RUN
      evalstack baseline list
      evalstack baseline show prod
      evalstack show prod            # the pinned run's full results

    \b
    Names are 1-64 letters, digits, '.', '_' or '-'. Where a name could also be a run id
    prefix, write baseline:NAME to mean the baseline.
    """


@baseline_command.command("set")
@click.argument("name")
@click.argument("run")
@click.option("--note", default=None, help="Why this run is the baseline.")
@_STORE
def set_command(name: str, run: str, note: str | None, store: str | None) -> None:
    """Point baseline NAME at RUN, creating the name or moving it.

    RUN is a run id, a unique prefix of one, or another baseline's name (to promote what it
    points at). Moving a name replaces its note.

    \b
    Examples:
      evalstack baseline set prod 01JD3K7Q --note "shipped 2026-12-01"
      evalstack baseline set prod candidate     # promote the run pinned as "candidate"
    """
    from evalstack.store import Store

    with Store.open(store, create=False) as st:
        target = st.resolve_run(run)
        before = {b.name: b for b in st.list_baselines()}.get(name)
        record = st.set_baseline(name, target.id, note=note)
    if before is None:
        echo(f"Baseline {name!r} now points at run {record.run_id} ({_label(target)}).")
    elif before.run_id == record.run_id:
        echo(f"Baseline {name!r} already pointed at run {record.run_id}; note updated.")
    else:
        echo(f"Baseline {name!r} moved from run {before.run_id} to run {record.run_id} "
             f"({_label(target)}).")
    echo(f"Compare new runs against it with: evalstack gate --baseline {name} "
         "--candidate NEW_RUN")


@baseline_command.command("list")
@_JSON
@_STORE
def list_command(as_json: bool, store: str | None) -> None:
    """List the baselines by name, with the run each points at.

    \b
    Example:
      evalstack baseline list --json   # one JSON object per line
    """
    from rich.table import Table

    from evalstack.cli.render import make_console
    from evalstack.store import Store

    with Store.open(store, create=False) as st:
        pairs = [(b, st.get_run(b.run_id)) for b in st.list_baselines()]
    if as_json:
        for b, run in pairs:
            click.echo(json.dumps(_to_json(b, run)))
        return
    if not pairs:
        click.echo("No baselines yet. Pin the run CI gates compare against with: "
                   "evalstack baseline set prod RUN_ID")
        return
    table = Table(title="Baselines", title_justify="left")
    for column in ("name", "run id", "task", "model", "headline [95% CI]", "updated", "note"):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "run id"))
    for b, run in pairs:
        table.add_row(b.name, b.run_id, run.task_name, run.model, _headline(run),
                      b.updated_at.strftime("%Y-%m-%d %H:%M"), b.note or "")
    make_console().print(table)


@baseline_command.command("show")
@click.argument("name")
@_JSON
@_STORE
def show_command(name: str, as_json: bool, store: str | None) -> None:
    """Show baseline NAME: the run it points at, when it was set, and its note.

    \b
    Example:
      evalstack baseline show prod
      evalstack show prod              # the pinned run's full results
    """
    from evalstack.store import Store

    with Store.open(store, create=False) as st:
        b = st.get_baseline(name)
        run = st.get_run(b.run_id)
    if as_json:
        click.echo(json.dumps(_to_json(b, run)))
        return
    lines = [
        ("baseline", b.name), ("run", f"{b.run_id} ({run.status})"),
        ("task", f"{run.task_name} v{run.task_version}"), ("model", run.model),
        ("headline", _headline(run) or "no summary yet"),
        ("run created", run.created_at.isoformat()), ("pinned", b.created_at.isoformat()),
        ("updated", b.updated_at.isoformat()), ("note", b.note or ""),
    ]
    for key, value in lines:
        if value:
            echo(f"{key}: {value}")


@baseline_command.command("rm")
@click.argument("name")
@_STORE
def rm_command(name: str, store: str | None) -> None:
    """Remove baseline NAME. The run it points at is kept.

    \b
    Example:
      evalstack baseline rm release-1.2
    """
    from evalstack.store import Store

    with Store.open(store, create=False) as st:
        b = st.get_baseline(name)
        st.delete_baseline(b.name)
    echo(f"Removed baseline {b.name!r} (it pointed at run {b.run_id}; the run is kept).")


def _label(run: RunRecord) -> str:
    return f"{run.task_name} on {run.model}, {run.created_at:%Y-%m-%d %H:%M}"


def _headline(run: RunRecord) -> str:
    metrics = (run.summary or {}).get("metrics", {})
    if not metrics:
        return ""
    name, m = next(iter(metrics.items()))
    if m.get("estimate") is None:
        return f"{name} n/a"
    return f"{name} {m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _to_json(b: BaselineRecord, run: RunRecord) -> dict[str, Any]:
    return {
        "name": b.name, "run_id": b.run_id, "note": b.note,
        "created_at": b.created_at.isoformat(), "updated_at": b.updated_at.isoformat(),
        "run": {
            "status": run.status, "task": run.task_name, "task_version": run.task_version,
            "model": run.model, "created_at": run.created_at.isoformat(),
            "epochs": run.epochs, "metrics": (run.summary or {}).get("metrics", {}),
        },
    }
