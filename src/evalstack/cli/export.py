"""``evalstack export RUN``: write a run's samples as JSONL, CSV or Parquet."""

from __future__ import annotations

from typing import cast

import click


@click.command("export")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default="jsonl",
              show_default=True, help="Output format.")
@click.option("-o", "--output", default="-", show_default=True,
              help="Output file ('-' for standard output; Parquet needs a file).")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, help="Store URL or path.")
def export_command(run_id: str, fmt: str, output: str, store: str | None) -> None:
    """Export every sample of RUN_ID: input, target, output, scores, usage, errors.

    A file or a pipe gets the data exactly as stored. On a terminal, control characters in
    the data (escape sequences in model output, say) are shown escaped, never sent.

    \b
    Examples:
      evalstack export 01J... --format csv -o results.csv
      evalstack export 01J... --format parquet -o results.parquet
    """
    import sys

    from evalstack.cli.safe import echo
    from evalstack.core.errors import ConfigError
    from evalstack.store import Store, export_run
    from evalstack.store.export import ExportFormat, check_output_path

    if fmt == "parquet" and output == "-":
        raise ConfigError("Parquet is binary: give an output file with -o results.parquet.")
    if output != "-":
        check_output_path(output, what="export file", suffix=f".{fmt}")
    terminal = output == "-" and sys.stdout.isatty()
    st = Store.open(store, create=False)
    try:
        run = st.get_run(run_id)
        n = export_run(st, run.id, cast("ExportFormat", fmt), output, terminal=terminal)
    finally:
        st.close()
    if output != "-":
        echo(f"Exported {n} samples of run {run.id} to {output}", err=True)
