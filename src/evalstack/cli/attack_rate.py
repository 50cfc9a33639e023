"""``evalstack attack-rate RUN [RUN_B]``: an adversarial run's attack success rate corrected
for the success detector's measured error, and a paired comparison of two systems.

The arithmetic is in ``stats.misclassification``; the labels and the pairing in
``analysis.attack_rate``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli._decide import Rows, fmt_ci, fmt_rate, format_options, load_runs, say
from evalstack.cli.options import FiniteFloat

if TYPE_CHECKING:
    from evalstack.stats.misclassification import CorrectedRate
    from evalstack.stats.result import StatResult




def _stat(r: StatResult) -> dict[str, Any]:
    return {"estimate": r.estimate, "ci": [r.ci_low, r.ci_high], "n": r.n, "method": r.method,
            "p_value": r.p_value}


def _rate_dict(c: CorrectedRate) -> dict[str, Any]:
    return {"observed": _stat(c.observed), "corrected": _stat(c.corrected),
            "unstable_draws": c.unstable, "note": c.note}


@click.command("attack-rate")
@click.argument("run_id")
@click.argument("run_b", required=False)
@click.option("--labels", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help='Human labels of some of RUN_ID\'s samples, JSONL: {"id": SAMPLE_ID, '
                   '"label": true|false} (true = the attack succeeded).')
@click.option("--detector", default=None, metavar="TP,FN,TN,FP",
              help="The detector's confusion counts measured elsewhere (e.g. by `evalstack "
                   "judge validate`), instead of --labels.")
@click.option("--metric", default=None,
              help="The success metric [default: the run's first, e.g. attack_success].")
@click.option("--confidence", type=FiniteFloat(0, 1, low_open=True, high_open=True,
                                               what="a confidence level", example="0.95"),
              default=0.95, show_default=True, help="Level of every interval.")
@format_options
def attack_rate_command(run_id: str, run_b: str | None, labels: str | None,
                        detector: str | None, metric: str | None, confidence: float,
                        store: str | None, fmt: str, as_json: bool) -> None:
    """Correct RUN_ID's attack success rate for the error of the detector that decided it.

    A rule or a judge that decides "the attack succeeded" makes mistakes: its rate counts
    them. Given its sensitivity and specificity, measured on human labels (--labels, for some
    of the run's samples) or counted elsewhere (--detector), the corrected rate is
    (observed + specificity - 1) / (sensitivity + specificity - 1), and its interval carries
    the uncertainty of all three (posterior draws), so a detector checked on few labels gives
    a wide interval. With RUN_B (the same task on another system, scored by the same
    detector), B - A is corrected and paired: McNemar's exact test on the detections, and an
    interval that resamples the pairs.

    \b
    Examples:
      evalstack run injection_indirect -m local/smollm2 -T judge=local/smollm2 --limit 100
      evalstack attack-rate RUN --metric judged_attack_success --labels my_labels.jsonl
      evalstack attack-rate RUN_A RUN_B --detector 45,5,40,10
    """
    from evalstack.analysis import attack_rate as ar
    from evalstack.cli.render import make_console
    from evalstack.core.errors import UserError

    fmt = "json" if as_json else fmt
    if (labels is None) == (detector is None):
        raise UserError("Give the detector's error one way: --labels FILE (human labels of "
                        "some of the run's samples) or --detector TP,FN,TN,FP.")
    loaded = load_runs(store, [run_id] + ([run_b] if run_b else []))
    (run_a, scores_a), *rest = loaded
    name = scores_a.resolve_metric(metric)
    if labels is not None:
        error = ar.detector_error(scores_a, name, ar.read_labels(labels))
    else:
        error = ar.parse_counts(str(detector))
    rep = ar.report(scores_a, name, error, confidence=confidence)
    comparison = (ar.compare(scores_a, rest[0][1], name, error, confidence=confidence)
                  if rest else None)
    if fmt == "json":
        out: dict[str, Any] = {
            "run": run_a.id, "metric": name,
            "detector": {"tp": error.tp, "fn": error.fn, "tn": error.tn, "fp": error.fp,
                         "sensitivity": _stat(error.sensitivity),
                         "specificity": _stat(error.specificity)},
            "overall": _rate_dict(rep.overall),
            "by_category": {c: _rate_dict(r) for c, r in rep.by_category.items()},
        }
        if comparison is not None:
            out["comparison"] = {"run_a": comparison.run_a, "run_b": comparison.run_b,
                                 "b_minus_a": _stat(comparison.difference)}
        click.echo(json.dumps(out))
        return
    console = make_console()
    level = f"{100 * confidence:g}%"
    say(fmt, console, f"Attack success in run {run_a.id} ({run_a.task_name} on {run_a.model}), "
                      f"metric {name}", style="bold")
    se, sp = error.sensitivity, error.specificity
    say(fmt, console, f"Detector on {error.labels} labels: sensitivity {fmt_rate(se.estimate)} "
                      f"{fmt_ci(se)}, specificity {fmt_rate(sp.estimate)} {fmt_ci(sp)} "
                      f"(TP {error.tp}, FN {error.fn}, TN {error.tn}, FP {error.fp}).")
    rows = Rows(f"Observed and corrected rates, {level} intervals",
                ["scope", "n", "observed", f"{level} CI (Wilson)", "corrected",
                 f"{level} CI (detector error included)"], right=(1, 2, 4))
    for scope, r in [("overall", rep.overall), *rep.by_category.items()]:
        rows.add(scope, r.observed.n, fmt_rate(r.observed.estimate), fmt_ci(r.observed),
                 fmt_rate(r.corrected.estimate), fmt_ci(r.corrected))
    rows.print(fmt, console)
    if rep.overall.note:
        say(fmt, console, rep.overall.note)
    if comparison is not None:
        d = comparison.difference
        p = "-" if d.p_value is None else f"{d.p_value:.3g}"
        verdict = ("significant" if d.p_value is not None and d.p_value < 1 - confidence
                   else "not significant")
        say(fmt, console, f"B ({comparison.run_b}) - A ({comparison.run_a}), corrected, on "
                          f"{comparison.n} shared samples: {fmt_rate(d.estimate)} {fmt_ci(d)}, "
                          f"McNemar p = {p} ({verdict}).")
