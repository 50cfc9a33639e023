"""``evalstack judge``: check a judge against human labels before trusting its scores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli.options import Proportion, model_call_options

if TYPE_CHECKING:
    from evalstack.analysis.judge_validation import ValidationReport
    from evalstack.core.errors import ScorerError
    from evalstack.scorers.judge.pairwise import PairwiseVerdict


_NO_CACHE = click.option(
    "--no-cache", is_flag=True,
    help="Ask the judge again instead of reusing its stored replies. Replies that parsed are "
         "kept in the store as they arrive, so an interrupted command picks up where it "
         "stopped when run again.")


_VERDICT_ATTEMPTS = click.option(
    "--verdict-attempts", "--max-attempts", "max_attempts", type=click.IntRange(min=1),
    default=3, show_default=True,
    help="Replies asked for per item at most when a reply holds no usable verdict; then the "
         "item is a judge error. Failed calls (429, 5xx, timeouts) are retried as in `run`, "
         "under --max-retries, --timeout and --retry-time.")


@contextmanager
def _judge_models(store_url: str | None, disabled: bool, limits: dict[str, Any], *,
                  opened: Any = None) -> Iterator[Any]:
    """The judge's model layer for the command: ``run``'s limits and retries, and the store's
    response cache (replies are kept as they arrive), open for the command's duration.

    ``opened``: a store the caller already has open, used for the cache and left open. A
    second engine on the same SQLite file, opened and disposed alongside the first, broke
    writes while another process read the store (``disk I/O error``)."""
    from evalstack.cli.options import build_run_config
    from evalstack.model.cache import StoreCache
    from evalstack.model.context import ModelContext, use_models
    from evalstack.store import Store

    policy = build_run_config(dict(limits)).call_policy()
    if disabled:
        with use_models(ModelContext(policy)) as models:
            yield models
        return
    store = opened if opened is not None else Store.open(store_url)
    try:
        def cache(prefix: str) -> StoreCache:
            return StoreCache(store, read=store.cache_has_prefix(prefix))

        with use_models(ModelContext(policy, cache=cache)) as models:
            yield models
    finally:
        if opened is None:
            store.close()


@click.group("judge")
def judge_command() -> None:
    """Check LLM judges against human labels, and judge two runs pairwise.

    A judge is a measuring instrument: before its scores decide anything, measure how well
    it agrees with people, and how easily it is swayed by position, length, or text that
    addresses it.

    \b
    Validate the embedded model as a judge on LLMBar's human preferences:
      evalstack judge validate LLMBar/Dataset/LLMBar/Natural/dataset.json \\
          --judge local/smollm2 --limit 50

    \b
    Ask a judge which of two runs answered better, item by item, in both orders:
      evalstack judge pairwise RUN_A RUN_B --judge openai/gpt-4o-mini
    """


@judge_command.command("pairwise")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--judge", "judge_spec", default="local/smollm2", show_default=True,
              help="The judge model, provider/model.")
@click.option("-M", "--judge-arg", "judge_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the judge model. API keys come from the environment.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Judge the first N shared items (by sample id).")
@click.option("--no-reference", is_flag=True,
              help="Do not show the samples' targets to the judge as a reference.")
@_VERDICT_ATTEMPTS
@model_call_options
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with every item's verdict.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@_NO_CACHE
def pairwise_command(run_a: str, run_b: str, judge_spec: str, judge_args: tuple[str, ...],
                     limit: int | None, no_reference: bool, max_attempts: int,
                     store: str | None, as_json: bool, no_progress: bool,
                     no_cache: bool, **limits: Any) -> None:
    """Which run answered better? A judge compares RUN_A's and RUN_B's outputs per item.

    Items are matched by sample id and epoch; items that errored in either run are left out.
    Each pair is judged twice, with A shown first and then B; when the two orders disagree the
    item is a tie, counted as inconsistent (the judge followed the position, not the answers).
    The summary gives B's win rate among decisive items with a 95% Wilson interval and an
    exact sign test. Check the judge first with `evalstack judge validate`.

    \b
    Examples:
      evalstack judge pairwise baseline:prod RUN_B --judge openai/gpt-4o-mini
      evalstack judge pairwise RUN_A RUN_B --limit 50 --json > verdicts.json
    """
    from evalstack.runner.resolve import parse_kv

    items = _shared_items(store, run_a, run_b, limit, not no_reference)
    args = parse_kv(judge_args, "--judge-arg")
    with _judge_models(store, no_cache, limits):
        verdicts = _judge_pairs(items, judge_spec, args, max_attempts,
                                progress=not (no_progress or as_json))
    _store_battles(store, items, verdicts, judge_spec)
    _print_pairwise(items, verdicts, as_json)


def _store_battles(store_url: str | None, items: list[dict[str, Any]], verdicts: list[Any],
                   judge_spec: str) -> None:
    """The judged pairs as battles in the arena named after run A's task (each epoch a battle
    on the same prompt); a pair with no verdict is stored flagged. Judging the same pair
    again adds nothing. Two runs of one model are told apart by their run ids."""
    from evalstack.scorers.judge.pairwise import PairwiseVerdict, pairwise_template_hash
    from evalstack.store import Store
    from evalstack.store.battles import BattleRecord, add_battles, battle_key

    template = pairwise_template_hash()
    records = []
    for item, v in zip(items, verdicts, strict=True):
        (run_a, run_b), (model_a, model_b) = item["runs"], item["models"]
        if model_a == model_b:
            model_a, model_b = f"{model_a}#{run_a}", f"{model_b}#{run_b}"
        ok = isinstance(v, PairwiseVerdict)
        records.append(BattleRecord(
            arena=item["arena"], prompt_id=item["sample_id"], model_a=model_a,
            model_b=model_b, run_a=run_a, run_b=run_b, outcome=v.winner if ok else None,
            flag=None if ok else f"judge gave no verdict: {v}"[:500], decided_by="judge",
            judge=judge_spec, judge_version=v.judge.get("version") if ok else None,
            template_hash=template, consistent=v.consistent if ok else None,
            len_a=len(item["a"]), len_b=len(item["b"]), source="judge pairwise",
            key=battle_key("judge pairwise", run_a, run_b, item["sample_id"], item["epoch"],
                           judge_spec, template),
        ))
    with Store.open(store_url, create=False) as st:
        add_battles(st, records)


@judge_command.command("validate")
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("--judge", "judge_spec", default="local/smollm2", show_default=True,
              help="The judge model, provider/model.")
@click.option("-M", "--judge-arg", "judge_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the judge model, e.g. -M base_url=http://127.0.0.1:8000/v1. "
                   "API keys come from the environment and are never stored.")
@click.option("--rubric", default="default", show_default=True,
              help="Rubric for pointwise grading and the probes: a built-in name (default, "
                   "factual_qa, summarization, support, code_review) or a YAML file.")
@click.option("--scorer", "scorer_name", default="llm_judge", show_default=True,
              type=click.Choice(["llm_judge", "faithfulness", "context_recall",
                                 "context_precision", "answer_relevance"]),
              help="The judge metric to validate: llm_judge (on --rubric), or a "
                   "statement-checked metric (faithfulness, context_recall, "
                   "context_precision: the label's source is the context), or "
                   "answer_relevance (llm_judge on its rubric).")
@click.option("--undecided", default="count", show_default=True,
              type=click.Choice(["count", "exclude"]),
              help="Statement metrics: an undecided statement counts against the value "
                   "(count) or is left out of it (exclude).")
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Label file format: auto, evalstack (JSONL), llmbar, summac, unieval, "
                   "topical_chat, xsum_hallucination.")
@click.option("--documents", type=click.Path(dir_okay=False), default=None,
              help="xsum_hallucination labels: the file with the articles (SummaC's "
                   "xsumfaith.json, or a JSONL of {bbcid, document}).")
@click.option("--scale", default=None, metavar="MIN-MAX",
              help="The human score scale for pointwise labels, e.g. 1-5 (default: inferred).")
@click.option("--limit", type=click.IntRange(min=2), default=None,
              help="Validate on the first N labelled items.")
@click.option("--threshold", type=Proportion(low_open=True, what="an agreement level",
                                             example="0.6"), default=0.6,
              show_default=True,
              help="Agreement (Cohen's kappa; quadratic-weighted for ordinal labels) needed to "
                   "be fit for purpose.")
@click.option("--probes", default="all", show_default=True,
              help="Bias probes to run: all, none, or a comma list of verbosity_correct, "
                   "verbosity_wrong, ignore_rubric, fake_delimiter, fake_verdict, null_answer.")
@click.option("--probe-limit", type=click.IntRange(min=2), default=40, show_default=True,
              help="Good and bad answers each probe rewrites, at most.")
@click.option("--run", "run_ref", default=None,
              help="A run scored by this judge (llm_judge): its scores are corrected with the "
                   "human labels into a prediction-powered estimate of the human mean.")
@click.option("--metric", default=None, help="The run's judge metric (default: llm_judge).")
@_VERDICT_ATTEMPTS
@model_call_options
@click.option("--resamples", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Bootstrap resamples for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path: the judge's reply cache, and the run for --run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@_NO_CACHE
def validate_command(labels: str, judge_spec: str, judge_args: tuple[str, ...], rubric: str,
                     scorer_name: str, undecided: str, fmt: str, documents: str | None,
                     scale: str | None, limit: int | None, threshold: float,
                     probes: str, probe_limit: int, run_ref: str | None, metric: str | None,
                     max_attempts: int, resamples: int, seed: int, store: str | None,
                     as_json: bool, no_progress: bool, no_cache: bool,
                     **limits: Any) -> None:
    """Measure a judge against human LABELS and say whether it is fit for purpose.

    LABELS holds items with a human score (pointwise) or a human preference between two
    answers (pairwise): an evalstack JSONL file, or LLMBar, SummaC, UniEval (QAGS) and
    Topical-Chat files as published, or store:RUN for the labels collected in the viewer
    (evalstack view, then Label) on that run. The report gives, each with an interval:

    \b
      agreement      accuracy, Cohen's kappa, Spearman's rho, confusion matrix
      position bias  how often a pairwise verdict flips when the order is swapped
      verbosity      score change when a good answer is padded, a bad one lengthened
      injection      score lift from answers that address the judge, and a null answer
      self-pref.     the judge's own model family against others (if answers say who)
      corrected      with --run: the run's judge mean corrected by the human labels (PPI)

    It ends with a verdict: fit for purpose at --threshold, not fit, or inconclusive.

    \b
    evalstack JSONL, one item per line:
      {"input": "2+2?", "answer": "5", "reference": "4", "human": 1, "model": "gpt-4o"}
      {"input": "Say hi", "answer_a": "hi", "answer_b": "bye", "preference": "a"}

    \b
    Examples:
      evalstack judge validate labels.jsonl --judge openai/gpt-4o-mini --scale 1-5
      evalstack judge validate llmbar/Dataset/LLMBar/Natural/dataset.json --limit 50
      evalstack judge validate summeval.json --rubric summarization --probes none
      evalstack judge validate xsumfaith.json --scorer faithfulness --probes none
      evalstack judge validate hallucination_annotations_xsum_summaries.csv \
          --documents xsumfaith.json --scorer faithfulness
      evalstack judge validate labels.jsonl --run RUN_ID     # judge-corrected estimate
    """
    from evalstack.analysis.judge_validation import ValidationConfig
    from evalstack.core.errors import ConfigError
    from evalstack.datasets.labels import load_labels
    from evalstack.runner.resolve import parse_kv
    from evalstack.scorers.judge.model import JudgeModel
    from evalstack.scorers.judge.probes import PROBES

    chosen: tuple[str, ...]
    if probes.strip().lower() == "all":
        chosen = PROBES
    elif probes.strip().lower() == "none":
        chosen = ()
    else:
        chosen = tuple(p.strip() for p in probes.split(",") if p.strip())
    config = ValidationConfig(threshold=threshold, probes=chosen, probe_limit=probe_limit,
                              n_resamples=resamples, seed=seed)
    human_scale = _parse_scale(scale) if scale else None
    if labels.startswith("store:"):
        data = _stored_labels(store, labels.removeprefix("store:"), limit)
    else:
        data = load_labels(labels, fmt, limit=limit, scale=human_scale, documents=documents)
    args = parse_kv(judge_args, "--judge-arg")
    with _judge_models(store, no_cache, limits):
        model = JudgeModel(judge_spec, args, max_attempts=max_attempts)
        judge = _grading_judge(scorer_name, rubric, undecided, model)
        unlabeled = None
        if run_ref:
            if data.kind != "pointwise":
                raise ConfigError("--run needs pointwise human scores (a human score per "
                                  "item), not pairwise preferences.")
            unlabeled = _run_scores(run_ref, metric or scorer_name, store, judge_spec,
                                    judge.template_hash)
        report = _validate(data, judge, config, unlabeled,
                           progress=not (no_progress or as_json))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        from evalstack.cli.judge_report import print_report

        print_report(report)


def _grading_judge(scorer_name: str, rubric: str, undecided: str, model: Any) -> Any:
    """The judge that ``judge validate`` measures: a rubric judge, or a statement metric."""
    from evalstack.scorers.judge.rag import (
        ContextPrecision,
        ContextRecall,
        Faithfulness,
        StatementMetric,
    )
    from evalstack.scorers.judge.rubric import load_rubric
    from evalstack.scorers.judge.scorer import RubricJudge

    metrics: dict[str, type[StatementMetric]] = {
               "faithfulness": Faithfulness, "context_recall": ContextRecall,
               "context_precision": ContextPrecision}
    if scorer_name in metrics:
        return metrics[scorer_name](model, undecided, None)
    if scorer_name == "answer_relevance":
        rubric = "answer_relevance"
    return RubricJudge(load_rubric(rubric), model)


def _stored_labels(store_url: str | None, run_ref: str, limit: int | None) -> Any:
    """Labels collected in the viewer for a run (``store:RUN``)."""
    import dataclasses

    from evalstack.datasets.store_labels import labels_from_store
    from evalstack.store import Store

    with Store.open(store_url, create=False) as st:
        data = labels_from_store(st, run_ref)
    if limit is not None:
        data = dataclasses.replace(data, items=data.items[:limit])
    return data


def _parse_scale(text: str) -> tuple[float, float]:
    from evalstack.core.errors import ConfigError

    lo, sep, hi = text.partition("-")
    try:
        low, high = float(lo), float(hi)
    except ValueError:
        low = high = float("nan")
    if not sep or not low < high:
        raise ConfigError(f"--scale must look like MIN-MAX with MIN < MAX, e.g. 1-5; got {text!r}.")
    return low, high


def _run_scores(run_ref: str, metric: str | None, store_url: str | None, judge_model: str,
                template: str) -> list[float]:
    """The run's judge scores, after checking that this judge, with this template, gave them."""
    from evalstack.core.errors import UserError
    from evalstack.store import Store

    name = metric or "llm_judge"
    values: list[float] = []
    setups: set[tuple[str, str]] = set()
    with Store.open(store_url, create=False) as store:
        run = store.resolve_run(run_ref)
        for row in store.iter_scores(run.id):
            score = row.scores.get(name)
            if row.error is not None or score is None or score.get("value") is None:
                continue
            values.append(float(score["value"]))
            judge = (score.get("metadata") or {}).get("judge") or {}
            setups.add((str(judge.get("model")), str(judge.get("template_hash"))))
    if not values:
        raise UserError(
            f"Run {run.id} has no {name!r} scores. Pass --metric with the name of its judge "
            f"metric (see evalstack show {run.id})."
        )
    if setups != {(judge_model, template)}:
        found = "; ".join(f"{m} (template {h[:12]})" for m, h in sorted(setups))
        raise UserError(
            f"Run {run.id} was judged by {found}, not by {judge_model} (template "
            f"{template[:12]}) as validated here. The correction is only valid for the same "
            f"judge and rubric: pass the run's judge with --judge and its rubric with --rubric."
        )
    return values


