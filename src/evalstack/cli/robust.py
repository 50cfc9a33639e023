"""``evalstack robust``: run a task's perturbed variants and compare them with the original.

The original run comes first (stored, or resumed at no cost when it already is), then one run
per perturbation on the same items, then the paired report of ``analysis.robust``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli._decide import Rows, say
from evalstack.cli.options import IntAtLeast, build_run_config, run_config_options

if TYPE_CHECKING:
    from evalstack.analysis.robust import Drop, RobustReport
    from evalstack.core.task import Task


def _pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}"


def _p(p: float | None) -> str:
    return "-" if p is None else (f"{p:.2g}" if p >= 1e-4 else "<1e-4")


_EPILOG = """\b
Perturbations (NAME[:key=value,...]):
  rotate      every rotation of the options (circular evaluation)
  shuffle     seeded shuffles of the options (variants=N)
  labels      option labels changed (style=numbers|lower|roman)
  typos       seeded typos in the question (rate=0.05, variants=N)
  casing      the question's letter case changed (variants=N)
  whitespace  extra spaces and line breaks in the question (variants=N)
  distractor  an irrelevant sentence added to the question (variants=N)
  numbers     GSM8K quantities changed, the answer recomputed
  paraphrase  the question rewritten by a model and checked to keep its answer
              (model=local/smollm2, variants=N, check=auto|rules|judge); the replies
              are cached in the store, so a rerun makes no paraphrasing request
