"""``evalstack report RUN [RUN...] -o report.html``: one self-contained HTML file."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("runs", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
def report_command(runs: tuple[str, ...], output: str, store: str | None) -> None:
    """Write RUNS to one self-contained HTML file that can be sent to anyone.

    The file needs no network and runs no script: metrics with their 95% intervals, per
    category, latency and cost, the run's spec, and its first samples. Every piece of model
    output and data is escaped, so it shows as text.

    RUNS are run ids, unique prefixes or baseline names.

    \b
    Examples:
      evalstack report 01JD3K -o report.html
      evalstack report prod candidate -o release.html
    """
    from evalstack.cli.safe import echo
    from evalstack.store import Store
    from evalstack.web.report import write_report

    with Store.open(store, create=False) as st:
        ids = [st.resolve_run(ref).id for ref in runs]
        path = write_report(st, ids, output)
    echo(f"Report written to {path} ({len(ids)} run{'s' if len(ids) != 1 else ''}).")
