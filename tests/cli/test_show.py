"""``evalstack show``: results, the clustered-interval note and run-to-run variance."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.core.records import RunRecord, SampleRecord
from evalstack.core.results import LatencySummary, TaskResult
from evalstack.runner.metrics import metric_table, summarize
from evalstack.store import Store, new_id
from tests.conftest import write_jsonl

NOTE = "Non-determinism dominates: "


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _store_run(scores: dict[str, list[float]], *, epochs: int, summary: bool = True) -> str:
    """A completed run in the test's store with the given per-epoch scores per sample."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    run = RunRecord(
        id=new_id(), created_at=now, updated_at=now, status="completed", task_name="t",
        task_version=1, task_spec={}, model="mock/scripted", model_args={}, dataset_name="d",
        dataset_hash="0" * 64, dataset_size=len(scores), epochs=epochs, limit=None,
        fingerprint="f" * 64, config={}, package_version="0", git_revision=None, summary=None,
        error=None,
    )
    records = [
        SampleRecord(sid, e + 1, "q", "a", "a", {"exact_match": {"value": v, "kind": "binary"}})
        for sid, values in scores.items() for e, v in enumerate(values)
    ]
    with Store.open(os.environ["EVALSTACK_STORE"]) as store:
        store.create_run(run)
        store.write_samples(run.id, records)
        if summary:
            totals = summarize(store.iter_scores(run.id))
            result = TaskResult(
                task="t", task_version=1, model="mock/scripted", samples=totals.samples,
                errors=0, metrics=metric_table(totals.metrics), cost_usd=0.0,
                latency_ms=LatencySummary(p50=None, p95=None), run_id=run.id,
                dataset_hash="0" * 64,
            )
            store.set_status(run.id, "completed", summary=result.model_dump(mode="json"))
    return run.id


NOISY = {"a": [1, 0, 1], "b": [1, 1, 1], "c": [0, 0, 1], "d": [0, 0, 0]}


def test_show_epochs_reports_variance_with_hand_computed_figures():
    run_id = _store_run(NOISY, epochs=3)
    r = run_cli("show", run_id[:12])
    assert r.exit_code == 0, r.output
    assert "95% intervals are clustered by sample over 3 epochs" in r.output
    assert "Run-to-run variance over 3 epochs" in r.output
    row = next(line for line in r.output.splitlines() if line.startswith("│ exact_match"))
    # epoch means .5 .25 .75, sd .25, within 1/6, between 5/27, within share 9/16
    for text in ("0.500 0.250 0.750", "0.2500", "0.1667", "0.1852", "56%"):
        assert text in row, row
    assert (f"exact_match: {NOTE}56% of the score variance is between repeats of the same "
            "sample; raise --epochs or set temperature 0 before comparing runs.") in r.output


