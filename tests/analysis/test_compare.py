"""compare picks the paired test for the metric's kind and corrects for multiplicity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from evalstack.analysis.compare import compare_pairing, paired_test
from evalstack.analysis.pairs import MetricPairs, RunScores, pair_runs
from evalstack.core.records import ScoreRow


def _pairs(kind, a, b, epochs=1):
    keys = [(f"s{i // epochs}", i % epochs + 1) for i in range(len(a))]
    return MetricPairs("m", kind, keys, np.asarray(a, float), np.asarray(b, float),
                       [None] * len(a))


def test_binary_uses_mcnemar():
    a = [1, 0] * 50
    b = [1, 1] * 50
    r = paired_test(_pairs("binary", a, b))
    assert r.method == "mcnemar_chi2" and r.estimate == pytest.approx(0.5)


def test_ordinal_uses_wilcoxon_like_scipy():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 6, 80)
    b = np.clip(a + rng.integers(-1, 3, 80), 1, 5)
    r = paired_test(_pairs("ordinal", a, b))
    assert r.method == "wilcoxon_signed_rank"
    assert r.p_value == pytest.approx(sps.wilcoxon(b - a, zero_method="pratt").pvalue, abs=1e-9)


def test_continuous_uses_the_paired_bootstrap_and_clusters_epochs():
    rng = np.random.default_rng(1)
    a = rng.random(90)
    b = a + 0.1 + rng.normal(0, 0.05, 90)
    assert paired_test(_pairs("continuous", a, b)).method == "paired_bootstrap"
    r = paired_test(_pairs("continuous", a, b, epochs=3))
    assert r.method == "cluster_paired_bootstrap" and r.n == 90


def test_ordinal_with_epochs_tests_per_sample_means():
    a = np.array([3, 3, 4, 2, 2, 3] * 10, float)
    b = a + np.array([1, 0, 1, 0, 0, 1] * 10)
    r = paired_test(_pairs("ordinal", a, b, epochs=3))
    assert r.method == "wilcoxon_signed_rank" and r.n == 20  # 60 pairs, 20 samples


def _row(sid, value, category, kind="binary"):
    return ScoreRow(sid, 1, {"m": {"value": value, "kind": kind}}, None, False, None, None,
                    None, 0.0, category)


def test_categories_are_holm_corrected_and_errors_are_counted():
    rows_a = [_row(f"s{i}", float(i % 2), f"c{i % 3}") for i in range(300)]
    rows_b = [_row(f"s{i}", 1.0, f"c{i % 3}") for i in range(300)]
    rows_b[0] = ScoreRow("s0", 1, {}, "timeout", False, None, None, None, 0.0, "c0")
    c = compare_pairing(pair_runs(RunScores.from_rows(None, rows_a),
                                  RunScores.from_rows(None, rows_b)))
    raw = sorted(m.p_value for m in c.categories)
    adj = sorted(m.p_adjusted for m in c.categories)
    assert adj[0] == pytest.approx(min(1.0, 3 * raw[0]))
    assert c.errored == [("s0", 1)] and c.metrics[0].n == 299
    assert "1 errored in either run" in " ".join(c.notes)