def _shared_items(store_url: str | None, run_a: str, run_b: str, limit: int | None,
                  reference: bool) -> list[dict[str, Any]]:
    """The (question, output A, output B, reference) of every item both runs finished."""
    from evalstack.core.errors import UserError
    from evalstack.store import Store

    with Store.open(store_url, create=False) as st:
        a, b = st.resolve_run(run_a), st.resolve_run(run_b)
        outputs_b = {(r.sample_id, r.epoch): r.output for r in st.iter_samples(b.id, errors=False)}
        items = []
        for r in st.iter_samples(a.id, errors=False):
            key = (r.sample_id, r.epoch)
            if key not in outputs_b:
                continue
            items.append({"sample_id": r.sample_id, "epoch": r.epoch,
                          "question": r.input_text(), "a": r.output, "b": outputs_b[key],
                          "reference": r.target_text() if reference else None})
            if limit is not None and len(items) >= limit:
                break
    if not items:
        raise UserError(
            f"Runs {a.id} and {b.id} share no successful samples to compare; pairwise judging "
            f"needs the same task run on both models."
        )
    for item in items:
        item["runs"] = (a.id, b.id)
        item["models"] = (a.model, b.model)
        item["arena"] = a.task_name
    return items


def _judge_pairs(items: list[dict[str, Any]], judge_spec: str, args: dict[str, Any],
                 max_attempts: int, *, progress: bool) -> list[Any]:
    import asyncio

    from evalstack.core.errors import ScorerError
    from evalstack.runner.progress import NoProgress, RichProgress
    from evalstack.scorers.judge.pairwise import PairwiseJudge

    judge = PairwiseJudge(judge_spec, args, max_attempts=max_attempts)
    bar = RichProgress() if progress else NoProgress()
    errors = {"n": 0}

    async def one(item: dict[str, Any]) -> Any:
        verdict: PairwiseVerdict | ScorerError
        try:
            verdict = await judge.compare(item["question"], item["a"], item["b"],
                                          item["reference"])
        except ScorerError as exc:
            errors["n"] += 1
            verdict = exc
        bar.advance(errors["n"], 0.0)
        return verdict

    async def main() -> list[Any]:
        bar.start(f"judge pairwise · {judge_spec}", len(items), 0)
        try:
            return list(await asyncio.gather(*(one(item) for item in items)))
        finally:
            bar.finish()
            await judge.aclose()

    return asyncio.run(main())


