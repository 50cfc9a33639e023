"""``evalstack select RUN...``: choose among candidate models on the same task(s)."""

from __future__ import annotations

import json
from typing import Any

import click

from evalstack.analysis.pairs import RunScores
from evalstack.cli._decide import Rows, format_options, load_runs, say
from evalstack.cli.options import ALPHA
from evalstack.core.errors import UserError


@click.command("select")
@click.argument("runs", nargs=-1)
@click.option("--suite", default=None, metavar="NAME",
              help="Rank the templates of a suite (`evalstack run suite.yaml`): its newest "
                   "completed runs, one ranking per target.")
@click.option("--by", type=click.Choice(["category"]), default=None,
              help="Also rank within each sample category (one ranking per category).")
@click.option("--metric", default=None,
              help="The metric to rank on (default: each task's first scorer).")
@click.option("--alpha", type=ALPHA,
              default=0.05, show_default=True,
              help="Family-wise error rate of the ranking (Bonferroni intervals, Holm tests).")
@click.option("--allow-mismatch", is_flag=True,
              help="Rank runs of different task versions or data anyway.")
@format_options
def select_command(runs: tuple[str, ...], suite: str | None, by: str | None,
                   metric: str | None, alpha: float, allow_mismatch: bool, store: str | None,
                   fmt: str, as_json: bool) -> None:
    """Rank candidate models (or a suite's prompt templates) and say which are tied for first.

    Give the runs of every candidate (by id, prefix or baseline name); runs of one model
    on several tasks are pooled sample by sample. Only samples every candidate scored are
    ranked. Each candidate's score has a simultaneous interval (all intervals hold together
    with probability 1 - alpha); the leader is compared with each other candidate by a
    paired test, Holm-corrected. The Pareto frontier weighs quality against cost per 1,000
    samples and p95 latency: pick from the frontier, among the candidates tied for first.

    With --suite NAME (or runs of one suite on one model with two or more templates) the
    candidates are the suite's templates, ranked separately for each target; a suite with
    one template ranks its targets.

    \b
    Examples:
      evalstack select 01JD3K 01JD4M 01JD5P
      evalstack select $(evalstack runs --task gsm8k --json | jq -r .run_id) --format markdown
      evalstack select --suite greetings-prompts --by category
    """
    from evalstack.analysis.select import select
    from evalstack.cli.render import make_console

    fmt = "json" if as_json else fmt
    groups = _candidates(store, runs, suite)
    rankings: list[tuple[str | None, str | None, str | None, Any, str | None]] = []
    for target, heading, scores in groups:
        for category, part in _split(scores, by):
            try:
                result = select(part, metric=metric, alpha=alpha, allow_mismatch=allow_mismatch)
            except UserError as exc:
                if category is None:
                    raise
                rankings.append((target, heading, category, None, str(exc)))
                continue
            rankings.append((target, heading, category, result, None))
    if fmt == "json":
        if suite is None and by is None and len(rankings) == 1 and rankings[0][1] is None:
            click.echo(json.dumps(rankings[0][3].to_dict(), default=str))
            return
        click.echo(json.dumps({"suite": suite, "rankings": [
            {"target": t, "candidates_are": "templates" if t else "models", "category": c,
             "selection": r.to_dict() if r else None, "skipped": why}
            for t, _, c, r, why in rankings]}, default=str))
        return
    console = make_console()
    for _, heading, category, result, why in rankings:
        title = " · ".join(x for x in (heading, None if category is None
                                       else f"category {category}") if x)
        if title:
            say(fmt, console, title, "bold")
        if result is None:
            say(fmt, console, f"Skipped: {why}")
            continue
        _print(result, fmt, console)


Scores = dict[str, list[RunScores]]


def _candidates(store: str | None, refs: tuple[str, ...],
                suite: str | None) -> list[tuple[str | None, str | None, Scores]]:
    """The rankings to make: ``(target whose templates are ranked, heading, candidate label
    -> runs' scores)``; no target when the candidates are models."""
    from evalstack.analysis.select import group_runs
    from evalstack.runner.matrix import by_target, suite_label, suite_runs

    if suite is not None and refs:
        raise UserError("Give either run ids or --suite NAME, not both: --suite ranks the "
                        f"newest completed runs of suite {suite!r}.")
    if suite is None and not refs:
        raise UserError("Expected the runs to rank (run ids, prefixes or baseline names), or "
                        "--suite NAME for a suite's templates; received neither.")
    if suite is not None:
        from evalstack.analysis.pairs import load_scores
        from evalstack.store import Store

        st = Store.open(store, create=False)
        try:
            loaded = [(r, load_scores(st, r)) for r in suite_runs(st, suite)]
        finally:
            st.close()
    else:
        loaded = load_runs(store, refs)
    records = [run for run, _ in loaded]
    by_id = {run.id: scores for run, scores in loaded}
    labels = [suite_label(r) for r in records]
    templated = (all(labels) and len({lb[0] for lb in labels if lb}) == 1
                 and len({lb[1] for lb in labels if lb}) > 1)
    if suite is not None or templated:
        targets = by_target(records)
        if any(len(templates) > 1 for templates in targets.values()):
            return [(target, f"Templates on {target}",
                     {tpl: [by_id[r.id] for r in rs] for tpl, rs in templates.items()})
                    for target, templates in targets.items()]
    groups = group_runs(records)
    return [(None, None if suite is None else f"Targets of suite {suite}",
             {label: [by_id[r.id] for r in rs] for label, rs in groups.items()})]


def _split(scores: Scores, by: str | None) -> list[tuple[str | None, Scores]]:
    """The whole ranking, then (with ``--by category``) one per sample category."""
    out: list[tuple[str | None, Scores]] = [(None, scores)]
    if by != "category":
        return out
    categories = sorted({row.category or "(none)" for runs in scores.values()
                         for rs in runs for row in rs.rows.values()})
    for category in categories:
        out.append((category, {label: [RunScores(rs.run, {
            k: row for k, row in rs.rows.items() if (row.category or "(none)") == category})
            for rs in runs] for label, runs in scores.items()}))
    return out


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
