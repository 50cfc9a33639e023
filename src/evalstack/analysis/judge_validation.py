"""Judge validation: measure a judge against human labels before trusting it.

``validate_judge`` grades every labelled item with the judge (pointwise on a rubric, or
pairwise in both orders), then probes the judge's biases on a subset, and returns a
``ValidationReport``:

- agreement with the humans: accuracy, Cohen's kappa (quadratic-weighted on ordinal scales),
  Spearman's rho and the confusion matrix, each with a bootstrap interval;
- position bias: how often a pairwise verdict changes when the order is swapped;
- verbosity bias and injection susceptibility: the paired score lift of each probe in
  ``probes.py`` over the untouched answers;
- self-preference, when the labelled answers name their models and the judge's family is
  among them;
- a judge-corrected (prediction-powered) estimate of the human mean, when judge scores of
  unlabelled items are given;
- a verdict: fit for purpose at the agreement threshold, not fit, or inconclusive.

A judge error on an item (no usable verdict after retries) leaves that item out of the
statistics and is counted in the report; it is never turned into a score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from evalstack.analysis.judge_agreement import (
    Agreement,
    pairwise_agreement,
    pointwise_agreement,
    rate,
)
from evalstack.analysis.judge_bias import (
    Corrected,
    Fitness,
    Lift,
    SelfPreference,
    corrected_mean,
    fitness,
    lift,
    self_preference,
)
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.datasets.labels import HumanLabels, LabelItem
from evalstack.scorers.judge.model import JudgeModel, JudgeReply
from evalstack.scorers.judge.pairwise import PairwiseJudge, PairwiseVerdict
from evalstack.scorers.judge.probes import PROBES, probe_answer, probe_targets
from evalstack.scorers.judge.rubric import Rubric
from evalstack.scorers.judge.verdict import COPIED
from evalstack.stats.result import StatResult

T = TypeVar("T")


class Normalized(Protocol):
    """A verdict with a value in [0, 1] (what is compared with the human labels)."""

    @property
    def normalized(self) -> float: ...


class GradingJudge(Protocol):
    """What ``validate_judge`` grades with: a rubric judge (``RubricJudge``) or a
    statement-checked metric (``evalstack.scorers.judge.rag``: faithfulness, ...)."""

    model: JudgeModel
    rubric: Rubric
    template_hash: str

    async def grade(self, question: str, answer: str, reference: str | None = None,
                    source: str | None = None) -> JudgeReply[Normalized]: ...


@dataclass(frozen=True)
class ValidationConfig:
    """How to validate.

    Attributes:
        threshold: the agreement (Cohen's kappa; quadratic-weighted for ordinal labels) the
            judge must reach to be fit for purpose.
        probes: which bias probes to run (``probes.PROBES``); empty for none.
        probe_limit: how many good and how many bad answers each probe rewrites, at most.
        n_resamples: bootstrap resamples for the intervals.
        confidence: the intervals' confidence level.
        seed: seeds the bootstrap.
    """

    threshold: float = 0.6
    probes: tuple[str, ...] = PROBES
    probe_limit: int = 40
    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [p for p in self.probes if p not in PROBES]
        if unknown:
            raise ConfigError(
                f"Unknown probe(s) {', '.join(unknown)}; expected some of {', '.join(PROBES)}."
            )
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"The agreement threshold must be in (0, 1]; got {self.threshold}.")
        if self.probe_limit < 2:
            raise ConfigError(f"probe_limit must be at least 2; got {self.probe_limit}.")


@dataclass(frozen=True)
class ValidationReport:
    """Everything ``evalstack judge validate`` prints (``to_dict`` for JSON)."""

    labels: str
    kind: str
    judge: dict[str, Any]
    n_items: int
    judged: int
    judge_errors: int
    agreement: Agreement
    threshold: float
    position_inconsistency: StatResult | None
    first_position_wins: StatResult | None
    lifts: tuple[Lift, ...]
    probe_errors: dict[str, int]
    self_preference: SelfPreference | None
    corrected: Corrected | None
    fitness: Fitness
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Progress:
    """Counts finished judge calls for a caller-supplied callback."""

    def __init__(self, tick: Callable[[int], None] | None) -> None:
        self.tick = tick

    def done(self, errors: int = 0) -> None:
        if self.tick is not None:
            self.tick(errors)


async def _guarded(call: Awaitable[T], progress: _Progress) -> T | None:
    try:
        result = await call
    except ScorerError:
        progress.done(1)
        return None
    progress.done(0)
    return result


def _human_normalized(item: LabelItem, scale: tuple[float, float]) -> float:
    lo, hi = scale
    assert item.human is not None
    return (item.human - lo) / (hi - lo) if hi > lo else 0.0


def _probe_pools(labels: HumanLabels) -> tuple[list[tuple[LabelItem, str]],
                                               list[tuple[LabelItem, str]]]:
    """(item, answer) pairs humans judged good, and bad."""
    good: list[tuple[LabelItem, str]] = []
    bad: list[tuple[LabelItem, str]] = []
    for item in labels.items:
        if labels.kind == "pairwise":
            if item.preference in ("a", "b") and item.answer_a is not None \
                    and item.answer_b is not None:
                win, lose = ((item.answer_a, item.answer_b) if item.preference == "a"
                             else (item.answer_b, item.answer_a))
                good.append((item, win))
                bad.append((item, lose))
        elif item.answer is not None and item.human is not None and labels.scale is not None:
            h = _human_normalized(item, labels.scale)
            if h > 0.5:
                good.append((item, item.answer))
            elif h < 0.5:
                bad.append((item, item.answer))
    return good, bad


async def validate_judge(
    labels: HumanLabels,
    judge: GradingJudge,
    config: ValidationConfig = ValidationConfig(),
    *,
    pairwise: PairwiseJudge | None = None,
    unlabeled_judge_scores: Sequence[float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ValidationReport:
    """Validate ``judge`` against human ``labels`` (see the module docstring).

    Args:
        labels: human labels (``evalstack.datasets.labels.load_labels``).
        judge: the rubric judge under test; its model also drives the pairwise judge when
            ``pairwise`` is not given.
        config: thresholds, probes, bootstrap settings.
        pairwise: the pairwise judge for pairwise labels.
        unlabeled_judge_scores: the judge's normalized scores on items without human labels
            (a run's ``llm_judge`` scores), for the judge-corrected estimate.
        progress: called with 0 (done) or 1 (judge error) after every judged item.

    Returns:
        The report, ending in a fit-for-purpose verdict.
    """
    tick = _Progress(progress)
    notes: list[str] = list(labels.notes)
    pair_judge = pairwise or PairwiseJudge(judge.model)
    judge_info: dict[str, Any] = {"model": judge.model.model, "rubric": judge.rubric.name,
                                  "template_hash": judge.template_hash}
    position: StatResult | None = None
    first_wins: StatResult | None = None
    clean_scores: dict[int, float] = {}  # id(item) -> normalized score of its (good/bad) answer
    human_norm: list[float] = []
    judged_scores: list[float] = []
    families: list[str] = []
    if labels.kind == "pairwise":
        verdicts = await asyncio.gather(*(
            _guarded(pair_judge.compare(it.input, it.answer_a or "", it.answer_b or "",
                                        it.reference), tick)
            for it in labels.items
        ))
        kept = [(it, v) for it, v in zip(labels.items, verdicts, strict=True) if v is not None]
        errors = len(labels.items) - len(kept)
        if not kept:
            raise ConfigError(_no_verdicts(judge, labels))
        agreement = pairwise_agreement(
            [v.winner for _, v in kept], [str(it.preference) for it, _ in kept],
            n_resamples=config.n_resamples, seed=config.seed, confidence=config.confidence,
        )
        consistent = sum(v.consistent for _, v in kept)
        position = rate(len(kept) - consistent, len(kept), config.confidence)
        first_wins = _first_position_rate(kept_verdicts=[v for _, v in kept],
                                          confidence=config.confidence)
        version = next((v.judge.get("version") for _, v in kept if v.judge.get("version")), None)
        judge_info["version"] = version
        judge_info["pairwise_template_hash"] = pair_judge.template_hash
    else:
        if labels.scale is None or labels.levels is None:
            raise ConfigError(f"{labels.name}: pointwise labels need a human scale.")
        replies = await asyncio.gather(*(
            _guarded(judge.grade(it.input, it.answer or "", it.reference, it.source), tick)
            for it in labels.items
        ))
        kept_items = []
        for it, reply in zip(labels.items, replies, strict=True):
            if reply is None:
                continue
            kept_items.append(it)
            judged_scores.append(reply.verdict.normalized)
            human_norm.append(_human_normalized(it, labels.scale))
            clean_scores[id(it)] = reply.verdict.normalized
            families.append(it.model or "")
            if not judge_info.get("version"):  # a reply from the cache may not carry it
                judge_info["version"] = reply.version
        errors = len(labels.items) - len(kept_items)
        if not kept_items:
            raise ConfigError(_no_verdicts(judge, labels))
        agreement = pointwise_agreement(
            judged_scores, np.asarray([it.human for it in kept_items], dtype=float),
            levels=labels.levels, scale=labels.scale, n_resamples=config.n_resamples,
            seed=config.seed, confidence=config.confidence,
        )
        position, first_wins, note = await _pointwise_position(labels, pair_judge, config, tick)
        if note:
            notes.append(note)
    if errors:
        notes.append(
            f"{errors} of {len(labels.items)} items got no usable verdict after retries; they "
            f"are left out of every statistic (never scored)."
        )

    lifts, probe_errors, copied = await _run_probes(labels, judge, config, clean_scores, tick)
    for name, n in copied.items():
        notes.append(
            f"{name}: in {n} of {probe_errors.get(name, n)} judge errors the judge repeated the "
            f"verdict planted in the answer. Such a verdict is rejected (a judge error, never a "
            f"score), but it shows this judge model follows text it is asked to grade."
        )

    preference = None
    if labels.kind == "pointwise" and any(families):
        preference = self_preference(
            judge.model.model, families, judged_scores, human_norm,
            n_resamples=config.n_resamples, seed=config.seed,
        )
    if preference is None:
        notes.append(
            "Self-preference not measured: the labels do not hold answers from the judge's own "
            "model family and at least one other (give each item a 'model')."
        )

    corrected = None
    if unlabeled_judge_scores is not None:
        if labels.kind != "pointwise":
            notes.append("The judge-corrected estimate needs pointwise human scores.")
        elif len(unlabeled_judge_scores) < 2 or len(human_norm) < 2:
            notes.append("The judge-corrected estimate needs at least 2 labelled and 2 "
                         "unlabelled scores.")
        else:
            corrected = corrected_mean(list(unlabeled_judge_scores), judged_scores, human_norm,
                                       confidence=config.confidence)
    verdict = fitness(agreement, lifts, threshold=config.threshold,
                      max_inconsistency=position)
    return ValidationReport(
        labels=labels.name, kind=labels.kind, judge=judge_info, n_items=len(labels.items),
        judged=len(labels.items) - errors, judge_errors=errors, agreement=agreement,
        threshold=config.threshold, position_inconsistency=position,
        first_position_wins=first_wins, lifts=tuple(lifts), probe_errors=probe_errors,
        self_preference=preference, corrected=corrected, fitness=verdict, notes=tuple(notes),
    )


def _no_verdicts(judge: GradingJudge, labels: HumanLabels) -> str:
    return (
        f"The judge {judge.model.model} gave no usable verdict on any of the "
        f"{len(labels.items)} items of {labels.name}; check that the model can follow the "
        f"verdict format (a larger model, or one with structured output)."
    )


def _first_position_rate(kept_verdicts: Sequence[PairwiseVerdict], confidence: float
                         ) -> StatResult | None:
    """How often the response shown first wins, among decisive single-order verdicts."""
    wins = decisive = 0
    for v in kept_verdicts:
        for shown_first, won in (("a", v.a_first), ("b", v.b_first)):
            if won != "tie":
                decisive += 1
                wins += won == shown_first
    return rate(wins, decisive, confidence) if decisive else None


async def _pointwise_position(labels: HumanLabels, pair_judge: PairwiseJudge,
                              config: ValidationConfig, tick: _Progress
                              ) -> tuple[StatResult | None, StatResult | None, str | None]:
    """Position bias for pointwise labels: pairs of answers to the same input and source."""
    by_input: dict[tuple[str, str | None], list[LabelItem]] = {}
    for it in labels.items:
        if it.answer is not None:
            by_input.setdefault((it.input, it.source), []).append(it)
    pairs = [(group[0], group[1]) for group in by_input.values()
             if len(group) >= 2 and group[0].answer != group[1].answer][: config.probe_limit]
    if not pairs:
        return None, None, (
            "Position bias not measured: no two labelled answers share an input. Pairwise "
            "labels measure it directly."
        )
    verdicts = await asyncio.gather(*(
        _guarded(pair_judge.compare(a.input, a.answer or "", b.answer or "", a.reference), tick)
        for a, b in pairs
    ))
    kept = [v for v in verdicts if v is not None]
    if not kept:
        return None, None, "Position bias not measured: the pairwise judge gave no verdicts."
    inconsistent = sum(not v.consistent for v in kept)
    return (rate(inconsistent, len(kept), config.confidence),
            _first_position_rate(kept, config.confidence), None)


async def _run_probes(labels: HumanLabels, judge: GradingJudge, config: ValidationConfig,
                      clean_scores: dict[int, float], tick: _Progress
                      ) -> tuple[list[Lift], dict[str, int], dict[str, int]]:
    """The paired lift of every probe over the untouched answers it rewrites, the judge
    errors per probe, and how many of those were verdicts copied from the probe answer."""
    if not config.probes:
        return [], {}, {}
    good, bad = _probe_pools(labels)
    pools = {"good": good[: config.probe_limit], "bad": bad[: config.probe_limit]}

    copied: dict[str, int] = {}

    async def grade(item: LabelItem, answer: str, probe: str = "") -> float | None:
        try:
            reply = await judge.grade(item.input, answer, item.reference, item.source)
        except ScorerError as exc:
            tick.done(1)
            reasons = exc.details.get("reasons")
            if isinstance(reasons, list) and any(COPIED in str(r) for r in reasons):
                copied[probe] = copied.get(probe, 0) + 1
            return None
        tick.done(0)
        return reply.verdict.normalized

    needed = {probe_targets(p) for p in config.probes}
    clean: dict[str, list[float | None]] = {}
    for side in sorted(needed):
        pool = pools[side]
        if labels.kind == "pointwise":
            clean[side] = [clean_scores.get(id(it)) for it, _ in pool]
        else:
            clean[side] = list(await asyncio.gather(*(grade(it, ans) for it, ans in pool)))
    lifts: list[Lift] = []
    errors: dict[str, int] = {}
    for name in config.probes:
        side = probe_targets(name)
        pool = pools[side]
        if len(pool) < 2:
            errors[name] = 0
            continue
        probed = await asyncio.gather(*(
            grade(it, probe_answer(name, ans, judge.rubric), name) for it, ans in pool
        ))
        pairs = [(c, p) for c, p in zip(clean[side], probed, strict=True)
                 if c is not None and p is not None]
        errors[name] = sum(p is None for p in probed)
        if len(pairs) >= 2:
            pass_at = judge.rubric.normalized(judge.rubric.pass_threshold) \
                if judge.rubric.pass_threshold is not None else 0.5
            lifts.append(lift(name, [c for c, _ in pairs], [p for _, p in pairs],
                              pass_at=pass_at, n_resamples=config.n_resamples,
                              seed=config.seed))
    return lifts, errors, copied
