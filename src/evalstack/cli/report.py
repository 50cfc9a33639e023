"""``evalstack report RUN [RUN...] [--load ID...] -o report.html``: one self-contained HTML
file."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("runs", nargs=-1)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")
@click.option("--load", "load_ids", multiple=True, metavar="ID",
              help="Also a stored load test (`evalstack load` prints its id), with its "
                   "charts; repeatable.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
def report_command(runs: tuple[str, ...], output: str, load_ids: tuple[str, ...],
                   store: str | None) -> None:
    """Write RUNS (and --load tests) to one self-contained HTML file that can be sent to
    anyone.

    The file needs no network and runs no script: metrics with their 95% intervals, per
    category, latency and cost, the run's spec, and its first samples. A load test shows
    latency p50/p95/p99, throughput and quality against concurrency as inline SVG charts,
    with the knee marked, and its per-level table. Every piece of model output and data is
    escaped, so it shows as text.

    RUNS are run ids, unique prefixes or baseline names; --load takes a load test id or a
    unique prefix of one.

    \b
    Examples:
      evalstack report 01JD3K -o report.html
      evalstack report prod candidate -o release.html
      evalstack report --load 01JD4M -o load.html
    """
    from evalstack.cli.safe import echo
    from evalstack.store import Store
    from evalstack.web.report import write_report

    if not runs and not load_ids:
        raise click.UsageError("report needs at least one RUN or --load ID; e.g. "
                         "evalstack report 01JD3K -o report.html. List runs with "
                         "`evalstack runs`.")
    with Store.open(store, create=False) as st:
        ids = [st.resolve_run(ref).id for ref in runs]
        path = write_report(st, ids, output, load_ids=load_ids)
    parts = [f"{len(ids)} run{'s' if len(ids) != 1 else ''}"] if ids else []
    if load_ids:
        parts.append(f"{len(load_ids)} load test{'s' if len(load_ids) != 1 else ''}")
    echo(f"Report written to {path} ({', '.join(parts)}).")
