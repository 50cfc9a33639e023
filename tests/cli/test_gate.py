"""`evalstack gate` end to end: exit codes 0, 1, 2, JUnit XML and the Markdown summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.analysis.helpers import invoke, mock_run, write_dataset


@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path / "data.jsonl", 400)


def test_pass_exit_0_with_junit_and_summary(tmp_path, data):
    ok = [i % 4 != 0 for i in range(400)]
    base, cand = mock_run(tmp_path, data, "a", ok), mock_run(tmp_path, data, "b", ok)
    junit, summary = tmp_path / "gate.xml", tmp_path / "summary.md"
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--max-drop", "0.02",
               "--junit", str(junit), "--summary", str(summary))
    assert r.exit_code == 0, r.output
    assert "PASS" in r.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    assert suite.get("errors") == "0"
    case = suite.find("testcase")
    assert case.get("name") == "overall" and case.find("failure") is None
    md = summary.read_text()
    assert md.startswith("## evalstack gate: PASS")
    assert "| exact_match [overall] | **pass** | 75.0% | 75.0% | +0.0 [" in md


def test_regression_exit_1_names_failing_categories(tmp_path, data):
    base_ok = [i % 5 != 0 for i in range(400)]  # 80%
    # the candidate breaks a third of the algebra items (even ids) only
    cand_ok = [ok and not (i % 2 == 0 and i % 3 == 0) for i, ok in enumerate(base_ok)]
    base, cand = mock_run(tmp_path, data, "a", base_ok), mock_run(tmp_path, data, "b", cand_ok)
    junit = tmp_path / "gate.xml"
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--max-drop", "0.02",
               "--max-drop", "*=0.05", "--junit", str(junit))
    assert r.exit_code == 1, r.output
    assert "FAIL: regression (exact_match [overall], exact_match [algebra])" in r.output
    assert "exceeds the allowed drop" in r.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert failed == {"overall", "algebra"}
    geometry = next(c for c in suite.iter("testcase") if c.get("name") == "geometry")
    assert geometry.find("failure") is None and geometry.find("error") is None


def test_inconclusive_exit_2_says_how_many_samples(tmp_path):
    small = write_dataset(tmp_path / "small.jsonl", 40)
    base_ok = [i % 3 != 0 for i in range(40)]
    cand_ok = [ok != (i in (1, 3, 6)) for i, ok in enumerate(base_ok)]  # +1 net
    base, cand = mock_run(tmp_path, small, "a", base_ok), mock_run(tmp_path, small, "b", cand_ok)
    summary = tmp_path / "summary.md"
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--summary", str(summary),
               "--junit", str(tmp_path / "g.xml"))
    assert r.exit_code == 2, r.output
    assert "INCONCLUSIVE" in r.output
    assert "samples would rule out a drop of 2.0 points (have 40)" in r.output
    case = ET.parse(tmp_path / "g.xml").getroot().find("testsuite/testcase")
    assert case.find("error").get("type") == "inconclusive"
    assert "**inconclusive**" in summary.read_text()


def test_named_baseline_config_file_and_json(tmp_path, data):
    ok = [i % 4 != 0 for i in range(400)]
    base, cand = mock_run(tmp_path, data, "a", ok), mock_run(tmp_path, data, "b", ok)
    assert invoke("baseline", "set", "prod", base).exit_code == 0
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("metric: exact_match\nmax_drop: 0.05\ncategories:\n  geometry: 0.1\n")
    r = invoke("gate", "--baseline", "prod", "--candidate", cand, "--config", str(cfg), "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["baseline"]["run_id"] == base and result["exit_code"] == 0
    assert [(c["category"], c["max_drop"]) for c in result["checks"]] == [
        (None, 0.05), ("geometry", 0.1)]


def test_errors_exit_3_or_more_never_1_or_2(tmp_path, data):
    run = mock_run(tmp_path, data, "a", [True] * 400)
    r = invoke("gate", "--baseline", run, "--candidate", "nosuchrun")
    assert r.exit_code >= 3 and "nosuchrun" in r.output
    r = invoke("gate", "--baseline", run)
    assert r.exit_code >= 3 and "--candidate" in r.output
    r = invoke("gate", "--baseline", run, "--candidate", run, "--max-drop", "lots")
    assert r.exit_code >= 3 and "--max-drop expects a proportion" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_drops: 0.1\n")
    r = invoke("gate", "--baseline", run, "--candidate", run, "--config", str(bad))
    assert r.exit_code >= 3 and "bad.yaml: max_drops" in r.output
    r = invoke("gate", "--baseline", run, "--candidate", run, "--max-drop", "physics=0.1")
    assert r.exit_code >= 3 and "physics" in r.output and "algebra" in r.output


def test_a_changed_judge_version_stops_the_gate_unless_allowed():
    from tests.analysis.judge_runs import NEW_VERSION, judged_pair, store_run

    a, b = judged_pair(NEW_VERSION, n=200)
    base, cand = store_run(a), store_run(b)
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--metric", "llm_judge")
    assert r.exit_code == 3
    assert ("reported version differs: gpt-4o-2024-08-06 in baseline, gpt-4o-2024-11-20 in "
            "candidate") in r.output
    assert "--allow-judge-mismatch" in r.output
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--metric", "llm_judge",
               "--allow-judge-mismatch", "--json")
    assert r.exit_code == 0, r.output  # the candidate's judge scores are higher
    result = json.loads(r.stdout)
    assert result["decision"] == "pass" and len(result["judge_mismatches"]) == 1
    assert any("Judges differ" in n for n in result["notes"])
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--metric", "exact_match")
    assert r.exit_code == 0, r.output