def _print_pairwise(items: list[dict[str, Any]], verdicts: list[Any], as_json: bool) -> None:
    from dataclasses import asdict

    from evalstack.analysis.preferences import summarize_preferences
    from evalstack.scorers.judge.pairwise import PairwiseVerdict

    judged = [(i, v) for i, v in zip(items, verdicts, strict=True)
              if isinstance(v, PairwiseVerdict)]
    failed = [(i, v) for i, v in zip(items, verdicts, strict=True)
              if not isinstance(v, PairwiseVerdict)]
    summary = summarize_preferences([v.winner for _, v in judged],
                                    [v.consistent for _, v in judged])
    judge = judged[0][1].judge if judged else {}
    if as_json:
        click.echo(json.dumps({
            "runs": list(items[0]["runs"]), "judge": judge, "summary": asdict(summary),
            "judge_errors": [{"sample_id": i["sample_id"], "epoch": i["epoch"], "error": str(v)}
                             for i, v in failed],
            "items": [{"sample_id": i["sample_id"], "epoch": i["epoch"], **asdict(v)}
                      for i, v in judged],
        }, indent=2, default=str))
        return
    from evalstack.cli._decide import Rows, say
    from evalstack.cli.safe import SafeConsole

    console = SafeConsole()
    a, b = items[0]["runs"]
    say("table", console, f"Pairwise judge {judge.get('model', '?')} (version "
        f"{judge.get('version') or 'unknown'}): A = {a}, B = {b}", "bold")
    rows = Rows(f"Verdicts on {summary.n} items, each judged in both orders",
                ["outcome", "items", "share"], [1, 2])
    n = max(summary.n, 1)
    for label, count in (("A wins", summary.wins_a), ("B wins", summary.wins_b),
                         ("tie (judge said tie)", summary.ties - summary.inconsistent),
                         ("tie (orders disagreed)", summary.inconsistent)):
        rows.add(label, count, f"{count / n:.1%}")
    rows.print("table", console)
    if summary.win_rate_b is not None:
        w = summary.win_rate_b
        say("table", console, f"B's win rate among decisive items: {w.estimate:.1%} "
            f"[{w.ci_low:.1%}, {w.ci_high:.1%}] (95% Wilson), sign test p={summary.p_value:.2g}.")
    if failed:
        say("table", console, f"{len(failed)} items got no usable verdict (judge errors); "
            f"they are left out.")
    say("table", console, summary.verdict, "bold")


def _validate(data: Any, judge: Any, config: Any, unlabeled: list[float] | None, *,
              progress: bool) -> ValidationReport:
    import asyncio

    from evalstack.analysis.judge_validation import validate_judge
    from evalstack.runner.progress import NoProgress, RichProgress

    bar = RichProgress() if progress else NoProgress()
    errors = {"n": 0}
    n = len(data.items)
    total = n + len(config.probes) * config.probe_limit + 2 * config.probe_limit

    def tick(error: int) -> None:
        errors["n"] += error
        bar.advance(errors["n"], 0.0)

    async def main() -> ValidationReport:
        bar.start(f"judge validate · {judge.model.model}", total, 0)
        try:
            return await validate_judge(data, judge, config, unlabeled_judge_scores=unlabeled,
                                        progress=tick)
        finally:
            bar.finish()
            await judge.aclose()

    return asyncio.run(main())
