"""Compare two runs sample by sample: deltas with intervals, the right paired test, flips.

The test follows the metric's kind: McNemar's test for binary scores, the paired bootstrap for
continuous ones, and the Wilcoxon signed-rank test for ordinal ones (such as 1-5 judge ratings).
When samples were repeated (``--epochs``), the intervals resample whole samples (a cluster
bootstrap), so repeats are not counted as independent evidence. p-values are Holm-corrected
across the overall metrics, and separately across every category x metric of the breakdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from evalstack.analysis.judges import judge_notes, require_same_judges
from evalstack.analysis.pairs import (
    Key,
    MetricPairs,
    Pairing,
    RunScores,
    mismatches,
    pair_runs,
    primary_metric,
)
from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p, is_proportion
from evalstack.core.errors import UserError
from evalstack.core.records import RunRecord
from evalstack.stats import (
    StatResult,
    holm,
    mcnemar,
    minimum_detectable_effect,
    paired_bootstrap,
    wilcoxon_signed_rank,
)

# Fewer pairs than this cannot support a decision whatever the p-value says.
MIN_PAIRS = 30


def paired_test(
    pairs: MetricPairs, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> StatResult:
    """The delta ``mean(b) - mean(a)`` with its interval and the paired test for its kind.

    Examples:
        >>> import numpy as np
        >>> p = MetricPairs("acc", "binary", [(str(i), 0) for i in range(4)],
        ...                 np.array([0., 0, 1, 1]), np.array([1., 1, 1, 1]), [None] * 4)
        >>> r = paired_test(p)
        >>> (r.estimate, r.method)
        (0.5, 'mcnemar_exact')
    """
    rng = np.random.default_rng(seed)
    clusters = pairs.clusters
    if pairs.kind == "ordinal":
        if clusters is not None:
            _, a, b = pairs.per_item()
            return wilcoxon_signed_rank(a, b, confidence=confidence, rng=rng)
        return wilcoxon_signed_rank(pairs.a, pairs.b, confidence=confidence, rng=rng)
    if pairs.kind == "binary" and clusters is None:
        return mcnemar(pairs.a, pairs.b, confidence=confidence)
    return paired_bootstrap(
        pairs.a, pairs.b, confidence=confidence, n_resamples=n_resamples, clusters=clusters,
        rng=rng,
    )


@dataclass(frozen=True)
class MetricDelta:
    """One metric's change from run A to run B, overall or in one category."""

    metric: str
    category: str | None
    kind: str
    n: int
    items: int
    epochs: int
    mean_a: float
    mean_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    method: str
    fixed: int | None = None
    broken: int | None = None

    @property
    def points(self) -> bool:
        return self.kind == "binary" or is_proportion(self.mean_a, self.mean_b)

    def significant(self, alpha: float) -> bool:
        return math.isfinite(self.p_adjusted) and self.p_adjusted < alpha


@dataclass(frozen=True)
class Flip:
    """A sample whose binary score changed between the runs."""

    sample_id: str
    epoch: int
    category: str | None


@dataclass(frozen=True)
class RunRef:
    """Enough of a run to name it in a report."""

    label: str
    run_id: str
    task: str
    task_version: int
    model: str
    dataset_hash: str

    @classmethod
    def of(cls, label: str, run: RunRecord | None) -> RunRef:
        if run is None:
            return cls(label, "", "", 0, "", "")
        return cls(label, run.id, run.task_name, run.task_version, run.model, run.dataset_hash)


@dataclass(frozen=True)
class Comparison:
    """Everything ``evalstack compare`` reports about run B against run A."""

    a: RunRef
    b: RunRef
    alpha: float
    mismatches: list[str]
    only_a: list[Key]
    only_b: list[Key]
    errored: list[Key]
    metrics: list[MetricDelta]
    categories: list[MetricDelta]
    fixed: dict[str, list[Flip]] = field(default_factory=dict)
    broken: dict[str, list[Flip]] = field(default_factory=dict)
    metrics_only_a: list[str] = field(default_factory=list)
    metrics_only_b: list[str] = field(default_factory=list)
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    judge_mismatches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("only_a", "only_b", "errored"):
            d[key] = [{"sample_id": s, "epoch": e} for s, e in d[key]]
        return d


