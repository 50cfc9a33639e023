"""Calibration by simulation: nominal 95% intervals cover the truth in 93-97% of datasets.

Each test draws 2,000 datasets from a fixed seed, so the counts are deterministic. With
2,000 datasets the Monte Carlo standard error of a 95% coverage is 0.5 percentage points,
so 93-97% is four standard errors either side.
"""

from __future__ import annotations

import math

import numpy as np

from evalstack.stats import bootstrap_ci, clustered_se, mcnemar, wilson_ci

SIMS = 2000
LOW, HIGH = 0.93, 0.97


def test_wilson_coverage() -> None:
    rng = np.random.default_rng(20250101)
    p = rng.uniform(0.05, 0.95, SIMS)
    n = rng.integers(20, 400, SIMS)
    k = rng.binomial(n, p)
    covered = 0
    for ki, ni, pi in zip(k, n, p, strict=True):
        r = wilson_ci(int(ki), int(ni))
        covered += r.ci_low <= pi <= r.ci_high
    assert LOW <= covered / SIMS <= HIGH


def test_bootstrap_percentile_coverage() -> None:
    rng = np.random.default_rng(20250102)
    data = rng.normal(3.0, 2.0, size=(SIMS, 100))
    covered = 0
    for row in data:
        r = bootstrap_ci(row, n_resamples=1000, rng=rng)
        covered += r.ci_low <= 3.0 <= r.ci_high
    assert LOW <= covered / SIMS <= HIGH


def _clustered_dataset(rng: np.random.Generator, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """100 clusters of 1-10 items sharing a random cluster effect; the true mean is 0.5."""
    sizes = rng.integers(1, 11, 100)
    labels = np.repeat(np.arange(100), sizes)
    if binary:  # e.g. several epochs of one sample: a per-sample chance of success
        p = rng.beta(2.0, 2.0, 100)
        return (rng.uniform(size=labels.size) < p[labels]).astype(float), labels
    effect = rng.normal(0.0, 1.0, 100)
    return 0.5 + effect[labels] + rng.normal(0.0, 1.0, labels.size), labels


def test_clustered_intervals_coverage() -> None:
    rng = np.random.default_rng(20250103)
    boot = se = naive = se_binary = 0
    for _ in range(SIMS):
        values, labels = _clustered_dataset(rng, binary=False)
        r = bootstrap_ci(values, n_resamples=1000, clusters=labels, rng=rng)
        boot += r.ci_low <= 0.5 <= r.ci_high
        r = clustered_se(values, labels)
        se += r.ci_low <= 0.5 <= r.ci_high
        half = 1.96 * values.std(ddof=1) / math.sqrt(values.size)  # ignores the clusters
        naive += abs(values.mean() - 0.5) <= half
        values, labels = _clustered_dataset(rng, binary=True)
        r = clustered_se(values, labels)
        se_binary += r.ci_low <= 0.5 <= r.ci_high
    assert LOW <= boot / SIMS <= HIGH
    assert LOW <= se / SIMS <= HIGH
    assert LOW <= se_binary / SIMS <= HIGH
    # The intervals that ignore the clusters are far too narrow: why clusters matter.
    assert naive / SIMS < 0.80


def test_mcnemar_agresti_min_coverage() -> None:
    rng = np.random.default_rng(20250104)
    n, p01, p10 = 200, 0.10, 0.05
    counts = rng.multinomial(n, [p01, p10, 1 - p01 - p10], size=SIMS)
    covered = 0
    for n01, n10, _ in counts:
        a = np.r_[np.zeros(n01), np.ones(n10), np.ones(n - n01 - n10)]
        b = np.r_[np.ones(n01), np.zeros(n10), np.ones(n - n01 - n10)]
        r = mcnemar(a, b)
        covered += r.ci_low <= p01 - p10 <= r.ci_high
    assert LOW <= covered / SIMS <= HIGH