"""


@click.command("robust", epilog=_EPILOG)
@click.argument("task")
@click.option("--perturb", "perturbs", multiple=True, required=True, metavar="NAME[:K=V,...]",
              help="A perturbation (repeatable), e.g. rotate, 'shuffle:variants=3', "
                   "'typos:rate=0.05,variants=2', labels.")
@click.option("-m", "--model", default=None, metavar="PROVIDER/MODEL",
              help="The model [default: the stored run's, or $EVALSTACK_MODEL or local/smollm2].")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the model, as in evalstack run.")
@click.option("-T", "--task-arg", "task_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the task, as in evalstack run.")
@click.option("--metric", default=None, help="The metric compared [default: the task's first].")
@click.option("--perturb-seed", type=int, default=0, show_default=True,
              help="Seed of the perturbations (the same seed makes the same variants).")
@click.option("--show", "show_items", type=IntAtLeast(0), default=20, show_default=True,
              help="Suspect items listed.")
@run_config_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]),
              default="table", show_default=True, help="Output format.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def robust_command(task: str, perturbs: tuple[str, ...], model: str | None,
                   model_args: tuple[str, ...], task_args: tuple[str, ...], metric: str | None,
                   perturb_seed: int, show_items: int, as_json: bool, fmt: str,
                   no_progress: bool, **flags: Any) -> None:
    """Run TASK (a task, as in `evalstack run`, or a stored run's id) in its original wording
    and under each --perturb, and compare them item by item.

    \b
    Prints the paired drop (original - perturbed) with its 95% interval and p-value
    (McNemar's exact test for a binary score with one variant per item, else a paired
    permutation test), per perturbation and per category of at least 5 items
    (Holm-corrected), and the suspect items: right in the original wording, wrong in most
    variants, with the posterior probability that the item was memorised. Items are
    flagged only when the drop is significant.

    \b
    Examples:
      evalstack robust mmlu -m local/smollm2 --limit 200 --perturb rotate
      evalstack robust mmlu -m local/smollm2 --limit 100 --perturb rotate --perturb labels
      evalstack robust RUN_ID --perturb 'typos:rate=0.05,variants=3'
    """
    import sys

    from evalstack.perturb import parse_perturbation
    from evalstack.runner.resolve import parse_kv

    fmt = "json" if as_json else fmt
    chosen = [parse_perturbation(p) for p in perturbs]  # bad names fail before any request
    run = build_run_config(flags, progress=not no_progress and sys.stderr.isatty())
    base, model_spec, margs, limit, stored = _target(
        task, model, parse_kv(model_args, "--model-arg"), parse_kv(task_args, "--task-arg"), run)
    for p in chosen:
        p.check(base)
    report = _run_all(base, model_spec, margs, limit, chosen, perturb_seed, run, metric, stored,
                      flags)
    _print(report, fmt, show_items)


def _target(task: str, model: str | None, margs: dict[str, Any], targs: dict[str, Any],
            run: Any) -> tuple[Task, str, dict[str, Any], int | None, str | None]:
    """The task, model spec, model arguments, limit and original run: those of a stored run
    (whose results are then reused, not run again), or as given."""
    import os

    from evalstack.core import registry
    from evalstack.core.errors import ConfigError, UserError
    from evalstack.runner.resolve import resolve_task

    if task not in registry.names("task") and not os.path.exists(task.partition("@")[0]):
        from evalstack.store import Store

        try:
            with Store.open(run.store, create=False) as st:
                record = st.resolve_run(task)
        except (UserError, ConfigError):
            record = None
        if record is not None:
            args = {k: v for k, v in (record.task_spec.get("args") or {}).items()
                    if k != "perturb"}
            tasks = resolve_task(record.task_name, task_args={**args, **targs})
            return (tasks[0], model or record.model, {**record.model_args, **margs},
                    record.limit, record.id)
    tasks = resolve_task(task, task_args=targs)
    if len(tasks) != 1:
        raise ConfigError(f"{task!r} holds {len(tasks)} tasks; name one as FILE@TASK.")
    spec = model or os.environ.get("EVALSTACK_MODEL", "local/smollm2")
    return tasks[0], spec, margs, run.limit, None


def _run_all(base: Task, model: str, margs: dict[str, Any], limit: int | None,
             chosen: list[Any], seed: int, run: Any, metric: str | None,
             stored: str | None, flags: dict[str, Any]) -> RobustReport:
    from evalstack.analysis.pairs import load_scores
    from evalstack.analysis.robust import robustness
    from evalstack.cli.safe import echo
    from evalstack.perturb.base import PerturbedDataset, describe
    from evalstack.runner.evaluate import evaluate
    from evalstack.store import Store

    original_id = stored or evaluate([base], [model], run.model_copy(update={"limit": limit}),
                                     model_args=margs).tasks[0].run_id
    variant_ids = []
    for p in chosen:
        task = _perturbed(base, p, seed, limit, run, flags)
        data = task.dataset
        if (isinstance(data, PerturbedDataset) and len(data) and data.skipped.ids
                and not p.uses_model):  # a model's rejections are reported already
            echo(f"{p.name}: {len(data.skipped.ids)} item(s) left out (the perturbation "
                     f"cannot apply to them), e.g. {', '.join(data.skipped.ids[:3])}.", err=True)
        if len(data) == 0:
            echo(f"{p.name}: no item could be perturbed; skipped.", err=True)
            continue
        result = evaluate([task], [model], run.model_copy(update={"limit": None}),
                          model_args=margs).tasks[0]
        variant_ids.append((result.run_id, describe(p.spec(seed))))
    with Store.open(run.store, create=False) as st:
        orig = load_scores(st, st.get_run(original_id))
        variants = [(load_scores(st, st.get_run(rid)), label) for rid, label in variant_ids]
    return robustness(orig, variants, metric, seed=run.seed)


def _perturbed(base: Task, p: Any, seed: int, limit: int | None, run: Any,
               flags: dict[str, Any]) -> Task:
    """``base`` perturbed by ``p``; a perturbation that asks a model does so inside the
    command's model layer, with the store's response cache (a rerun asks nothing again)."""
    from evalstack.cli.judge import _judge_models
    from evalstack.cli.safe import echo
    from evalstack.core.errors import UserError
    from evalstack.perturb.base import perturb_task

    if not p.uses_model:
        return perturb_task(base, p, seed=seed, limit=limit)
    echo(f"{p.name}: asking {p.params.get('model')} (cached replies are reused)...", err=True)
    with _judge_models(run.store, not run.cache, flags):
        task = perturb_task(base, p, seed=seed, limit=limit)
    made = p.report()
    rejected: dict[str, str] = made["rejected"]
    echo(f"{p.name}: {made['kept']} item(s) kept, {len(rejected)} rejected; "
         f"{made['requests']} model request(s).", err=True)
    for item, why in list(rejected.items())[:5]:
        echo(f"  {item}: {why}", err=True)
    if rejected and not made["kept"]:
        raise UserError(
            f"{p.name}: no paraphrase passed the checks (e.g. {next(iter(rejected))}: "
            f"{next(iter(rejected.values()))}), so there is nothing to compare; no variant "
            "was run and the original run is kept. Try another model=..., more attempts=N, "
            "or check=rules.")
    return task


def _drop_dict(d: Drop) -> dict[str, Any]:
    return {"scope": d.scope, "n": d.n, "original": d.original, "perturbed": d.perturbed,
            "drop": d.drop.estimate, "ci": [d.drop.ci_low, d.drop.ci_high],
            "p_value": d.drop.p_value, "p_adjusted": d.p_adjusted, "method": d.drop.method,
            "significant": d.significant}


def report_dict(r: RobustReport) -> dict[str, Any]:
    return {
        "metric": r.metric, "original_run": r.original_run,
        "variant_runs": [{"run": rid, "perturbation": label} for rid, label in r.variant_runs],
        "overall": _drop_dict(r.overall),
        "by_perturbation": [_drop_dict(d) for d in r.by_perturbation],
        "by_category": [_drop_dict(d) for d in r.by_category],
        "memorised_share": r.memorised_share,
        "suspects": [{"item": i.item_id, "category": i.category, "variants": i.variants,
                      "variants_right": i.variants_right, "posterior": i.posterior}
                     for i in r.suspects],
        "items": len(r.items), "unpaired_variants": r.unpaired, "notes": r.notes,
    }


def _print(r: RobustReport, fmt: str, show_items: int) -> None:
    from evalstack.cli.render import make_console

    if fmt == "json":
        click.echo(json.dumps(report_dict(r)))
        return
    console = make_console()
    say(fmt, console, f"Robustness of run {r.original_run} ({r.metric}, {len(r.items)} items)",
        style="bold")
    for rid, label in r.variant_runs:
        say(fmt, console, f"  variant run {rid}: {label}")
    rows = Rows("Paired drop, original - perturbed (points; 95% interval)",
                ["scope", "n", "original", "perturbed", "drop", "95% CI", "p", "p (Holm)"],
                right=range(1, 8))
    for d in [r.overall, *r.by_perturbation]:
        rows.add(d.scope, d.n, _pct(d.original), _pct(d.perturbed), _pct(d.drop.estimate),
                 f"[{_pct(d.drop.ci_low)}, {_pct(d.drop.ci_high)}]", _p(d.drop.p_value), "")
    for d in r.by_category:
        rows.add(f"  {d.scope}", d.n, _pct(d.original), _pct(d.perturbed),
                 _pct(d.drop.estimate), f"[{_pct(d.drop.ci_low)}, {_pct(d.drop.ci_high)}]",
                 _p(d.drop.p_value), _p(d.p_adjusted))
    rows.print(fmt, console)
    verdict = ("significant" if r.overall.significant else "not significant")
    say(fmt, console, f"The drop is {verdict} ({r.overall.drop.method}, n={r.overall.n}).")
    if r.memorised_share is not None:
        say(fmt, console, f"Estimated share of items memorised: {100 * r.memorised_share:.1f}%.")
    suspects = r.suspects
    say(fmt, console, f"Suspect items: {len(suspects)}")
    if suspects and show_items:
        table = Rows("Suspect items (right in the original wording, wrong in most variants)",
                     ["item", "category", "variants right", "P(memorised)"], right=(2, 3))
        for i in suspects[:show_items]:
            table.add(i.item_id, i.category or "", f"{i.variants_right}/{i.variants}",
                      f"{i.posterior:.2f}")
        table.print(fmt, console)
    for note in r.notes:
        say(fmt, console, note)
    if r.unpaired:
        say(fmt, console, f"{r.unpaired} variant sample(s) matched no original item.")
