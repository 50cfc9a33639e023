"""Summaries of a stored run: every metric with its 95% interval and n, overall and per category.

Binary scores get a Wilson interval; continuous and ordinal scores a bootstrap interval. With
several epochs, each sample's repeats are averaged first, so the interval counts samples, not
repeats. Summaries are computed from the store, so a resumed run ends with exactly the
numbers of an uninterrupted one.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    values: array = field(default_factory=lambda: array("d"))
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
    latencies: array = field(default_factory=lambda: array("d"))
    metrics: dict[str, _Series] = field(default_factory=dict)
    categories: dict[str, dict[str, _Series]] = field(default_factory=dict)

    def add(self, record: ScoreRow) -> None:
        self.samples += 1
        self.cost += record.cost_usd or 0.0
        self.input_tokens += record.input_tokens or 0
        self.output_tokens += record.output_tokens or 0
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


def latency_summary(latencies: array) -> LatencySummary:
    if not latencies:
        return LatencySummary(p50=None, p95=None)
    values = np.frombuffer(latencies, dtype=float)
    p50, p95 = np.percentile(values, [50, 95])
    return LatencySummary(p50=round(float(p50), 3), p95=round(float(p95), 3))
