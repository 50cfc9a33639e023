"""Planning: textbook sample sizes, per-category plans from pilots, and cost forecasts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalstack.analysis.pairs import load_scores, pair_runs
from evalstack.analysis.plan import (
    Design,
    discordance,
    forecast,
    plan_design,
    plan_from_pilots,
    plan_row,
)
from evalstack.core.errors import ConfigError, UserError
from evalstack.model.prices import load_table
from evalstack.stats import minimum_detectable_effect, sample_size_paired, sample_size_unpaired
from evalstack.store import Store
from tests.store.store_helpers import make_run, make_sample


def _store_run(store_path, values, categories=None, **run_overrides):
    """Store a run whose sample i scores ``values[i]`` (plus usage given per sample)."""
    run = make_run(**run_overrides)
    samples = []
    for i, v in enumerate(values):
        usage = v if isinstance(v, dict) else {"value": v}
        samples.append(make_sample(
            f"s{i:03d}",
            scores={"exact_match": {"value": usage["value"], "kind": usage.get("kind",
                                                                          "binary")}},
            category=categories[i] if categories else None,
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            latency_ms=usage.get("latency_ms"),
        ))
    with Store.open(str(store_path)) as st:
        st.create_run(run)
        st.write_samples(run.id, samples)
        return load_scores(st, st.get_run(run.id))


# --- the textbook figures ---------------------------------------------------------------------


def test_textbook_unpaired_and_paired_sample_sizes():
    plan = plan_design(Design(delta=0.05, accuracy=0.5, discordance=0.15))
    row = plan.overall
    assert row.n_unpaired == 1565  # 50% vs 55%, alpha 0.05, power 80% (Fleiss)
    assert row.n_paired == 469  # 15% discordance, 5 points (Connor)
    assert row.target == pytest.approx(0.55)
    assert row.discordance_source == "given"
    assert json.loads(json.dumps(plan.to_dict()))["rows"][0]["n_paired"] == 469


def test_without_a_discordance_the_paired_figure_is_missing_and_the_note_says_how():
    plan = plan_design(Design(delta=0.05, accuracy=0.5))
    assert plan.overall.n_unpaired == 1565 and plan.overall.n_paired is None
    assert any("--discordance, or two pilot runs: --pilot A --pilot B" in n for n in plan.notes)


def test_minimum_detectable_effect_inverts_the_sample_size():
    plan = plan_design(Design(n=1565, accuracy=0.5, discordance=0.15))
    assert plan.overall.mde_unpaired == pytest.approx(0.05, abs=1e-4)
    assert plan.overall.mde_paired == pytest.approx(
        minimum_detectable_effect(1565, 0.5, paired=True, discordance=0.15).estimate)
    assert plan.overall.n_unpaired is None  # no --delta, no sample size


def test_a_rise_past_100_percent_is_planned_as_a_drop():
    row = plan_row(Design(delta=0.05), "overall", 0.98)
    assert row.target == pytest.approx(0.93)
    assert row.n_unpaired == sample_size_unpaired(0.98, -0.05).n
    assert any("drop" in n for n in row.notes)


def test_paired_needs_at_least_delta_discordance():
    row = plan_row(Design(delta=0.05), "overall", 0.5, 0.03, "measured")
    assert row.n_paired is None
    assert any("at least 5.0% discordant pairs" in n for n in row.notes)


@pytest.mark.parametrize(("design", "message"), [
    (Design(delta=0.05, accuracy=1.2), "--accuracy must be strictly between 0 and 1"),
    (Design(delta=0.05, accuracy=0.0), "--accuracy must be strictly between 0 and 1"),
    (Design(delta=0.6, accuracy=0.5), "fall outside (0, 1). Pass a smaller --delta"),
    (Design(delta=0.0, accuracy=0.5), "--delta must be strictly between 0 and 1"),
    (Design(delta=0.05, accuracy=0.5, discordance=1.5), "--discordance must be in (0, 1]"),
    (Design(delta=0.05, accuracy=0.5, alpha=5), "--alpha must be strictly between"),
    (Design(n=1, accuracy=0.5), "--n must be at least 2"),
    (Design(accuracy=0.5), "Nothing to plan"),
    (Design(delta=0.05), "Expected the baseline accuracy"),
])
def test_bad_designs_say_what_was_expected_and_received(design, message):
    with pytest.raises(ConfigError) as err:
        plan_design(design)
    assert message in str(err.value)


# --- pilots ------------------------------------------------------------------------------------


def test_one_pilot_gives_per_category_accuracy_and_sample_sizes(tmp_path):
    cats = ["algebra"] * 10 + ["geometry"] * 30
    values = [1.0] * 7 + [0.0] * 3 + [1.0] * 15 + [0.0] * 15  # 70% and 50%
    pilot = _store_run(tmp_path / "s.db", values, cats)
    plan = plan_from_pilots(Design(delta=0.05), pilot)
    overall, algebra, geometry = plan.rows
    assert plan.metric == "exact_match" and plan.pilots == (pilot.run.id,)
    assert overall.accuracy == pytest.approx(22 / 40) and overall.items == 40
    assert (algebra.category, algebra.accuracy, algebra.items) == ("algebra", 0.7, 10)
    assert algebra.n_unpaired == sample_size_unpaired(0.7, 0.05).n
    assert geometry.n_unpaired == 1565
    assert overall.n_paired is None  # one pilot measures no discordance


def test_given_accuracy_and_discordance_replace_the_overall_figures(tmp_path):
    pilot = _store_run(tmp_path / "s.db", [1.0, 0.0] * 10, ["x"] * 20)
    plan = plan_from_pilots(Design(delta=0.05, accuracy=0.5, discordance=0.15), pilot)
    assert (plan.overall.n_unpaired, plan.overall.n_paired) == (1565, 469)
    assert plan.rows[1].discordance_source == "overall"
    assert any("given --accuracy" in n for n in plan.notes)


def test_two_pilots_measure_the_discordance_per_category(tmp_path):
    cats = ["easy"] * 20 + ["hard"] * 20
    a = [1.0] * 20 + [0.0] * 20
    b = list(a)
    b[20:26] = [1.0] * 6  # hard: 6 of 20 discordant; easy: none
    b[26] = 0.0
    db = tmp_path / "s.db"
    sa = _store_run(db, a, cats)
    sb = _store_run(db, b, cats)
    pairing = pair_runs(sa, sb)
    assert discordance(pairing.metrics["exact_match"]) == pytest.approx(6 / 40)
    plan = plan_from_pilots(Design(delta=0.05), sa, pairing)
    overall, easy, hard = plan.rows
    assert plan.pilots == (sa.run.id, sb.run.id)
    assert (overall.discordance, overall.discordance_source) == (0.15, "measured")
    assert overall.n_paired == 469
    assert (hard.discordance, hard.discordance_source) == (0.3, "measured")
    assert hard.n_paired == sample_size_paired(0.05, 0.3).n
    # no discordant pairs in "easy": the overall rate stands in, and the plan says so
    assert (easy.discordance, easy.discordance_source) == (0.15, "overall")
    assert any("no discordant pairs" in n for n in plan.notes)
    # easy is 100% accurate: the 5 points are planned as a drop
    assert easy.target == pytest.approx(0.95)


def test_mde_per_category_uses_the_pilot_share_of_n(tmp_path):
    cats = ["a"] * 10 + ["b"] * 30
    pilot = _store_run(tmp_path / "s.db", [1.0, 0.0] * 20, cats)
    plan = plan_from_pilots(Design(n=400), pilot)
    assert [r.mde_at for r in plan.rows] == [400, 100, 300]
    assert plan.rows[2].mde_unpaired == pytest.approx(
        minimum_detectable_effect(300, 0.5).estimate)


def test_non_binary_metric_uses_the_mean_with_a_note(tmp_path):
    values = [{"value": v, "kind": "continuous"} for v in (0.2, 0.4, 0.6, 0.8)]
    plan = plan_from_pilots(Design(delta=0.05), _store_run(tmp_path / "s.db", values))
    assert plan.overall.accuracy == pytest.approx(0.5)
    assert any("not a 0/1 score" in n for n in plan.notes)


def test_a_metric_that_is_not_a_proportion_is_refused(tmp_path):
    values = [{"value": v, "kind": "continuous"} for v in (2.0, 4.0)]
    with pytest.raises(UserError, match="is not a proportion"):
        plan_from_pilots(Design(delta=0.05), _store_run(tmp_path / "s.db", values))


def test_an_unknown_metric_lists_the_scored_ones(tmp_path):
    with pytest.raises(UserError, match="scored metrics: exact_match"):
        plan_from_pilots(Design(delta=0.05), _store_run(tmp_path / "s.db", [1.0]), None, "f1")


# --- cost forecast ------------------------------------------------------------------------------


def _usage(n, input_tokens=1000, output_tokens=200, latency_ms=500.0):
    return [{"value": 1.0, "input_tokens": input_tokens, "output_tokens": output_tokens,
             "latency_ms": latency_ms} for _ in range(n)]


def test_forecast_arithmetic_with_a_price_table_file(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"acme/large": {"input": 2.0, "output": 10.0}}))
    pilot = _store_run(tmp_path / "s.db", _usage(20), model="acme/large",
                       config={"concurrency": 4}, dataset_size=20)
    f = forecast(pilot, load_table(str(prices)), samples=1000, epochs=2)
    assert (f.pricing, f.input_per_m, f.output_per_m) == ("priced", 2.0, 10.0)
    assert (f.samples, f.epochs, f.concurrency, f.pilot_samples) == (1000, 2, 4, 20)
    # per sample (1000 * 2 + 200 * 10) / 1e6 = $0.004; 2000 sample-epochs -> $8
    assert f.cost_usd.estimate == pytest.approx(8.0)
    assert f.cost_usd.ci_low == pytest.approx(8.0) and f.cost_usd.ci_high == pytest.approx(8.0)
    assert f.total_input_tokens.estimate == pytest.approx(2_000_000)
    assert f.total_output_tokens.estimate == pytest.approx(400_000)
    assert f.wall_seconds.estimate == pytest.approx(2000 * 0.5 / 4)  # 250 s


def test_forecast_interval_covers_the_mean_and_defaults_come_from_the_pilot(tmp_path):
    rows = [{"value": 1.0, "input_tokens": t, "output_tokens": 10, "latency_ms": float(t)}
            for t in range(100, 200)]
    pilot = _store_run(tmp_path / "s.db", rows, model="openai/gpt-4o-mini",
                       config={"concurrency": 16}, dataset_size=500)
    f = forecast(pilot, load_table(None))
    assert f.model == "openai/gpt-4o-mini" and f.samples == 500 and f.concurrency == 16
    assert f.input_tokens.estimate == pytest.approx(149.5)
    assert f.input_tokens.ci_low < 149.5 < f.input_tokens.ci_high
    per_sample = (149.5 * 0.15 + 10 * 0.60) / 1e6
    assert f.cost_usd.estimate == pytest.approx(500 * per_sample)
    assert f.cost_usd.ci_low < f.cost_usd.estimate < f.cost_usd.ci_high


def test_forecast_for_unknown_and_free_models(tmp_path):
    db = tmp_path / "s.db"
    pilot = _store_run(db, _usage(5), model="acme/unpriced")
    unknown = forecast(pilot, load_table(None), samples=10)
    assert unknown.pricing == "unknown" and unknown.cost_usd is None
    assert unknown.total_input_tokens.estimate == pytest.approx(10_000)
    assert any("not in the price table: tokens only" in n for n in unknown.notes)
    assert unknown.concurrency == 8  # the pilot config names no concurrency
    free = forecast(_store_run(db, _usage(5), model="mock/scripted"), load_table(None))
    assert free.pricing == "free" and free.cost_usd.estimate == 0.0
    assert any("free (local model)" in n for n in free.notes)
    other = forecast(pilot, load_table(None), model="openai/gpt-4o", samples=10)
    assert other.pricing == "priced" and other.pilot_model == "acme/unpriced"
    assert any("tokenizer" in n for n in other.notes)


def test_forecast_of_a_limited_pilot_asks_for_the_full_size(tmp_path):
    pilot = _store_run(tmp_path / "s.db", _usage(5), limit=5, dataset_size=5)
    f = forecast(pilot, load_table(None))
    assert f.samples == 5 and any("pass --samples N" in n for n in f.notes)


def test_forecast_without_token_counts_says_so(tmp_path):
    pilot = _store_run(tmp_path / "s.db", [1.0, 0.0])
    f = forecast(pilot, load_table(None), model="openai/gpt-4o")
    assert f.cost_usd is None and f.total_input_tokens is None and f.wall_seconds is None
    assert any("no token counts" in n for n in f.notes)


def test_forecast_rejects_bad_sizes(tmp_path):
    pilot = _store_run(tmp_path / "s.db", _usage(2))
    with pytest.raises(ConfigError, match="at least 1"):
        forecast(pilot, load_table(None), samples=0)
    with pytest.raises(ConfigError, match="--concurrency"):
        forecast(pilot, load_table(None), concurrency=-1)


def test_bootstrap_is_reproducible(tmp_path):
    rows = [{"value": 1.0, "input_tokens": int(t), "output_tokens": 1, "latency_ms": 1.0}
            for t in np.arange(10, 60)]
    pilot = _store_run(tmp_path / "s.db", rows)
    assert forecast(pilot, load_table(None)) == forecast(pilot, load_table(None))


def test_samples_left_out_of_the_pairing_are_counted(tmp_path):
    db = tmp_path / "s.db"
    sa = _store_run(db, [1.0, 0.0, 1.0, 0.0])
    sb = _store_run(db, [0.0, 0.0, 1.0])  # no s003
    plan = plan_from_pilots(Design(delta=0.05), sa, pair_runs(sa, sb))
    assert plan.overall.discordance == pytest.approx(1 / 3)
    assert any("1 sample(s) were in one pilot only" in n for n in plan.notes)
