"""Terminal tables for results: every estimate shown with its 95% interval and n."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from evalstack.core.results import EvalResult, MetricValue, TaskResult


def fmt_metric(m: MetricValue) -> str:
    if m.estimate is None:
        return "n/a"
    return f"{m.estimate:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]"


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def result_table(tasks: list[TaskResult]) -> Table:
    table = Table(title="Results (95% intervals)", title_justify="left")
    for col in ("task", "model", "metric", "estimate [95% CI]", "n", "errors", "cost", "p50", "p95"):
        table.add_column(col, justify="right" if col in ("n", "errors", "cost") else "left")
    for t in tasks:
        first = True
        for name, m in t.metrics.items():
            table.add_row(
                t.task if first else "", t.model if first else "", name, fmt_metric(m), str(m.n),
                str(t.errors) if first else "", f"${t.cost_usd:.4f}" if first else "",
                fmt_ms(t.latency_ms.p50) if first else "", fmt_ms(t.latency_ms.p95) if first else "",
            )
            first = False
        if first:
            table.add_row(t.task, t.model, "-", "no scores", "0", str(t.errors),
                          f"${t.cost_usd:.4f}", fmt_ms(t.latency_ms.p50), fmt_ms(t.latency_ms.p95))
    return table


def category_table(t: TaskResult) -> Table:
    table = Table(title=f"{t.task} · {t.model} by category", title_justify="left")
    table.add_column("category")
    names = list(t.metrics)
    for name in names:
        table.add_column(f"{name} [95% CI]")
        table.add_column("n", justify="right")
    for cat, metrics in t.categories.items():
        row = [cat]
        for name in names:
            m = metrics.get(name)
            row += [fmt_metric(m), str(m.n)] if m else ["-", "0"]
        table.add_row(*row)
    return table


def print_result(result: EvalResult, console: Console | None = None) -> None:
    console = console or Console()
    console.print(result_table(result.tasks))
    for t in result.tasks:
        if t.categories:
            console.print(category_table(t))
    for t in result.tasks:
        note = f" ({t.truncated_outputs} outputs truncated)" if t.truncated_outputs else ""
        console.print(
            f"[dim]run {t.run_id}: {t.task} v{t.task_version} on {t.model}, {t.samples} samples, "
            f"{t.errors} errors, {t.input_tokens} tokens in / {t.output_tokens} out{note}[/dim]"
        )
