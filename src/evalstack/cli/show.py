"""``evalstack show RUN``: a run's results, overall and per category, run-to-run variance and,
for an ``llm_jury`` metric, how much the jurors agreed."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.table import Table

    from evalstack.analysis.judges import JuryAgreement
    from evalstack.runner.metrics import EpochVariance
    from evalstack.stats import StatResult

# Above this share of within-sample variance, repeats disagree more than samples differ.
NOISE_SHARE = 0.5
_MAX_EPOCH_MEANS = 8  # epoch means listed in the table; --json has them all
# Krippendorff's (2004) rule of thumb: below 0.667 the ratings are too unreliable to draw
# even tentative conclusions from.
ALPHA_TENTATIVE = 0.667


@click.command("show")
@click.argument("run_id")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, help="Store URL or path.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored summary as JSON.")
def show_command(run_id: str, store: str | None, as_json: bool) -> None:
    """Show RUN_ID's metrics with 95% intervals, per category, and its full spec.

    RUN_ID is a run id, a unique prefix of one, or a baseline name (see
    `evalstack baseline --help`).

    For a run with several epochs, the intervals are clustered by sample (each sample's
    repeats are averaged first), and a second table shows the run-to-run variance: each
    epoch's mean, the spread between epochs, and how much of the score variance is
    non-determinism (repeats of one sample disagreeing) rather than samples differing.

    For an llm_jury metric, a "Jury agreement" table shows how consistently the jurors
    rated the same answers: Krippendorff's alpha (interval and ordinal), Fleiss' kappa and
    Cohen's quadratic kappa for each pair of jurors, with 95% bootstrap intervals.

    \b
    Examples:
      evalstack show 01JD3K            # a prefix of the run id
      evalstack show prod --json       # the run pinned as baseline "prod"
    """

    from rich.text import Text

    from evalstack.analysis.judges import jury_agreement, jury_metrics
    from evalstack.cli.render import category_table, make_console, result_table, usage_line
    from evalstack.core.results import TaskResult
    from evalstack.core.text import visible
    from evalstack.runner.metrics import epoch_variance
    from evalstack.store import Store

    st = Store.open(store, create=False)
    try:
        run = st.resolve_run(run_id)
        total, errored = st.count_samples(run.id)
        variance = epoch_variance(st.iter_scores(run.id)) if run.epochs > 1 and total else None
        rows = list(st.iter_scores(run.id)) if total and _may_have_jury(run.task_spec) else []
    finally:
        st.close()
    juries = {name: jury_agreement(rows, name) for name in jury_metrics(rows)}
    agreements = {name: ag for name, ag in juries.items() if ag is not None}
    spec = {
        "run_id": run.id, "status": run.status, "created_at": run.created_at.isoformat(),
        "task": run.task_name, "task_version": run.task_version, "task_spec": run.task_spec,
        "model": run.model, "model_args": run.model_args, "dataset": run.dataset_name,
        "dataset_hash": run.dataset_hash, "epochs": run.epochs, "limit": run.limit,
        "package_version": run.package_version, "git_revision": run.git_revision,
        "stored_samples": total, "errored_samples": errored, "error": run.error,
    }
    if as_json:
        click.echo(json.dumps({
            "spec": spec, "summary": run.summary,
            "epoch_variance": None if variance is None else {
                name: v.to_dict() for name, v in variance.items()
            },
            "jury_agreement": {name: ag.to_dict() for name, ag in agreements.items()},
        }, default=str))
        return
    console = make_console()
    if run.summary:
        result = TaskResult.model_validate(run.summary)
        console.print(result_table([result]))
        console.print(usage_line(result), highlight=False)
        if run.epochs > 1:
            console.print(f"95% intervals are clustered by sample over {run.epochs} epochs: "
                          "each sample's repeats are averaged before the interval.",
                          highlight=False, soft_wrap=True)
        if result.categories:
            console.print(category_table(result))
    else:
        console.print(f"Run {run.id} is {run.status}: no summary yet "
                      f"({total} samples stored, {errored} errored).")
    if variance:
        console.print(variance_table(variance, run.epochs))
        for line in noise_notes(variance):
            console.print(line, highlight=False, soft_wrap=True)
    for ag in agreements.values():
        console.print(jury_table(ag))
        for line in jury_notes(ag):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    judged = judged_metrics(run.task_spec)
    if judged:
        console.print(
            f"{', '.join(judged)}: a judge model's scores, not human ones. Check the judge "
            f"against human labels, and get a judge-corrected estimate of the human score, with "
            f"evalstack judge validate LABELS --judge JUDGE --run {run.id}",
            highlight=False, markup=False, soft_wrap=True,
        )
    for key in ("status", "task", "task_version", "model", "model_args", "dataset",
                "dataset_hash", "epochs", "limit", "package_version", "git_revision", "error"):
        if spec[key] not in (None, {}, ""):
            # the values are data: shown as text, never parsed as markup
            console.print(Text.assemble((f"{key}:", "dim"), " ", visible(str(spec[key]))),
                          highlight=False)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def variance_table(variance: dict[str, EpochVariance], epochs: int) -> Table:
    """The run-to-run variance of each metric, one row per metric."""
    from rich.table import Table

    table = Table(title=f"Run-to-run variance over {epochs} epochs", title_justify="left")
    table.add_column("metric", no_wrap=True)
    table.add_column("epoch means", overflow="fold")
    table.add_column("sd between epochs", justify="right", no_wrap=True)
    table.add_column("within-sample var", justify="right", no_wrap=True)
    table.add_column("between-sample var", justify="right", no_wrap=True)
    table.add_column("within share", justify="right", no_wrap=True)
    for name, v in variance.items():
        means = " ".join(f"{m:.3f}" for m in v.epoch_means[:_MAX_EPOCH_MEANS])
        if len(v.epoch_means) > _MAX_EPOCH_MEANS:
            means += f" … ({len(v.epoch_means)} epochs)"
        share = "-" if v.within_share is None else f"{v.within_share:.0%}"
        table.add_row(name, means, _fmt(v.epoch_sd), _fmt(v.within_var), _fmt(v.between_var),
                      share)
    return table


def noise_notes(variance: dict[str, EpochVariance]) -> list[str]:
    """A plain-language note for each metric whose variance is mostly non-determinism."""
    notes: list[str] = []
    for name, v in variance.items():
        if v.within_share is not None and v.within_share > NOISE_SHARE:
            notes.append(
                f"{name}: Non-determinism dominates: {v.within_share:.0%} of the score variance "
                "is between repeats of the same sample; raise --epochs or set temperature 0 "
                "before comparing runs."
            )
    return notes


def judged_metrics(task_spec: dict[str, Any]) -> list[str]:
    """The names of the run's judge-scored metrics (``llm_judge`` and ``llm_jury`` scorers)."""
    scorers = task_spec.get("scorers")
    if not isinstance(scorers, list):
        return []
    return [str(s["name"]) for s in scorers
            if isinstance(s, dict) and s.get("name") in ("llm_judge", "llm_jury")]