def compare_pairing(
    pairing: Pairing,
    *,
    labels: tuple[str, str] = ("A", "B"),
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    seed: int = 0,
    allow_judge_mismatch: bool = False,
) -> Comparison:
    """Test every metric of a pairing, overall and per category, and word the verdict.

    Raises:
        UserError: a compared metric was scored by different judges in the two runs (model,
            reported version or template hash), or by several in one run; with
            ``allow_judge_mismatch`` the comparison runs and its notes say what differs.
    """
    run_a, run_b = pairing.a.run, pairing.b.run
    judges = require_same_judges(pairing.a, pairing.b, list(pairing.metrics), labels,
                                 allow=allow_judge_mismatch)
    confidence = 1 - alpha
    overall: list[MetricDelta] = []
    per_cat: list[MetricDelta] = []
    fixed: dict[str, list[Flip]] = {}
    broken: dict[str, list[Flip]] = {}
    for name, pairs in pairing.metrics.items():
        overall.append(_delta(pairs, None, confidence, n_resamples, seed))
        for cat, sub in pairs.by_category().items():
            per_cat.append(_delta(sub, cat, confidence, n_resamples, seed))
        if pairs.kind == "binary":
            fixed[name] = _flips(pairs, (pairs.a == 0) & (pairs.b == 1))
            broken[name] = _flips(pairs, (pairs.a == 1) & (pairs.b == 0))
    overall = _adjust(overall, alpha)
    per_cat = _adjust(per_cat, alpha)
    head = primary_metric(run_a, [m.metric for m in overall])
    overall.sort(key=lambda m: (m.metric != head, m.metric))
    comparison = Comparison(
        a=RunRef.of(labels[0], run_a),
        b=RunRef.of(labels[1], run_b),
        alpha=alpha,
        mismatches=mismatches(run_a, run_b) if run_a is not None and run_b is not None else [],
        only_a=pairing.only_a,
        only_b=pairing.only_b,
        errored=pairing.errored,
        metrics=overall,
        categories=per_cat,
        fixed=fixed,
        broken=broken,
        metrics_only_a=pairing.metrics_only_a,
        metrics_only_b=pairing.metrics_only_b,
        judge_mismatches=judges,
    )
    verdict, notes = _verdict(comparison, pairing)
    return replace(comparison, verdict=verdict, notes=notes + judge_notes(judges))


def _delta(
    pairs: MetricPairs, category: str | None, confidence: float, n_resamples: int, seed: int
) -> MetricDelta:
    fixed = broken = None
    if pairs.kind == "binary":
        fixed = int(np.sum((pairs.a == 0) & (pairs.b == 1)))
        broken = int(np.sum((pairs.a == 1) & (pairs.b == 0)))
    if pairs.n == 0:
        nan = math.nan
        return MetricDelta(pairs.metric, category, pairs.kind, 0, 0, 1, nan, nan, nan, nan, nan,
                           nan, nan, "none", fixed, broken)
    r = paired_test(pairs, confidence, n_resamples, seed)
    p = 1.0 if r.p_value is None or not math.isfinite(r.p_value) else float(r.p_value)
    return MetricDelta(
        metric=pairs.metric, category=category, kind=pairs.kind, n=pairs.n, items=pairs.items,
        epochs=pairs.epochs, mean_a=float(pairs.a.mean()), mean_b=float(pairs.b.mean()),
        delta=float(r.estimate), ci_low=float(r.ci_low), ci_high=float(r.ci_high),
        p_value=p, p_adjusted=p, method=r.method, fixed=fixed, broken=broken,
    )


def _adjust(deltas: list[MetricDelta], alpha: float) -> list[MetricDelta]:
    if not deltas:
        return deltas
    adjusted = holm([d.p_value for d in deltas], alpha=alpha).p_values
    return [
        replace(d, p_adjusted=float(p))
        for d, p in zip(deltas, adjusted, strict=True)
    ]


def _flips(pairs: MetricPairs, mask: np.ndarray) -> list[Flip]:
    return [
        Flip(pairs.keys[i][0], pairs.keys[i][1], pairs.categories[i])
        for i in np.flatnonzero(mask)
    ]


