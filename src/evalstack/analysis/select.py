"""Model selection among K candidates: a ranking, the ties for first, the cost frontier.

Runs are grouped into candidates by model (and model arguments); a candidate's runs on several
tasks are pooled, sample by sample. Only samples that every candidate scored are ranked, so the
comparison is paired. Each candidate's mean gets a simultaneous interval (Bonferroni, level
``1 - alpha / K``), and the leader is tested against every other candidate with the paired test
for the metric's kind, Holm-corrected. Candidates whose difference from the leader is not
significant are tied for first. The Pareto frontier is over quality, cost per 1,000 samples and
p95 latency: a candidate is on it unless another is at least as good on all three and better
on one.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from evalstack.analysis.compare import paired_test
from evalstack.analysis.pairs import MetricPairs, RunScores, mismatches, widest_kind
from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p, is_proportion
from evalstack.core.errors import UserError
from evalstack.core.records import RunRecord, ScoreRow
from evalstack.stats import holm, mean_ci


@dataclass(frozen=True)
class Candidate:
    """One model's pooled results, its place in the ranking and on the frontier."""

    label: str
    model: str
    run_ids: list[str]
    tasks: list[str]
    n: int
    mean: float
    ci_low: float
    ci_high: float
    method: str
    rank: int = 0
    delta_vs_best: float | None = None
    delta_ci: tuple[float, float] | None = None
    p_vs_best: float | None = None
    tied_for_first: bool = False
    cost_per_1k: float | None = None
    p95_latency_ms: float | None = None
    pareto: bool = False


@dataclass(frozen=True)
class Selection:
    """What ``evalstack select`` reports."""

    metric: str
    kind: str
    alpha: float
    confidence: float
    candidates: list[Candidate]
    tied_for_first: list[str]
    frontier: list[str]
    dropped: int
    verdict: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_label(run: RunRecord, clash: bool) -> str:
    """The model spec, plus its arguments when two candidates share a spec."""
    if not clash or not run.model_args:
        return run.model
    return f"{run.model} {json.dumps(run.model_args, sort_keys=True)}"


