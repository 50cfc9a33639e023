import numpy as np
import pytest

from evalstack.core.records import ScoreRow
from evalstack.runner.metrics import epoch_variance, latency_summary, metric_table, summarize


def _row(sid, epoch, value, *, category=None, error=None, latency=10.0, kind="binary"):
    scores = {} if error else {"m": {"value": value, "kind": kind}}
    return ScoreRow(sid, epoch, scores, error, False, latency, 3, 2, 0.5, category)


def test_binary_single_epoch_uses_wilson_and_excludes_errors():
    rows = [_row("a", 1, 1.0, category="x"), _row("b", 1, 0.0, category="y"),
            _row("c", 1, 1.0, category="x"), _row("d", 1, None, error="boom")]
    totals = summarize(rows)
    m = metric_table(totals.metrics)["m"]
    assert (m.estimate, m.n, m.method) == (pytest.approx(2 / 3), 3, "wilson")
    assert totals.errors == 1 and totals.samples == 4 and totals.cost == 2.0
    assert totals.input_tokens == 12 and totals.output_tokens == 8
    cats = {c: metric_table(g)["m"] for c, g in totals.categories.items()}
    assert cats["x"].estimate == 1.0 and cats["x"].n == 2 and cats["y"].n == 1


def test_epochs_are_averaged_per_sample_before_the_interval():
    rows = [_row("a", 1, 1.0), _row("a", 2, 0.0), _row("a", 3, 1.0),
            _row("b", 1, 1.0), _row("b", 2, 1.0), _row("b", 3, 1.0)]
    m = metric_table(summarize(rows).metrics)["m"]
    assert m.n == 2
    assert m.estimate == pytest.approx((2 / 3 + 1.0) / 2)
    assert m.method.startswith("bootstrap")
    assert m.ci_low <= m.estimate <= m.ci_high


def test_continuous_scores_get_a_bootstrap_interval_and_latency_percentiles():
    rows = [_row(str(i), 1, i / 10, kind="continuous", latency=float(i)) for i in range(11)]
    totals = summarize(rows)
    m = metric_table(totals.metrics)["m"]
    assert m.estimate == pytest.approx(0.5) and m.method.startswith("bootstrap")
    lat = latency_summary(totals.latencies)
    assert (lat.p50, lat.p95) == (5.0, 9.5)


def test_no_scores_gives_an_empty_metric():
    totals = summarize([_row("a", 1, None, error="x")])
    assert metric_table(totals.metrics) == {}
    assert latency_summary(totals.latencies).p50 is None


def _epochs(table, kind="binary"):
    """Rows for {sample: [score per epoch]}, ordered by sample then epoch like the store."""
    return [_row(sid, e, v, kind=kind) for sid, values in sorted(table.items())
            for e, v in enumerate(values)]


def test_epoch_variance_hand_computed():
    rows = _epochs({"a": [1, 0, 1], "b": [1, 1, 1], "c": [0, 0, 1], "d": [0, 0, 0]})
    v = epoch_variance(rows)["m"]
    # epoch means: (1+1+0+0)/4, (0+1+0+0)/4, (1+1+1+0)/4; their sd (n-1) is 0.25
    assert v.epoch_means == pytest.approx((0.5, 0.25, 0.75))
    assert v.epoch_sd == pytest.approx(0.25)
    # per-sample variances (n-1): 1/3, 0, 1/3, 0 -> mean 1/6
    assert v.within_var == pytest.approx(1 / 6)
    # per-sample means 2/3, 1, 1/3, 0 around 1/2: squares sum to 5/9, over 3 -> 5/27
    assert v.between_var == pytest.approx(5 / 27)
    # sample component 5/27 - (1/6)(1/3) = 7/54; share (1/6) / (1/6 + 7/54) = 9/16
    assert v.within_share == pytest.approx(9 / 16)
    assert (v.epochs, v.samples, v.repeated) == (3, 4, 4)
    assert v.to_dict()["epoch_means"] == pytest.approx([0.5, 0.25, 0.75])


def test_epoch_variance_unbalanced_skips_errors_and_missing_values():
    rows = [_row("a", 0, 1.0), _row("a", 1, 0.0), _row("b", 0, 1.0), _row("b", 1, None, error="x"),
            ScoreRow("c", 0, {"m": {"value": None}}, None, False, None, 0, 0, 0.0, None)]
    v = epoch_variance(rows)["m"]
    assert v.epoch_means == (1.0, 0.0)
    assert v.epoch_sd == pytest.approx(0.5 ** 0.5)
    assert v.within_var == 0.5 and v.between_var == 0.125
    assert (v.samples, v.repeated) == (2, 1)
    # sample b's mean keeps all of its single score's noise: mean(1/k) = (1/2 + 1) / 2
    assert v.within_share == 1.0  # 0.125 - 0.5 * 0.75 < 0: no sample component


def test_epoch_variance_deterministic_constant_and_single_epoch():
    assert epoch_variance(_epochs({"a": [1, 1], "b": [0, 0]}))["m"].within_share == 0.0
    constant = epoch_variance(_epochs({"a": [1, 1], "b": [1, 1]}))["m"]
    assert (constant.within_var, constant.between_var, constant.within_share) == (0.0, 0.0, None)
    single = epoch_variance(_epochs({"a": [1], "b": [0], "c": [1]}))["m"]
    assert (single.epochs, single.epoch_sd, single.within_var, single.within_share) == (
        1, None, None, None)
    assert single.between_var == pytest.approx(1 / 3)
    assert epoch_variance([]) == {}


def test_epoch_variance_matches_numpy_on_random_scores():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(40, 5)) + rng.normal(size=(40, 1))
    table = {f"s{i:02d}": list(row) for i, row in enumerate(scores)}
    v = epoch_variance(_epochs(table, kind="continuous"))["m"]
    assert v.epoch_means == pytest.approx(tuple(scores.mean(axis=0)))
    assert v.epoch_sd == pytest.approx(scores.mean(axis=0).std(ddof=1))
    within = scores.var(axis=1, ddof=1).mean()
    between = scores.mean(axis=1).var(ddof=1)
    assert v.within_var == pytest.approx(within)
    assert v.between_var == pytest.approx(between)
    assert v.within_share == pytest.approx(within / (within + between - within / 5))
