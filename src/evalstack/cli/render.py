"""Terminal tables for results: every estimate shown with its 95% interval and n."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from evalstack.cli.safe import SafeConsole
from evalstack.core.costs import cost_text, tokens_text
from evalstack.core.results import EvalResult, MetricValue, TaskResult


def make_console() -> Console:
    """A console for tables: the terminal's width, or 160 columns when output is piped.

    It shows control characters in data as text, never sends them (see ``cli/safe.py``).
    """
    import sys

    return SafeConsole() if sys.stdout.isatty() else SafeConsole(width=160)


def fmt_metric(m: MetricValue) -> str:
    if m.estimate is None:
        return "n/a"
    return f"{m.estimate:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]"


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def result_table(tasks: list[TaskResult]) -> Table:
    table = Table(title="Results (95% intervals)", title_justify="left")
    table.add_column("task · model", overflow="fold")
    table.add_column("metric", no_wrap=True)
    table.add_column("estimate", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for t in tasks:
        label = f"{t.task} · {t.model}"
        first = True
        for name, m in t.metrics.items():
            est, ci = ("n/a", "") if m.estimate is None else (
                f"{m.estimate:.3f}", f"[{m.ci_low:.3f}, {m.ci_high:.3f}]")
            table.add_row(label if first else "", name, est, ci, str(m.n))
            first = False
        if first:
            table.add_row(label, "-", "no scores", "", "0")
    return table


def usage_line(t: TaskResult) -> str:
    note = f", {t.truncated_outputs} outputs truncated" if t.truncated_outputs else ""
    judge = (t.judge_input_tokens, t.judge_output_tokens)
    return (f"{t.task} · {t.model}: {t.samples} samples, {t.errors} errors, "
            f"{cost_text(t.cost_usd, t.judge_cost_usd)}, "
            f"{tokens_text((t.input_tokens, t.output_tokens), judge)}, "
            f"latency p50 {fmt_ms(t.latency_ms.p50)} / p95 {fmt_ms(t.latency_ms.p95)}"
            f"{note} (run {t.run_id})")


def category_table(t: TaskResult) -> Table:
    table = Table(title=f"{t.task} · {t.model} by category", title_justify="left")
    table.add_column("category", no_wrap=True, min_width=8)
    names = list(t.metrics)
    for name in names:
        table.add_column(f"{name} [95% CI]", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
    for cat, metrics in t.categories.items():
        row = [cat]
        for name in names:
            m = metrics.get(name)
            row += [fmt_metric(m), str(m.n)] if m else ["-", "0"]
        table.add_row(*row)
    return table


def print_result(result: EvalResult, console: Console | None = None) -> None:
    console = console or make_console()
    console.print(result_table(result.tasks))
    for t in result.tasks:
        console.print(usage_line(t), highlight=False)
    for t in result.tasks:
        if t.categories:
            console.print(category_table(t))
