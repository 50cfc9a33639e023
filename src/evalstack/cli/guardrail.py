"""``evalstack guardrail RUN [RUN_B]``: a guardrail run's confusion matrix and error rates.

The numbers come from ``analysis.guardrail``: the false negative rate (harmful inputs let
through) and the false positive rate (benign inputs blocked: over-refusal) with Wilson
intervals, overall and per category; with RUN_B, McNemar's exact test per rate on the inputs
both runs share.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli._decide import Rows, fmt_ci, fmt_rate, format_options, say
from evalstack.cli.options import FiniteFloat

if TYPE_CHECKING:
    from evalstack.analysis.guardrail import Comparison, Decisions, GuardrailReport
    from evalstack.core.records import RunRecord

_RATE_NAMES = {"false_negative_rate": "FNR (harmful let through)",
               "false_positive_rate": "FPR (benign blocked)", "accuracy": "accuracy"}


@click.command("guardrail")
@click.argument("run_id")
@click.argument("run_b", required=False)
@click.option("--category", "categories", multiple=True, metavar="NAME",
              help="Show only this category (repeatable). The overall rates count every input.")
@click.option("--confidence", type=FiniteFloat(0, 1, low_open=True, high_open=True,
                                               what="a confidence level", example="0.95"),
              default=0.95, show_default=True, help="Level of every interval.")
@format_options
def guardrail_command(run_id: str, run_b: str | None, categories: tuple[str, ...],
                      confidence: float, store: str | None, fmt: str, as_json: bool) -> None:
    """Show RUN_ID's guardrail decisions: the confusion matrix, and the false negative rate
    (harmful inputs let through) and false positive rate (benign inputs blocked, i.e.
    over-refusal) with Wilson intervals and n, overall and per category.

    RUN_ID is a run scored by guardrail_decision: the guardrail task run on a guardrail
    target (guardrail/keyword, refusal/<provider/model>, or your own http/... or python/...
    target answering BLOCK or ALLOW). With RUN_B, the two guardrails are compared on the
    inputs they share: for each rate, B - A with McNemar's exact test and the Agresti-Min
    interval; per-category p-values are Holm-adjusted.

    \b
    Examples:
      evalstack run guardrail -m guardrail/keyword --limit 60
      evalstack guardrail 01JD3K
      evalstack guardrail 01JD3K 01JD4M --json
    """
    from evalstack.analysis import guardrail as ga
    from evalstack.cli.render import make_console

    fmt = "json" if as_json else fmt
    loaded = _load(store, [run_id] + ([run_b] if run_b else []))
    (run_a, found_a), *rest = loaded
    rep = ga.report(found_a, confidence, categories)
    comparison = ga.compare(found_a, rest[0][1], confidence, categories) if rest else None
    if fmt == "json":
        out: dict[str, Any] = {"run": _run_dict(run_a, found_a), **ga.report_dict(rep)}
        if comparison is not None:
            out["run_b"] = _run_dict(*rest[0])
            out["comparison"] = ga.comparison_dict(comparison)
        click.echo(json.dumps(out))
        return
    console = make_console()
    say(fmt, console, _title(run_a, found_a), style="bold")
    _matrix(rep).print(fmt, console)
    _rates(rep).print(fmt, console)
    _categories(rep).print(fmt, console)
    for note in _notes(found_a):
        say(fmt, console, note)
    if comparison is not None:
        run_other, found_b = rest[0]
        say(fmt, console, f"B: {_title(run_other, found_b)}", style="bold")
        _comparison(comparison, confidence).print(fmt, console)
        for note in _notes(found_b):
            say(fmt, console, f"B: {note}")


def _load(store: str | None, refs: list[str]) -> list[tuple[RunRecord, Decisions]]:
    from evalstack.analysis.guardrail import decisions
    from evalstack.store import Store

    st = Store.open(store, create=False)
    try:
        out = []
        for label, ref in zip(("run", "run B"), refs, strict=False):
            run = st.resolve_run(ref)
            out.append((run, decisions(st.iter_scores(run.id),
                                       f"{label} {run.id} ({run.task_name} on {run.model})")))
        return out
    finally:
        st.close()


def _run_dict(run: RunRecord, found: Decisions) -> dict[str, Any]:
    return {"run_id": run.id, "task": run.task_name, "model": run.model,
            "model_args": run.model_args, "status": run.status, "decided": len(found.items),
            "errored": found.errored, "other_epochs": found.other_epochs}


def _title(run: RunRecord, found: Decisions) -> str:
    return (f"Guardrail {run.model} on {run.task_name} (run {run.id}): "
            f"{len(found.items)} inputs decided")




def _matrix(rep: GuardrailReport) -> Rows:
    o = rep.overall
    rows = Rows("Confusion matrix (label by decision)",
                ["", "blocked", "allowed", "n"], right=(1, 2, 3))
    rows.add("harmful", f"{o.tp} (TP)", f"{o.fn} (FN)", o.tp + o.fn)
    rows.add("benign", f"{o.fp} (FP)", f"{o.tn} (TN)", o.fp + o.tn)
    return rows


def _rates(rep: GuardrailReport) -> Rows:
    o = rep.overall
    level = f"{100 * rep.confidence:g}%"
    rows = Rows(f"Overall rates, {level} Wilson intervals", ["rate", "estimate", f"{level} CI",
                                                              "n"], right=(1, 3))
    for name, r in (("FNR (harmful let through)", o.false_negative_rate),
                    ("FPR (benign blocked = over-refusal)", o.false_positive_rate),
                    ("recall (harmful blocked)", o.true_positive_rate),
                    ("precision (blocked that were harmful)", o.precision),
                    ("accuracy", o.accuracy)):
        rows.add(name, fmt_rate(r.estimate), fmt_ci(r), r.n)
    return rows


def _categories(rep: GuardrailReport) -> Rows:
    level = f"{100 * rep.confidence:g}%"
    rows = Rows(f"By category, {level} Wilson intervals",
                ["category", "label", "n", "blocked", "rate", "estimate", f"{level} CI"],
                right=(2, 3, 5))
    for c in rep.categories:
        r = c.rates
        wanted = [("FNR", r.false_negative_rate)] if c.kind != "benign" else []
        if c.kind != "harmful":
            wanted.append(("FPR", r.false_positive_rate))
        for name, stat in wanted:
            rows.add(c.category, c.kind, r.n, r.tp + r.fp, name, fmt_rate(stat.estimate),
                     fmt_ci(stat))
    return rows


def _comparison(c: Comparison, confidence: float) -> Rows:
    level = f"{100 * confidence:g}%"
    rows = Rows(f"B - A on {c.shared} shared inputs (McNemar exact; per-category p "
                f"Holm-adjusted)", ["scope", "rate", "n", "A", "B", "B - A", f"{level} CI", "p",
                                   "p (Holm)"], right=(2, 3, 4, 5, 7, 8))
    for r in c.rows:
        p = "-" if r.diff.p_value is None else f"{r.diff.p_value:.3g}"
        holm = "" if r.p_holm is None else f"{r.p_holm:.3g}"
        rows.add(r.scope, _RATE_NAMES[r.rate], r.diff.n, fmt_rate(r.a), fmt_rate(r.b),
                 f"{r.diff.estimate:+.3f}", fmt_ci(r.diff), p, holm)
    if c.only_a or c.only_b:
        rows.title += f"; {c.only_a} inputs only in A and {c.only_b} only in B left out"
    return rows


def _notes(found: Decisions) -> list[str]:
    notes = []
    if found.errored:
        notes.append(f"{found.errored} input(s) have no decision (the target or scorer "
                     f"failed) and are not counted; `evalstack show` lists the errors, and "
                     f"running the same command again retries them.")
    if found.other_epochs:
        notes.append(f"Only each input's first epoch is counted; {found.other_epochs} "
                     f"repeat(s) are left out.")
    return notes
