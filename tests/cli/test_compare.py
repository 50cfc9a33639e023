"""`evalstack compare` end to end on runs stored by the mock provider."""

from __future__ import annotations

import json

import pytest

from tests.analysis.helpers import invoke, mock_run, write_dataset

N = 200


@pytest.fixture
def runs(tmp_path):
    data = write_dataset(tmp_path / "data.jsonl", N)
    a = [i % 10 < 6 for i in range(N)]  # 60%
    b = list(a)
    for i in range(N):
        if not a[i] and i % 10 in (6, 7, 8):  # fixes 60 items
            b[i] = True
    b[0] = False  # breaks one: s0000
    return data, mock_run(tmp_path, data, "a", a), mock_run(tmp_path, data, "b", b)


def test_table_shows_delta_test_flips_and_verdict(runs):
    _, a, b = runs
    r = invoke("compare", a, b)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "mcnemar" in out and "+29.5" in out  # (60 - 1) / 200
    assert "1 broken by B: s0000\n" in out
    assert "60 fixed by B: s0006, s0007, s0008, s0016" in out
    assert "Verdict: B is better on exact_match by 29.5 points [" in out
    assert "By category" in out and "algebra" in out and "geometry" in out


def test_json_lists_every_flip_and_holm_adjusts_categories(runs):
    _, a, b = runs
    r = invoke("compare", a, b, "--json")
    assert r.exit_code == 0, r.output
    c = json.loads(r.stdout)["comparisons"][0]
    m = c["metrics"][0]
    assert (m["metric"], m["n"], m["fixed"], m["broken"]) == ("exact_match", N, 60, 1)
    assert m["delta"] == pytest.approx(0.295)
    assert m["ci_low"] < m["delta"] < m["ci_high"]
    assert m["p_value"] < 1e-6 and m["method"] == "mcnemar_chi2"
    assert len(c["fixed"]["exact_match"]) == 60
    assert [f["sample_id"] for f in c["broken"]["exact_match"]] == ["s0000"]
    cats = c["categories"]
    assert {x["category"] for x in cats} == {"algebra", "geometry"}
    assert all(x["p_adjusted"] >= x["p_value"] for x in cats)


def test_markdown_format(runs):
    _, a, b = runs
    r = invoke("compare", a, b, "--format", "markdown")
    assert r.exit_code == 0, r.output
    assert "| metric | A | B | delta |" in r.output
    assert "**Verdict: B is better on exact_match" in r.output


def test_no_change_says_so_and_what_could_have_been_detected(tmp_path):
    data = write_dataset(tmp_path / "data.jsonl", 100)
    a = [i % 2 == 0 for i in range(100)]
    b = [(i % 2 == 0) != (i < 10) for i in range(100)]  # five fixed, five broken
    ra, rb = mock_run(tmp_path, data, "a", a), mock_run(tmp_path, data, "b", b)
    out = invoke("compare", ra, rb).output
    assert "No significant change in exact_match (+0.0 points [" in out
    assert "with 100 pairs and 10% discordant, only changes of about" in out
    assert "would be detected with 80% power" in out


def test_samples_in_one_run_only_are_reported(tmp_path):
    data = write_dataset(tmp_path / "data.jsonl", 60)
    ra = mock_run(tmp_path, data, "a", [True] * 60)
    rb = mock_run(tmp_path, data, "b", [True] * 60, "--limit", "40")
    r = invoke("compare", ra, rb, "--json")
    c = json.loads(r.stdout)["comparisons"][0]
    assert len(c["only_a"]) == 20 and c["only_b"] == []
    assert c["metrics"][0]["n"] == 40
    assert "Not compared: 20 sample(s) only in A" in invoke("compare", ra, rb).output


def test_mismatched_datasets_are_refused_unless_allowed(tmp_path):
    d1 = write_dataset(tmp_path / "one.jsonl", 40)
    d2 = write_dataset(tmp_path / "two.jsonl", 41)
    ra = mock_run(tmp_path, d1, "a", [True] * 40)
    rb = mock_run(tmp_path, d2, "b", [True] * 41)
    r = invoke("compare", ra, rb)
    assert r.exit_code == 2
    assert "not comparable" in r.output and "dataset hash differs" in r.output
    assert "--allow-mismatch" in r.output
    r = invoke("compare", ra, rb, "--allow-mismatch")
    assert r.exit_code == 0, r.output
    assert "Runs are not strictly comparable: task differs" in r.output


def test_epochs_use_clustered_intervals(tmp_path):
    data = write_dataset(tmp_path / "data.jsonl", 50)
    ra = mock_run(tmp_path, data, "a", [i < 25 for i in range(50)], "--epochs", "3")
    rb = mock_run(tmp_path, data, "b", [i < 40 for i in range(50)], "--epochs", "3")
    c = json.loads(invoke("compare", ra, rb, "--json").stdout)["comparisons"][0]
    m = c["metrics"][0]
    assert (m["items"], m["epochs"], m["n"]) == (50, 3, 150)
    assert m["method"] == "cluster_paired_bootstrap"
    assert any("clustered" in note for note in c["notes"])


def test_three_runs_compare_against_the_first(runs, tmp_path):
    data, a, b = runs
    c_run = mock_run(tmp_path, data, "c", [True] * N)
    out = json.loads(invoke("compare", a, b, c_run, "--json").stdout)["comparisons"]
    assert [(x["a"]["label"], x["b"]["label"]) for x in out] == [("A", "B"), ("A", "C")]
    assert out[1]["metrics"][0]["delta"] == pytest.approx(0.4)


def test_bad_input_is_one_clear_line(runs):
    _, a, _ = runs
    r = invoke("compare", a)
    assert r.exit_code == 2 and "compare needs at least two runs" in r.output
    r = invoke("compare", a, "nonexistent-run")
    assert r.exit_code == 2 and "nonexistent-run" in r.output
    r = invoke("compare", a, a, "--metric", "bleu")
    assert r.exit_code == 2 and "'bleu'" in r.output and "exact_match" in r.output


def test_a_changed_judge_template_is_refused_unless_allowed():
    from tests.analysis.judge_runs import NEW_TEMPLATE, judged_pair, store_run

    same_a, same_b = judged_pair()
    ra, rb = store_run(same_a), store_run(same_b)
    r = invoke("compare", ra, rb)
    assert r.exit_code == 0, r.output
    assert "Judges differ" not in r.output
    a, b = judged_pair(NEW_TEMPLATE)
    ra, rb = store_run(a), store_run(b)
    r = invoke("compare", ra, rb)
    assert r.exit_code == 2
    assert f"Runs {ra} (A) and {rb} (B) were scored by different judges" in r.output
    assert "template hash differs: 1a2b3c4d5e6f in A, 9f8e7d6c5b4a in B" in r.output
    assert "pass --allow-judge-mismatch" in r.output
    r = invoke("compare", ra, rb, "--allow-judge-mismatch")
    assert r.exit_code == 0, r.output
    assert "Note: Judges differ (--allow-judge-mismatch): llm_judge: the judge template" \
        in r.output
    c = json.loads(invoke("compare", ra, rb, "--allow-judge-mismatch", "--json").stdout)
    assert len(c["comparisons"][0]["judge_mismatches"]) == 1
    # a metric no judge scored compares as before
    r = invoke("compare", ra, rb, "--metric", "exact_match")
    assert r.exit_code == 0, r.output
    assert "Judges differ" not in r.output
