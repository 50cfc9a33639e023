"""Summaries of a stored run: every metric with its 95% interval and n, overall and per category.

Binary scores get a Wilson interval; continuous and ordinal scores a bootstrap interval. With
several epochs, each sample's repeats are averaged first, so the interval counts samples, not
repeats. Summaries are computed from the store, so a resumed run ends with exactly the
numbers of an uninterrupted one. ``epoch_variance`` says how much of a multi-epoch run's
variance is non-determinism (repeats of one sample disagreeing) rather than sample difficulty.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evalstack.core.records import ScoreRow
from evalstack.core.results import LatencySummary, MetricValue
from evalstack.stats import mean_ci


@dataclass
class _Series:
    """One scorer's per-sample scores; repeats of a sample are averaged as they stream in.

    Rows must arrive grouped by sample (the store yields them ordered by sample id, epoch), so
    only one float per sample is kept, whatever the number of epochs.
    """

    kind: str = "binary"
    values: array[float] = field(default_factory=lambda: array("d"))
    _current: str | None = None
    _sum: float = 0.0
    _count: int = 0

    def push(self, sample_id: str, value: float) -> None:
        if sample_id != self._current:
            self._close()
            self._current = sample_id
        self._sum += value
        self._count += 1

    def _close(self) -> None:
        if self._count:
            self.values.append(self._sum / self._count)
        self._sum, self._count = 0.0, 0

    def per_sample(self) -> np.ndarray:
        self._close()
        self._current = None
        return np.frombuffer(self.values, dtype=float) if self.values else np.zeros(0)


@dataclass
class RunTotals:
    """Everything a summary needs, accumulated in one pass over the stored samples."""

    samples: int = 0
    errors: int = 0
    truncated: int = 0
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    judge_cost: float = 0.0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    metrics: dict[str, _Series] = field(default_factory=dict)
    categories: dict[str, dict[str, _Series]] = field(default_factory=dict)

    def add(self, record: ScoreRow) -> None:
        self.samples += 1
        self.cost += record.cost_usd or 0.0
        self.input_tokens += record.input_tokens or 0
        self.output_tokens += record.output_tokens or 0
        self.judge_cost += record.judge_cost_usd or 0.0
        self.judge_input_tokens += record.judge_input_tokens or 0
        self.judge_output_tokens += record.judge_output_tokens or 0
        if record.output_truncated:
            self.truncated += 1
        if record.error is not None:
            self.errors += 1
            return
        if record.latency_ms is not None:
            self.latencies.append(record.latency_ms)
        groups = [self.metrics]
        if record.category is not None:
            groups.append(self.categories.setdefault(record.category, {}))
        for name, score in record.scores.items():
            value = score.get("value")
            if value is None:
                continue
            for group in groups:
                series = group.get(name)
                if series is None:
                    series = group[name] = _Series(kind=score.get("kind", "binary"))
                series.push(record.sample_id, float(value))


def metric_value(series: _Series, seed: int = 0) -> MetricValue:
    """Estimate, 95% interval and n for one series of per-sample scores."""
    per_sample = series.per_sample()
    n = int(per_sample.size)
    if n == 0:
        return MetricValue(estimate=None, ci_low=None, ci_high=None, n=0, method="none")
    # repeats of a sample are averaged first, so a binary scorer with epochs becomes continuous
    kind = None if series.kind == "binary" else "continuous"
    r = mean_ci(per_sample, kind, rng=np.random.default_rng(seed))
    return MetricValue(
        estimate=float(r.estimate), ci_low=float(r.ci_low), ci_high=float(r.ci_high), n=n,
        method=r.method,
    )


def summarize(records: Iterable[ScoreRow]) -> RunTotals:
    totals = RunTotals()
    for record in records:
        totals.add(record)
    return totals


def metric_table(group: dict[str, _Series], seed: int = 0) -> dict[str, MetricValue]:
    return {name: metric_value(series, seed) for name, series in sorted(group.items())}


def latency_summary(latencies: array[float]) -> LatencySummary:
    if not latencies:
        return LatencySummary(p50=None, p95=None)
    values = np.frombuffer(latencies, dtype=float)
    p50, p95 = np.percentile(values, [50, 95])
    return LatencySummary(p50=round(float(p50), 3), p95=round(float(p95), 3))


@dataclass(frozen=True, slots=True)
class EpochVariance:
    """How one metric varies between the repeats (epochs) of a run.

    The share is a one-way random-effects variance decomposition with samples as groups,
    estimated by the method of moments (Searle, Casella & McCulloch, *Variance Components*,
    1992, ch. 3; applied to evals by Miller, "Adding Error Bars to Evals", 2024, sec. 4):
    a score's variance is the between-sample component (how much samples differ in
    difficulty) plus the within-sample component (how much repeats of one sample disagree).

    Attributes:
        epochs: how many epochs have scores.
        epoch_means: the mean score of each epoch, in epoch order.
        epoch_sd: the standard deviation (n - 1) between the epoch means; ``None`` with one epoch.
        within_var: the mean over samples (with two or more scored repeats) of the variance
            (n - 1) of each sample's repeats: the non-determinism.
        between_var: the variance (n - 1) of the per-sample means across samples.
        within_share: the share of a score's variance that lies between repeats of the same
            sample, ``within / (within + max(0, between - within * mean(1 / k_i)))`` with
            ``k_i`` the repeats of sample i (a per-sample mean keeps ``within / k_i`` of the
            noise); ``None`` when there is no variance or too little data.
        samples: samples with at least one score.
        repeated: samples with two or more scores.

    Examples:
        >>> from evalstack.core.records import ScoreRow
        >>> def row(sid, epoch, v):
        ...     return ScoreRow(sid, epoch, {"m": {"value": v}}, None, False, None, 0, 0, 0.0, None)
        >>> v = epoch_variance([row("a", 0, 1.0), row("a", 1, 0.0),
        ...                     row("b", 0, 1.0), row("b", 1, 1.0)])["m"]
        >>> v.epoch_means, v.within_var, v.between_var, v.within_share
        ((1.0, 0.5), 0.25, 0.125, 1.0)
    """

    epochs: int
    epoch_means: tuple[float, ...]
    epoch_sd: float | None
    within_var: float | None
    between_var: float | None
    within_share: float | None
    samples: int
    repeated: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class _Welford:
    """Running count, mean and sum of squared deviations (Welford, 1962)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def push(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def variance(self) -> float | None:
        return self.m2 / (self.n - 1) if self.n > 1 else None


@dataclass
class _VarianceSeries:
    """One metric's epoch and sample moments; rows must arrive grouped by sample."""

    epochs: dict[int, list[float]] = field(default_factory=dict)  # epoch -> [sum, count]
    sample_means: _Welford = field(default_factory=_Welford)
    within_sum: float = 0.0
    repeated: int = 0
    inv_k_sum: float = 0.0
    _current: str | None = None
    _sample: _Welford = field(default_factory=_Welford)

    def push(self, sample_id: str, epoch: int, value: float) -> None:
        acc = self.epochs.setdefault(epoch, [0.0, 0])
        acc[0] += value
        acc[1] += 1
        if sample_id != self._current:
            self._close()
            self._current = sample_id
        self._sample.push(value)

    def _close(self) -> None:
        s = self._sample
        if s.n:
            self.sample_means.push(s.mean)
            self.inv_k_sum += 1.0 / s.n
            var = s.variance()
            if var is not None:
                self.within_sum += var
                self.repeated += 1
        self._sample = _Welford()

    def result(self) -> EpochVariance:
        self._close()
        self._current = None
        means = tuple(total / count for _, (total, count) in sorted(self.epochs.items()))
        epoch_sd = None
        if len(means) > 1:
            centre = sum(means) / len(means)
            epoch_sd = math.sqrt(sum((m - centre) ** 2 for m in means) / (len(means) - 1))
        within = self.within_sum / self.repeated if self.repeated else None
        between = self.sample_means.variance()
        share = None
        if within is not None and between is not None:
            component = max(0.0, between - within * self.inv_k_sum / self.sample_means.n)
            if within + component > 0:
                share = within / (within + component)
        return EpochVariance(
            epochs=len(means), epoch_means=means, epoch_sd=epoch_sd, within_var=within,
            between_var=between, within_share=share, samples=self.sample_means.n,
            repeated=self.repeated,
        )


def epoch_variance(rows: Iterable[ScoreRow]) -> dict[str, EpochVariance]:
    """Run-to-run variance of each metric in a run with several epochs.

    Errored rows and scores without a value are skipped. Rows must arrive grouped by sample,
    as ``Store.iter_scores`` yields them (ordered by sample id, then epoch); memory stays
    constant in the number of samples.

    Returns:
        metric name -> ``EpochVariance``, sorted by name.
    """
    series: dict[str, _VarianceSeries] = {}
    for row in rows:
        if row.error is not None:
            continue
        for name, score in row.scores.items():
            value = score.get("value")
            if value is None:
                continue
            series.setdefault(name, _VarianceSeries()).push(row.sample_id, row.epoch, float(value))
    return {name: s.result() for name, s in sorted(series.items())}
