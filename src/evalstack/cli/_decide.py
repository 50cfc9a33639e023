"""What ``compare``, ``select`` and ``gate`` share: loading runs and printing tables.

Tables are built once as rows of strings and printed either as a rich table or as Markdown,
so the two formats always show the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from evalstack.analysis.pairs import RunScores, load_scores
from evalstack.cli.safe import echo
from evalstack.core.records import RunRecord
from evalstack.core.text import visible

FORMATS = ("table", "markdown", "json")


def format_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--format table|markdown|json`` and ``--json`` (short for ``--format json``)."""
    fn = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(fn)
    fn = click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
        help="Output: a terminal table, Markdown (for PRs and CI summaries) or JSON.",
    )(fn)
    return click.option(
        "--store", envvar="EVALSTACK_STORE", default=None,
        help="Store URL or path (default: the EVALSTACK_STORE variable, else the user store).",
    )(fn)


def load_runs(store_url: str | None, refs: Sequence[str]) -> list[tuple[RunRecord, RunScores]]:
    """Each reference (run id, unique prefix or baseline name) with its stored scores."""
    from evalstack.store import Store

    st = Store.open(store_url, create=False)
    try:
        out = []
        for ref in refs:
            run = st.resolve_run(ref)
            out.append((run, load_scores(st, run)))
        return out
    finally:
        st.close()


class Rows:
    """A titled table of strings, printable as a rich table or Markdown."""

    def __init__(self, title: str, headers: Sequence[str], right: Sequence[int] = ()) -> None:
        self.title = title
        self.headers = list(headers)
        self.right = set(right)
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def print(self, fmt: str, console: Any) -> None:
        if fmt == "markdown":
            echo(self.markdown())
            return
        from rich.table import Table
        from rich.text import Text

        # Text cells: category names and sample ids are data, never rich markup; made visible
        # here, not only by the console, so the columns are measured as they are shown
        table = Table(title=Text(visible(self.title)), title_justify="left")
        for i, h in enumerate(self.headers):
            table.add_column(h, justify="right" if i in self.right else "left",
                             overflow="fold")
        for row in self.rows:
            table.add_row(*(Text(visible(cell)) for cell in row))
        console.print(table)

    def markdown(self) -> str:
        def esc(cell: str) -> str:
            return cell.replace("|", "\\|").replace("\n", " ")

        align = ["---:" if i in self.right else "---" for i in range(len(self.headers))]
        lines = [f"**{esc(self.title)}**", "", "| " + " | ".join(map(esc, self.headers)) + " |",
                 "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(map(esc, row)) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


def fmt_rate(x: float) -> str:
    """A rate to three decimals, or ``-`` when it is not a number."""
    import math

    return "-" if not math.isfinite(x) else f"{x:.3f}"


def fmt_ci(r: Any) -> str:
    """A ``StatResult``'s interval as ``[low, high]`` to three decimals, or ``-``."""
    import math

    if not (math.isfinite(r.ci_low) and math.isfinite(r.ci_high)):
        return "-"
    return f"[{r.ci_low:.3f}, {r.ci_high:.3f}]"


def say(fmt: str, console: Any, text: str, style: str | None = None) -> None:
    """A paragraph in either format (bold in Markdown when ``style`` is ``bold``)."""
    if fmt == "markdown":
        echo((f"**{text}**" if style == "bold" else text) + "\n")
    else:
        console.print(text, style=style, highlight=False, markup=False, soft_wrap=True)
