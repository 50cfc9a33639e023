"""``evalstack select RUN...``: choose among candidate models on the same task(s)."""

from __future__ import annotations

import json
from typing import Any

import click

from evalstack.cli._decide import Rows, format_options, load_runs, say
from evalstack.cli.options import ALPHA


@click.command("select")
@click.argument("runs", nargs=-1, required=True)
@click.option("--metric", default=None,
              help="The metric to rank on (default: each task's first scorer).")
@click.option("--alpha", type=ALPHA,
              default=0.05, show_default=True,
              help="Family-wise error rate of the ranking (Bonferroni intervals, Holm tests).")
@click.option("--allow-mismatch", is_flag=True,
              help="Rank runs of different task versions or data anyway.")
@format_options
def select_command(runs: tuple[str, ...], metric: str | None, alpha: float,
                   allow_mismatch: bool, store: str | None, fmt: str, as_json: bool) -> None:
    """Rank candidate models and say which are statistically tied for first.

    Give the runs of every candidate (by id, prefix or baseline name); runs of one model
    on several tasks are pooled sample by sample. Only samples every candidate scored are
    ranked. Each candidate's score has a simultaneous interval (all intervals hold together
    with probability 1 - alpha); the leader is compared with each other candidate by a
    paired test, Holm-corrected. The Pareto frontier weighs quality against cost per 1,000
    samples and p95 latency: pick from the frontier, among the candidates tied for first.

    \b
    Examples:
      evalstack select 01JD3K 01JD4M 01JD5P
      evalstack select $(evalstack runs --task gsm8k --json | jq -r .run_id) --format markdown
    """
    from evalstack.analysis.select import group_runs, select
    from evalstack.cli.render import make_console

    fmt = "json" if as_json else fmt
    loaded = load_runs(store, runs)
    scores_by_id = {run.id: scores for run, scores in loaded}
    groups = group_runs([run for run, _ in loaded])
    scores = {label: [scores_by_id[r.id] for r in rs] for label, rs in groups.items()}
    result = select(scores, metric=metric, alpha=alpha, allow_mismatch=allow_mismatch)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), default=str))
        return
    _print(result, fmt, make_console())


def _print(result: Any, fmt: str, console: Any) -> None:
    from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p, fmt_value, is_proportion

    points = is_proportion(*(c.mean for c in result.candidates))
    level = f"{100 * result.confidence:.4g}%"
    rows = Rows(f"Ranking on {result.metric} ({level} simultaneous intervals, "
                f"alpha={result.alpha})",
                ["rank", "candidate", "score", f"{level} CI", "n", "vs best", "p (Holm)",
                 "tied for 1st", "$ / 1k samples", "p95 latency", "frontier"],
                right=(0, 2, 3, 4, 5, 6, 8, 9))
    for c in result.candidates:
        rows.add(
            c.rank, c.label, fmt_value(c.mean, points), fmt_interval(c.ci_low, c.ci_high, points)
            if points else f"[{c.ci_low:.3g}, {c.ci_high:.3g}]", c.n,
            "-" if c.delta_vs_best is None else fmt_delta(c.delta_vs_best, points),
            "-" if c.p_vs_best is None else fmt_p(c.p_vs_best).removeprefix("p="),
            "yes" if c.tied_for_first else "no",
            "-" if c.cost_per_1k is None else f"{c.cost_per_1k:.4f}",
            "-" if c.p95_latency_ms is None else f"{c.p95_latency_ms:,.0f} ms",
            "yes" if c.pareto else "",
        )
    rows.print(fmt, console)
    say(fmt, console, f"Verdict: {result.verdict}", "bold")
    say(fmt, console, f"Pareto frontier (quality, cost, latency): {', '.join(result.frontier)}.")
    for note in result.notes:
        say(fmt, console, f"Note: {note}")