def _may_have_jury(task_spec: dict[str, Any]) -> bool:
    """Whether the run's scores need reading for a jury: its task lists an ``llm_jury`` scorer,
    or lists no scorers at all (a run stored by other means)."""
    scorers = task_spec.get("scorers")
    if not isinstance(scorers, list):
        return True
    return any(isinstance(s, dict) and s.get("name") == "llm_jury" for s in scorers)


def _stat_cells(r: StatResult) -> tuple[str, str, str]:
    if not math.isfinite(r.estimate):
        return "undefined", "-", str(r.n)
    ci = (f"[{r.ci_low:.3f}, {r.ci_high:.3f}]"
          if math.isfinite(r.ci_low) and math.isfinite(r.ci_high) else "-")
    return f"{r.estimate:.3f}", ci, str(r.n)


def jury_table(ag: JuryAgreement) -> Table:
    """The agreement of one jury metric's jurors, one row per statistic."""
    from rich.table import Table
    from rich.text import Text

    from evalstack.core.text import visible

    lo, hi = (f"{x:g}" for x in ag.scale)
    level = f"{100 * ag.confidence:g}%"
    title = (f"Jury agreement on {ag.metric}: {len(ag.jurors)} jurors "
             f"({', '.join(ag.jurors)}), {ag.n} samples")
    table = Table(title=Text(visible(title)), title_justify="left")
    table.add_column("statistic", overflow="fold")
    table.add_column("estimate", justify="right", no_wrap=True)
    table.add_column(f"{level} CI", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    rows = [
        ("Krippendorff's alpha (interval)", ag.alpha_interval),
        ("Krippendorff's alpha (ordinal)", ag.alpha_ordinal),
        (f"Fleiss' kappa (nominal; scores rounded to {lo}-{hi})", ag.fleiss),
        *((f"Cohen's kappa, quadratic: {p.a} vs {p.b}", p.kappa) for p in ag.pairs),
    ]
    for name, r in rows:
        table.add_row(Text(visible(name)), *_stat_cells(r))
    return table


def jury_notes(ag: JuryAgreement) -> list[str]:
    """Plain-language notes on a jury's agreement: undefined or low reliability."""
    alpha = ag.alpha_interval.estimate
    if not math.isfinite(alpha):
        return [f"{ag.metric}: agreement is undefined: the jurors gave the same score to every "
                "sample, or no sample has two jurors' scores."]
    if alpha < ALPHA_TENTATIVE:
        return [f"{ag.metric}: the jurors disagree: Krippendorff's alpha {alpha:.3f} is below "
                f"{ALPHA_TENTATIVE}, under which Krippendorff (2004) advises against drawing "
                "even tentative conclusions; read the samples they disagree on before trusting "
                "the pooled score."]
    return []