def _verdict(c: Comparison, pairing: Pairing) -> tuple[str, list[str]]:
    b, a = c.b.label, c.a.label
    better, unchanged = [], []
    for m in c.metrics:
        if m.n == 0:
            unchanged.append(f"{m.metric} (no paired samples)")
            continue
        size = fmt_delta(m.delta, m.points, signed=False)
        unit = " points" if m.points else ""
        ci = fmt_interval(m.ci_low, m.ci_high, m.points)
        if m.significant(c.alpha):
            word = "better" if m.delta > 0 else "worse"
            better.append(
                f"{b} is {word} on {m.metric} by {size}{unit} {ci}, {fmt_p(m.p_adjusted)}"
            )
        else:
            unchanged.append(
                f"{m.metric} ({fmt_delta(m.delta, m.points)}{unit} {ci}, {fmt_p(m.p_adjusted)})"
            )
    parts = list(better)
    if unchanged:
        parts.append("no significant change in " + ", ".join(unchanged))
    verdict = "; ".join(parts) if parts else f"{a} and {b} share no scored samples"
    if verdict:
        verdict = verdict[0].upper() + verdict[1:] + "."
    notes: list[str] = []
    for m in c.metrics:
        if 0 < m.n < MIN_PAIRS:
            notes.append(
                f"Only {m.n} paired samples for {m.metric}: too few to support a decision; "
                f"evaluate at least {MIN_PAIRS}, better a few hundred (see `evalstack plan`)."
            )
        elif not m.significant(c.alpha) and m.kind == "binary" and m.epochs == 1:
            note = _detectable(m, pairing.metrics[m.metric], c.alpha)
            if note:
                notes.append(note)
        if m.epochs > 1:
            notes.append(
                f"{m.metric}: {m.items} samples x {m.epochs} epochs; intervals resample whole "
                "samples (clustered), so repeats do not count as independent evidence."
            )
    left_out = len(c.only_a) + len(c.only_b) + len(c.errored)
    if left_out:
        notes.append(
            f"Not compared: {len(c.only_a)} sample(s) only in {a}, {len(c.only_b)} only in {b}, "
            f"{len(c.errored)} errored in either run."
        )
    if c.mismatches:
        notes.append("Runs are not strictly comparable: " + "; ".join(c.mismatches) + ".")
    return verdict, notes


def _detectable(m: MetricDelta, pairs: MetricPairs, alpha: float) -> str | None:
    """For a null result: the smallest change this comparison would reliably have detected."""
    discordance = float(np.mean(pairs.a != pairs.b))
    if discordance <= 0 or not 0 < m.mean_a < 1:
        return None
    try:
        mde = minimum_detectable_effect(
            m.n, m.mean_a, alpha=alpha, power=0.8, paired=True, discordance=discordance
        ).estimate
    except ValueError:
        return (
            f"{m.metric}: only {discordance:.0%} of the {m.n} pairs differ between the runs; "
            "at this size even a change of all of them would not be reliably detected. "
            "See `evalstack plan` for the size that would."
        )
    return (
        f"{m.metric}: with {m.n} pairs and {discordance:.0%} discordant, only changes of about "
        f"{mde * 100:.1f} points or more would be detected with 80% power; a smaller real "
        "change may have been missed."
    )


def compare_runs(
    loaded: Sequence[tuple[RunRecord, RunScores]],
    metrics: Sequence[str] | None = None,
    *,
    alpha: float = 0.05,
    allow_mismatch: bool = False,
    allow_judge_mismatch: bool = False,
) -> list[Comparison]:
    """Each run after the first compared with the first (what ``evalstack compare`` prints).

    Raises:
        UserError: fewer than two runs, or runs of different tasks or data (unless
            ``allow_mismatch``), or judged differently (unless ``allow_judge_mismatch``).
    """
    if len(loaded) < 2:
        raise UserError(
            f"compare needs at least two runs (a reference and one to compare); got "
            f"{len(loaded)}. Example: evalstack compare RUN_A RUN_B"
        )
    ref_run, ref_scores = loaded[0]
    labels = labels_for(len(loaded))
    results = []
    for label, (run, scores) in zip(labels[1:], loaded[1:], strict=True):
        diff = mismatches(ref_run, run)
        if diff and not allow_mismatch:
            raise UserError(
                f"Runs {ref_run.id} and {run.id} are not comparable: {'; '.join(diff)}. "
                "Compare runs of the same task version on the same data, or pass "
                "--allow-mismatch to match them by sample id anyway."
            )
        pairing = pair_runs(ref_scores, scores, list(metrics) if metrics else None)
        results.append(compare_pairing(pairing, labels=(labels[0], label), alpha=alpha,
                                       allow_judge_mismatch=allow_judge_mismatch))
    return results


def labels_for(n: int) -> list[str]:
    """``A``, ``B``, ... for the runs given to ``compare``, in order."""
    return [chr(ord("A") + i) if i < 26 else f"R{i + 1}" for i in range(n)]


def flips_sample(flips: Sequence[Flip], limit: int, show_epoch: bool = False) -> list[str]:
    """Up to ``limit`` flipped sample ids, as ``id#epoch`` when samples were repeated."""
    return [f"{f.sample_id}#{f.epoch}" if show_epoch else f.sample_id for f in flips[:limit]]
