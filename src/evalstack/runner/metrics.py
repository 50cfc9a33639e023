"""Summaries of a stored run: every metric with its 95% interval and n, overall and per category.

Binary scores get a Wilson interval; continuous and ordinal scores a bootstrap interval. With
several epochs, each sample's repeats are averaged first, so the interval counts samples, not
repeats. Summaries are computed from the store, so a resumed run ends with exactly the
numbers of an uninterrupted one.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from evalstack.core.records import SampleRecord
from evalstack.core.results import LatencySummary, MetricValue
from evalstack.stats import bootstrap_ci, wilson_ci


@dataclass
class _Series:
    kind: str = "binary"
    by_sample: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


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

    def add(self, record: SampleRecord) -> None:
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
                series.by_sample[record.sample_id].append(float(value))


def metric_value(series: _Series, seed: int = 0) -> MetricValue:
    """Estimate, 95% interval and n for one series of per-sample scores."""
    per_sample = np.fromiter(
        (sum(v) / len(v) for v in series.by_sample.values()), dtype=float,
        count=len(series.by_sample),
    )
    n = int(per_sample.size)
    if n == 0:
        return MetricValue(estimate=None, ci_low=None, ci_high=None, n=0, method="none")
    binary = series.kind == "binary" and bool(np.all((per_sample == 0) | (per_sample == 1)))
    if binary:
        r = wilson_ci(int(per_sample.sum()), n)
    else:
        r = bootstrap_ci(per_sample, rng=np.random.default_rng(seed))
    return MetricValue(
        estimate=float(r.estimate), ci_low=float(r.ci_low), ci_high=float(r.ci_high), n=n,
        method=r.method,
    )


def summarize(records: Iterable[SampleRecord], seed: int = 0) -> RunTotals:
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