def test_show_json_has_epoch_variance():
    run_id = _store_run(NOISY, epochs=3)
    r = run_cli("show", run_id, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    v = out["epoch_variance"]["exact_match"]
    assert v["epoch_means"] == pytest.approx([0.5, 0.25, 0.75])
    assert v["epoch_sd"] == pytest.approx(0.25)
    assert v["within_var"] == pytest.approx(1 / 6)
    assert v["between_var"] == pytest.approx(5 / 27)
    assert v["within_share"] == pytest.approx(9 / 16)
    assert (v["epochs"], v["samples"], v["repeated"]) == (3, 4, 4)
    assert out["spec"]["epochs"] == 3 and out["summary"]["metrics"]["exact_match"]["n"] == 4


def test_show_no_note_when_samples_differ_more_than_repeats():
    run_id = _store_run({"a": [1, 1, 1], "b": [0, 0, 0], "c": [1, 1, 0], "d": [0, 0, 0]},
                        epochs=3)
    r = run_cli("show", run_id)
    assert r.exit_code == 0, r.output
    assert "Run-to-run variance over 3 epochs" in r.output
    assert NOTE not in r.output


def test_show_single_epoch_has_no_variance_section():
    run_id = _store_run({"a": [1], "b": [0]}, epochs=1)
    r = run_cli("show", run_id)
    assert r.exit_code == 0, r.output
    assert "clustered" not in r.output and "Run-to-run" not in r.output
    assert json.loads(run_cli("show", run_id, "--json").output)["epoch_variance"] is None


def test_show_a_run_without_summary_still_shows_its_variance():
    run_id = _store_run(NOISY, epochs=3, summary=False)
    r = run_cli("show", run_id)
    assert r.exit_code == 0, r.output
    assert "no summary yet (12 samples stored, 0 errored)" in r.output
    assert "Run-to-run variance over 3 epochs" in r.output


def test_show_accepts_a_baseline_name():
    run_id = _store_run(NOISY, epochs=3)
    assert run_cli("baseline", "set", "prod", run_id).exit_code == 0
    out = json.loads(run_cli("show", "prod", "--json").output)
    assert out["spec"]["run_id"] == run_id
    r = run_cli("show", "prdo")
    assert r.exit_code == 2
    assert "Did you mean baseline 'prod'?" in r.output


def test_show_after_a_real_run_with_epochs(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl",
                       [{"id": f"q{i}", "input": f"q{i}", "target": "A"} for i in range(4)])
    r = run_cli("run", str(data), "-m", "mock/scripted", "-M", "outputs=[A, B]",
                "--epochs", "3", "--concurrency", "1", "--json")
    assert r.exit_code == 0, r.output
    run_id = json.loads(r.output)["run_id"]
    out: dict[str, Any] = json.loads(run_cli("show", run_id, "--json").output)
    v = out["epoch_variance"]["exact_match"]
    assert (v["epochs"], v["samples"], v["repeated"]) == (3, 4, 4)
    # one request at a time, sample by sample: A B A, B A B, A B A, B A B. Each sample's
    # repeats disagree (within 1/3) more than its mean differs from others (between 1/27)
    assert v["epoch_means"] == pytest.approx([0.5, 0.5, 0.5])
    assert v["within_var"] == pytest.approx(1 / 3)
    assert v["between_var"] == pytest.approx(1 / 27)
    assert v["within_share"] == 1.0
    text = run_cli("show", run_id).output
    assert "clustered by sample over 3 epochs" in text
    assert NOTE in text


def test_show_reports_jury_agreement_for_each_jury_metric():
    import krippendorff
    import numpy as np

    from tests.analysis.judge_runs import jury_score, store_run

    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 60)
    ratings = np.clip(truth + np.rint(rng.normal(0, 0.6, (3, 60))), 1, 5)
    noisy = rng.integers(1, 6, (3, 60)).astype(float)
    run_id = store_run(
        [{"llm_jury": jury_score(ratings[:, i].tolist()),
          "sloppy_jury": jury_score(noisy[:, i].tolist()),
          "exact_match": {"value": 1.0, "kind": "binary"}} for i in range(60)],
        scorers=("llm_jury", "llm_jury", "exact_match"),
    )
    r = run_cli("show", run_id)
    assert r.exit_code == 0, r.output
    alpha = krippendorff.alpha(ratings, level_of_measurement="interval")
    assert "Jury agreement on llm_jury: 3 jurors (a/x, b/y, c/z), 60 samples" in r.output
    assert "Jury agreement on sloppy_jury" in r.output
    row = next(line for line in r.output.splitlines() if "alpha (interval)" in line)
    assert f"{alpha:.3f}" in row
    assert "Cohen's kappa, quadratic: a/x vs b/y" in r.output
    assert "sloppy_jury: the jurors disagree: Krippendorff's alpha" in r.output
    assert "llm_jury: the jurors disagree" not in r.output
    out = json.loads(run_cli("show", run_id, "--json").output)
    ag = out["jury_agreement"]["llm_jury"]
    assert ag["krippendorff_alpha_interval"]["estimate"] == pytest.approx(alpha)
    assert ag["jurors"] == ["a/x", "b/y", "c/z"] and ag["n"] == 60
    assert len(ag["cohen_kappa_quadratic"]) == 3
    assert set(out["jury_agreement"]) == {"llm_jury", "sloppy_jury"}


def test_show_without_a_jury_has_no_agreement_section():
    run_id = _store_run({"a": [1], "b": [0]}, epochs=1)
    r = run_cli("show", run_id)
    assert "Jury agreement" not in r.output
    assert json.loads(run_cli("show", run_id, "--json").output)["jury_agreement"] == {}
