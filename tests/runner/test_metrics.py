import pytest

from evalstack.core.records import ScoreRow
from evalstack.runner.metrics import latency_summary, metric_table, summarize


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
