"""``evalstack show RUN``: a run's results, overall and per category."""

from __future__ import annotations

import json

import click


@click.command("show")
@click.argument("run_id")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, help="Store URL or path.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored summary as JSON.")
def show_command(run_id: str, store: str | None, as_json: bool) -> None:
    """Show RUN_ID's metrics with 95% intervals, per category, and its full spec.

    A unique prefix of the run id is enough.
    """

    from evalstack.cli.render import category_table, make_console, result_table, usage_line
    from evalstack.core.results import TaskResult
    from evalstack.store import Store

    st = Store.open(store)
    try:
        run = st.get_run(run_id)
        total, errored = st.count_samples(run.id)
    finally:
        st.close()
    spec = {
        "run_id": run.id, "status": run.status, "created_at": run.created_at.isoformat(),
        "task": run.task_name, "task_version": run.task_version, "task_spec": run.task_spec,
        "model": run.model, "model_args": run.model_args, "dataset": run.dataset_name,
        "dataset_hash": run.dataset_hash, "epochs": run.epochs, "limit": run.limit,
        "package_version": run.package_version, "git_revision": run.git_revision,
        "stored_samples": total, "errored_samples": errored, "error": run.error,
    }
    if as_json:
        click.echo(json.dumps({"spec": spec, "summary": run.summary}, default=str))
        return
    console = make_console()
    if run.summary:
        result = TaskResult.model_validate(run.summary)
        console.print(result_table([result]))
        console.print(usage_line(result), highlight=False)
        if result.categories:
            console.print(category_table(result))
    else:
        console.print(f"Run {run.id} is {run.status}: no summary yet "
                      f"({total} samples stored, {errored} errored).")
    for key in ("status", "task", "task_version", "model", "model_args", "dataset",
                "dataset_hash", "epochs", "limit", "package_version", "git_revision", "error"):
        if spec[key] not in (None, {}, ""):
            console.print(f"[dim]{key}:[/dim] {spec[key]}", highlight=False, markup=True)
