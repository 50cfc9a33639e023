"""``evalstack agreement``: human reviews against the automated scores, week by week."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("agreement")
@click.option("--project", required=True, help="The project.")
@click.option("--metric", required=True, help="The automated score (e.g. llm_judge).")
@click.option("--review", default="review", show_default=True,
              help="The feedback event that holds a person's review of a trace.")
@click.option("--threshold", type=float, default=0.5, show_default=True,
              help="A score at or above this counts as 'good'.")
@click.option("--on", "statistic", type=click.Choice(["kappa", "accuracy"]),
              default="kappa", show_default=True, help="The statistic drift is tested on.")
@click.option("--reference-weeks", type=click.IntRange(min=1), default=2, show_default=True,
              help="The first weeks, pooled, are the reference level.")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True)
@click.option("--json", "as_json", is_flag=True)
def agreement_command(project: str, metric: str, review: str, threshold: float,
                      statistic: str, reference_weeks: int, store: str | None,
                      as_json: bool) -> None:
    """How well the automated score agrees with people, per week, with intervals.

    Each week gives accuracy (Wilson interval) and Cohen's kappa (bootstrap interval) over
    the traces people reviewed (feedback events named --review, value 1 good or 0 bad) that
    were also scored on --metric. A week is flagged as drift when a one-sided test says its
    agreement is below the reference weeks' (p < 0.05): the automated eval needs updating.
    """
    from evalstack.cli._decide import Rows
    from evalstack.cli.render import make_console
    from evalstack.core.errors import UserError
    from evalstack.production.agreement import weekly_agreement
    from evalstack.production.monitor import stored_pairs
    from evalstack.production.store import project_id
    from evalstack.store import Store

    with Store.open(store, create=False) as opened:
        pid = project_id(opened, project)
        if pid is None:
            raise UserError(f"No project named {project!r} in the store.")
        pairs = stored_pairs(opened, pid, metric, review=review, threshold=threshold)
    if not pairs:
        raise UserError(f"No trace has both a {review!r} review and a {metric!r} score.")
    weeks = weekly_agreement(pairs, on="kappa" if statistic == "kappa" else "accuracy",
                             reference_weeks=reference_weeks)
    if as_json:
        click.echo(json.dumps([{
            "week": w.start.date().isoformat(), "reference": w.reference, "drift": w.drift,
            "accuracy": _stat(w.accuracy), "kappa": _stat(w.kappa),
            "p_value": None if w.test is None else w.test.p_value} for w in weeks]))
        return
    rows = Rows(f"Agreement of {metric} with human reviews, per week (95% intervals)",
                ["week", "n", "accuracy", "kappa", "vs reference", "flag"], right=(1,))
    for w in weeks:
        a, k = w.accuracy, w.kappa
        rows.add(w.start.date().isoformat(), a.n,
                 f"{a.estimate:.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}]",
                 f"{k.estimate:.2f} [{k.ci_low:.2f}, {k.ci_high:.2f}]",
                 "reference" if w.test is None else f"p={w.test.p_value:.3g}",
                 "DRIFT" if w.drift else "")
    rows.print("table", make_console())


def _stat(r: Any) -> dict[str, Any]:
    return {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