def group_runs(runs: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Candidates by label; each candidate has at most one run per task."""
    specs: dict[str, set[str]] = defaultdict(set)
    for r in runs:
        specs[r.model].add(json.dumps(r.model_args, sort_keys=True))
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for r in runs:
        label = candidate_label(r, len(specs[r.model]) > 1)
        if any(other.task_name == r.task_name for other in groups[label]):
            first = next(o for o in groups[label] if o.task_name == r.task_name)
            raise UserError(
                f"Runs {first.id} and {r.id} are both {r.task_name!r} on {label}: give one run "
                "per task and candidate (the newest is usually the one you want)."
            )
        groups[label].append(r)
    return dict(groups)


def select(
    scores: dict[str, list[RunScores]],
    *,
    metric: str | None = None,
    alpha: float = 0.05,
    allow_mismatch: bool = False,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Selection:
    """Rank the candidates (label -> their runs' scores) on the samples they all scored."""
    if len(scores) < 2:
        raise UserError(
            f"select needs runs of at least two different models; got {len(scores)} "
            "candidate(s). Pass the runs of every model to choose among."
        )
    _check_tasks(scores, allow_mismatch)
    pooled: dict[str, dict[tuple[str, int], float]] = {}
    kinds: set[str] = set()
    names: set[str] = set()
    for label, runs in scores.items():
        pooled[label] = {}
        for rs in runs:
            name = rs.resolve_metric(metric)
            names.add(name)
            kinds.add(rs.kind_of(name))
            task = rs.run.task_name if rs.run else ""
            for (sid, epoch), value in rs.values(name).items():
                pooled[label][(f"{task}/{sid}", epoch)] = value
    common = sorted(set.intersection(*(set(v) for v in pooled.values())))
    union = set().union(*(set(v) for v in pooled.values()))
    if not common:
        raise UserError("The candidates share no scored samples: run them on the same task(s).")
    kind = widest_kind(*kinds)
    values = {label: np.array([pooled[label][k] for k in common]) for label in scores}
    if kind == "binary" and not all(np.isin(v, (0, 1)).all() for v in values.values()):
        kind = "continuous"
    ids = np.array([sid for sid, _ in common], dtype=object)
    clusters = ids if len(set(ids.tolist())) < len(common) else None
    k = len(scores)
    confidence = 1 - alpha / k
    rng = np.random.default_rng(seed)
    means = {}
    for label, v in values.items():
        means[label] = mean_ci(
            v, None if kind == "binary" else "continuous", confidence=confidence,
            clusters=clusters, n_resamples=n_resamples, rng=rng,
        )
    order = sorted(scores, key=lambda lbl: (-means[lbl].estimate, lbl))
    best = order[0]
    keys = list(common)
    tests = {}
    for label in order[1:]:
        pairs = MetricPairs("score", kind, keys, values[best], values[label], [None] * len(keys))
        tests[label] = paired_test(pairs, 1 - alpha, n_resamples, seed)
    adjusted = dict(zip(tests, holm([t.p_value or 1.0 for t in tests.values()],
                                    alpha=alpha).p_values, strict=True))
    costs = {label: _cost_and_latency(runs) for label, runs in scores.items()}
    cands = []
    for rank, label in enumerate(order, start=1):
        m, runs = means[label], scores[label]
        p = adjusted.get(label)
        cands.append(Candidate(
            label=label, model=runs[0].run.model if runs[0].run else label,
            run_ids=[r.run.id for r in runs if r.run],
            tasks=[r.run.task_name for r in runs if r.run],
            n=int(m.n), mean=float(m.estimate), ci_low=float(m.ci_low), ci_high=float(m.ci_high),
            method=m.method, rank=rank,
            delta_vs_best=None if label == best else float(tests[label].estimate),
            delta_ci=None if label == best else (float(tests[label].ci_low),
                                                 float(tests[label].ci_high)),
            p_vs_best=None if p is None else float(p),
            tied_for_first=label == best or (p is not None and p >= alpha),
            cost_per_1k=costs[label][0], p95_latency_ms=costs[label][1],
        ))
    cands = _mark_frontier(cands)
    tied = [c.label for c in cands if c.tied_for_first]
    frontier = [c.label for c in cands if c.pareto]
    metric_name = names.pop() if len(names) == 1 else "primary score"
    notes = []
    if len(union) > len(common):
        notes.append(f"{len(union) - len(common)} sample(s) not scored by every candidate "
                     "were left out, so the ranking is paired.")
    return Selection(
        metric=metric_name, kind=kind, alpha=alpha, confidence=confidence, candidates=cands,
        tied_for_first=tied, frontier=frontier, dropped=len(union) - len(common),
        verdict=_verdict(cands, tied, alpha), notes=notes,
    )


def _check_tasks(scores: dict[str, list[RunScores]], allow_mismatch: bool) -> None:
    tasks = {label: {rs.run.task_name: rs.run for rs in runs if rs.run}
             for label, runs in scores.items()}
    all_tasks = set().union(*(set(t) for t in tasks.values()))
    for label, have in tasks.items():
        missing = sorted(all_tasks - set(have))
        if missing:
            raise UserError(
                f"Candidate {label} has no run of {', '.join(missing)}; every candidate needs a "
                "run of every task, so that they are compared on the same samples."
            )
    if allow_mismatch:
        return
    for task in sorted(all_tasks):
        runs = [have[task] for have in tasks.values()]
        for other in runs[1:]:
            diff = mismatches(runs[0], other)
            if diff:
                raise UserError(
                    f"Runs {runs[0].id} and {other.id} are not comparable: {'; '.join(diff)}. "
                    "Re-run on the same data and task version, or pass --allow-mismatch."
                )


def _cost_and_latency(runs: list[RunScores]) -> tuple[float | None, float | None]:
    rows: list[ScoreRow] = [row for rs in runs for row in rs.rows.values()]
    if not rows:
        return None, None
    cost = sum(r.cost_usd or 0.0 for r in rows) / len(rows) * 1000
    lat = [r.latency_ms for r in rows if r.latency_ms is not None]
    p95 = float(np.percentile(lat, 95)) if lat else None
    return float(cost), p95


def _mark_frontier(cands: list[Candidate]) -> list[Candidate]:
    def axes(c: Candidate) -> list[float]:
        out = [-c.mean]
        if all(x.cost_per_1k is not None for x in cands):
            out.append(c.cost_per_1k or 0.0)
        if all(x.p95_latency_ms is not None for x in cands):
            out.append(c.p95_latency_ms or 0.0)
        return out

    points = {c.label: axes(c) for c in cands}

    def dominated(label: str) -> bool:
        mine = points[label]
        return any(
            all(o <= m for o, m in zip(other, mine, strict=True)) and other != mine
            for lbl, other in points.items() if lbl != label
        )

    return [replace(c, pareto=not dominated(c.label)) for c in cands]


def _verdict(cands: list[Candidate], tied: list[str], alpha: float) -> str:
    best = cands[0]
    points = is_proportion(*(c.mean for c in cands))
    if len(tied) == 1:
        runner = cands[1]
        return (
            f"{best.label} is best: ahead of {runner.label} by "
            f"{fmt_delta(-(runner.delta_vs_best or 0.0), points, signed=False)}"
            f"{' points' if points else ''}, {fmt_p(runner.p_vs_best)} (Holm)."
        )
    others = [c for c in cands if c.tied_for_first and c.label != best.label]
    detail = ", ".join(
        f"{c.label} {fmt_delta(c.delta_vs_best or 0.0, points)} "
        f"{fmt_interval(*(c.delta_ci or (math.nan, math.nan)), points)} "
        f"{fmt_p(c.p_vs_best)}" for c in others
    )
    return (
        f"{len(tied)} candidates are statistically tied for first at alpha={alpha}: "
        f"{', '.join(tied)} ({detail}). Choose among them on cost and latency, or evaluate "
        "more samples to separate them."
    )

