"""``evalstack compare RUN_A RUN_B [RUN_C ...]``: paired comparison of stored runs."""

from __future__ import annotations

import json
from typing import Any

import click

from evalstack.cli._decide import Rows, format_options, load_runs, say
from evalstack.cli.options import ALPHA


@click.command("compare")
@click.argument("runs", nargs=-1, required=True)
@click.option("--metric", "metrics", multiple=True,
              help="Compare only this metric (repeatable). Default: every metric both runs have.")
@click.option("--alpha", type=ALPHA,
              default=0.05, show_default=True,
              help="Significance level; intervals are at 1 - alpha.")
@click.option("--allow-mismatch", is_flag=True,
              help="Compare runs of different tasks, task versions or data (they are matched "
                   "by sample id anyway; the mismatch is reported).")
@click.option("--allow-judge-mismatch", is_flag=True,
              help="Compare judged metrics even when the runs' judges differ (model, version "
                   "or template hash); the difference is reported as a note.")
@click.option("--flips", "flip_limit", type=click.IntRange(0), default=20, show_default=True,
              help="How many fixed and broken sample ids to list per metric.")
@format_options
def compare_command(runs: tuple[str, ...], metrics: tuple[str, ...], alpha: float,
                    allow_mismatch: bool, allow_judge_mismatch: bool, flip_limit: int,
                    store: str | None, fmt: str, as_json: bool) -> None:
    """Compare RUN_B (and RUN_C, ...) against RUN_A, sample by sample.

    Samples are matched by id and epoch. For each metric it prints the delta (B - A) with
    its interval and the p-value of the paired test that suits the metric: McNemar's test
    for binary scores, the paired bootstrap for continuous ones, Wilcoxon's signed-rank test
    for ordinal ones (1-5 ratings). With several epochs the intervals are clustered by
    sample. Per-category p-values are Holm-corrected across categories and metrics. The
    samples that flipped (fixed, broken) are listed by id so you can look at them, and the
    verdict says in words what changed and what did not.

    Runs are given by id, unique id prefix, or baseline name (see `evalstack baseline`).
    Runs of different tasks or data are refused unless --allow-mismatch. A judged metric
    (llm_judge, llm_jury) whose judge model, reported version or prompt template hash
    differs between the runs is refused unless --allow-judge-mismatch: the change could
    come from the judge, not the model. Refusals exit with code 2.

    \b
    Examples:
      evalstack compare 01JD3K 01JD4M
      evalstack compare prod 01JD4M --metric acc --format markdown >> $GITHUB_STEP_SUMMARY
      evalstack compare A B C --json
    """
    from evalstack.analysis.compare import compare_runs
    from evalstack.cli.render import make_console

    fmt = "json" if as_json else fmt
    results = compare_runs(load_runs(store, runs), metrics, alpha=alpha,
                           allow_mismatch=allow_mismatch,
                           allow_judge_mismatch=allow_judge_mismatch)
    if fmt == "json":
        click.echo(json.dumps({"comparisons": [c.to_dict() for c in results]}, default=str))
        return
    console = make_console()
    for c in results:
        _print(c, fmt, console, flip_limit)


def _print(c: Any, fmt: str, console: Any, flip_limit: int) -> None:
    from evalstack.analysis.compare import flips_sample
    from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p, fmt_value

    level = f"{100 * (1 - c.alpha):g}%"
    say(fmt, console, f"{c.b.label} ({c.b.model}, run {c.b.run_id}) vs {c.a.label} "
        f"({c.a.model}, run {c.a.run_id}) on {c.a.task}", "bold")
    overall = Rows(f"Delta {c.b.label} - {c.a.label} (points for proportions; {level} CI)",
                   ["metric", c.a.label, c.b.label, "delta", f"{level} CI", "p (Holm)", "n",
                    "test", "fixed", "broken"], right=(1, 2, 3, 4, 5, 6, 8, 9))
    for m in c.metrics:
        overall.add(m.metric, fmt_value(m.mean_a, m.points), fmt_value(m.mean_b, m.points),
                    fmt_delta(m.delta, m.points), fmt_interval(m.ci_low, m.ci_high, m.points),
                    fmt_p(m.p_adjusted).removeprefix("p="),
                    m.n if m.epochs == 1 else f"{m.items}x{m.epochs}", m.method,
                    "-" if m.fixed is None else m.fixed, "-" if m.broken is None else m.broken)
    overall.print(fmt, console)
    if c.categories:
        cats = Rows("By category (p Holm-corrected across categories and metrics)",
                    ["category", "metric", c.a.label, c.b.label, "delta", f"{level} CI",
                     "p (Holm)", "n"], right=(2, 3, 4, 5, 6, 7))
        for m in sorted(c.categories, key=lambda m: (m.metric, m.category or "")):
            mark = " *" if m.significant(c.alpha) else ""
            cats.add(m.category, m.metric, fmt_value(m.mean_a, m.points),
                     fmt_value(m.mean_b, m.points), fmt_delta(m.delta, m.points) + mark,
                     fmt_interval(m.ci_low, m.ci_high, m.points),
                     fmt_p(m.p_adjusted).removeprefix("p="), m.n)
        cats.print(fmt, console)
    epochs = {m.metric: m.epochs for m in c.metrics}
    for metric in c.fixed:
        fixed, broken = c.fixed[metric], c.broken[metric]
        if not fixed and not broken:
            continue
        for word, flips in (("fixed", fixed), ("broken", broken)):
            if flips:
                shown = flips_sample(flips, flip_limit, epochs.get(metric, 1) > 1)
                more = f" (+{len(flips) - len(shown)} more; --flips N or --json for all)" \
                    if len(flips) > len(shown) else ""
                say(fmt, console, f"{metric}: {len(flips)} {word} by {c.b.label}: "
                    f"{', '.join(shown)}{more}")
    say(fmt, console, f"Verdict: {c.verdict}", "bold")
    for note in c.notes:
        say(fmt, console, f"Note: {note}")
    if c.metrics_only_a or c.metrics_only_b:
        say(fmt, console, f"Not compared: metrics only in {c.a.label}: "
            f"{', '.join(c.metrics_only_a) or 'none'}; only in {c.b.label}: "
            f"{', '.join(c.metrics_only_b) or 'none'}.")
