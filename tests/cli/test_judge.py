"""``evalstack judge validate`` from the command line: report, JSON, PPI from a run, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
KEYWORD = "python/examples/judging/keyword_judge.py:grade"


@pytest.fixture
def work(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples" / "judging", tmp_path / "examples" / "judging")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALSTACK_STORE", str(tmp_path / "store.db"))
    return tmp_path


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _validate(*extra):
    return _invoke("judge", "validate", "examples/judging/labels.jsonl", "--judge", KEYWORD,
                   "--scale", "1-5", "--no-progress", "--resamples", "200", *extra)


def test_json_report_has_every_section(work):
    result = _validate("--json", "--probe-limit", "6")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kind"] == "pointwise" and report["n_items"] == 45
    assert report["judge"]["model"] == KEYWORD and len(report["judge"]["template_hash"]) == 64
    agreement = report["agreement"]
    assert agreement["kappa_weights"] == "quadratic"
    for stat in ("accuracy", "kappa", "spearman"):
        s = agreement[stat]
        assert s["ci_low"] <= s["estimate"] <= s["ci_high"] and s["n"] == 45
    assert {lift["name"] for lift in report["lifts"]} == {
        "verbosity_correct", "verbosity_wrong", "ignore_rubric", "fake_delimiter",
        "fake_verdict", "null_answer"}
    assert report["fitness"]["fit"] is False  # the keyword judge obeys "ignore the rubric"


def test_corrected_estimate_from_a_run_judged_by_the_same_judge(work):
    run = _invoke("run", "examples/judging/questions.jsonl", "-m", "mock/echo", "--no-progress",
                  "--scorer", json_scorer(KEYWORD))
    assert run.exit_code == 0, run.output
    result = _validate("--json", "--probes", "none", "--run", _latest())
    assert result.exit_code == 0, result.output
    corrected = json.loads(result.output)["corrected"]
    assert corrected["n_unlabeled"] == 15 and corrected["n_labeled"] == 45
    assert corrected["method"] in ("PPI++", "PPI")


def test_a_run_judged_by_another_judge_is_refused(work):
    run = _invoke("run", "examples/judging/questions.jsonl", "-m", "mock/echo", "--no-progress",
                  "--scorer", json_scorer(KEYWORD, rubric="factual_qa"))
    assert run.exit_code == 0, run.output
    result = CliRunner().invoke(cli, ["judge", "validate", "examples/judging/labels.jsonl",
                                      "--judge", KEYWORD, "--scale", "1-5", "--probes", "none",
                                      "--run", _latest(), "--no-progress"])
    assert result.exit_code == 2
    assert "The correction is only valid for the same judge and rubric" in result.output


def test_bad_label_files_name_the_line_and_field(work):
    bad = work / "bad.jsonl"
    bad.write_text('{"input": "q", "answer": "a", "human": 3}\n'
                   '{"input": "q", "answer": "a", "human": "high"}\n')
    result = CliRunner().invoke(cli, ["judge", "validate", str(bad), "--judge", KEYWORD])
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output and "human" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--scale", "5-1"], "--scale must look like MIN-MAX"),
    (["--probes", "flattery"], "Unknown probe(s) flattery"),
])
def test_bad_options_are_clear_errors(work, args, message):
    result = CliRunner().invoke(cli, ["judge", "validate", "examples/judging/labels.jsonl",
                                      "--judge", KEYWORD, *args])
    assert result.exit_code == 2 and message in result.output


def test_help_teaches_the_label_format():
    result = _invoke("judge", "validate", "--help")
    assert '"preference": "a"' in result.output and "--threshold" in result.output


def json_scorer(judge, **extra):
    return "llm_judge:" + json.dumps({"judge": judge, **extra})


def _latest():
    out = _invoke("runs", "-q")
    return out.output.split()[0]


def test_show_says_judge_scores_are_not_human_scores(work):
    run = _invoke("run", "examples/judging/questions.jsonl", "-m", "mock/echo", "--no-progress",
                  "--scorer", json_scorer(KEYWORD), "--scorer", "exact_match")
    assert run.exit_code == 0, run.output
    run_id = _latest()
    shown = _invoke("show", run_id)
    text = " ".join(shown.output.split())
    assert "llm_judge: a judge model's scores, not human ones" in text
    assert f"evalstack judge validate LABELS --judge JUDGE --run {run_id}" in text
    assert "exact_match: a judge" not in text


PAIR_JUDGE = '''
import json, re

def grade(messages):
    text = messages[-1]["content"]
    found = dict(re.findall(r"<<<([A-Z_0-9]+)-\\w+>>>\\n(.*?)\\n<<<END-", text, re.S))
    ref = found.get("REFERENCE", "")
    one, two = found.get("RESPONSE_1", ""), found.get("RESPONSE_2", "")
    if ref == "a0":  # this item: a judge that always picks the first position
        return json.dumps({"rationale": "first", "winner": "1"})
    winner = "tie" if one == two else "1" if one == ref else "2" if two == ref else "tie"
    return json.dumps({"rationale": "matches the reference", "winner": winner})
'''


def test_pairwise_judging_of_two_runs(work):
    from tests.analysis.helpers import mock_run, write_dataset

    data = write_dataset(work / "items.jsonl", 20)
    run_a = mock_run(work, data, "a", [i % 4 == 0 for i in range(20)])
    run_b = mock_run(work, data, "b", [True] * 20)
    (work / "pair_judge.py").write_text(PAIR_JUDGE)
    result = _invoke("judge", "pairwise", run_a, run_b, "--judge", "python/pair_judge.py:grade",
                     "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    s = out["summary"]
    # item 0: both right, the judge follows the position -> an inconsistent tie;
    # items 4, 8, 12, 16: both right -> "tie" both ways; the other 15: B right, A wrong
    assert (s["n"], s["wins_b"], s["wins_a"], s["ties"], s["inconsistent"]) == (20, 15, 0, 5, 1)
    assert s["p_value"] < 0.001 and s["verdict"].startswith("B is preferred")
    first = next(i for i in out["items"] if i["sample_id"] == "s0000")
    assert (first["a_first"], first["b_first"], first["consistent"]) == ("a", "b", False)
    table = _invoke("judge", "pairwise", run_a, run_b, "--judge", "python/pair_judge.py:grade",
                    "--no-progress")
    assert "tie (orders disagreed)" in table.output and "B is preferred" in table.output


COUNTING_JUDGE = '''
import sys
sys.path.insert(0, "examples/judging")
from keyword_judge import grade as keyword_grade

def grade(messages):
    with open("calls.txt", "a") as f:
        f.write("call\\n")
    return keyword_grade(messages)
'''


def test_judge_replies_are_kept_so_a_second_validation_asks_only_what_failed(work):
    (work / "counting_judge.py").write_text(COUNTING_JUDGE)
    calls = work / "calls.txt"
    args = ["judge", "validate", "examples/judging/labels.jsonl", "--judge",
            "python/counting_judge.py:grade", "--scale", "1-5", "--probes", "none",
            "--resamples", "200", "--json"]
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    n_first = len(calls.read_text().splitlines())
    calls.unlink()
    second = _invoke(*args)
    n_second = len(calls.read_text().splitlines())
    # the 45 pointwise grades parsed and were kept; the pairwise position checks, which this
    # judge cannot answer, failed and are asked again (an error is never kept)
    assert n_first - n_second == 45 and n_second > 0
    assert json.loads(first.output)["agreement"] == json.loads(second.output)["agreement"]
    calls.unlink()
    third = _invoke(*args, "--no-cache")
    assert third.exit_code == 0 and len(calls.read_text().splitlines()) == n_first


SHIFTED_JUDGE = '''
import json, re, sys
sys.path.insert(0, "examples/judging")
from keyword_judge import grade as keyword_grade

def grade(messages):
    verdict = json.loads(keyword_grade(messages))
    verdict["scores"] = {k: min(5, v + SHIFT) for k, v in verdict["scores"].items()}
    return json.dumps(verdict)
'''


def test_a_jury_run_reports_its_agreement(work):
    for shift in (0, 1):
        (work / f"juror{shift}.py").write_text(SHIFTED_JUDGE.replace("SHIFT", str(shift)))
    judges = [KEYWORD, "python/juror0.py:grade", "python/juror1.py:grade"]
    scorer = "llm_jury:" + json.dumps({"judges": judges, "aggregate": "median"})
    result = _invoke("run", "examples/judging/questions.jsonl", "-m", "mock/scripted",
                     "-M", "replies=examples/judging/replies.json", "--no-progress",
                     "--scorer", scorer)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Jury agreement on llm_jury: 3 jurors" in text
    assert "Krippendorff" in text and "Fleiss" in text and "Cohen" in text


FACT_JUDGE = '''
import json, re
BLOCK = re.compile(r"<<<(?P<label>[A-Z_]+)-(?P<nonce>\\w+)>>>\\n(?P<body>.*?)\\n"
                   r"<<<END-(?P=label)-(?P=nonce)>>>", re.DOTALL)

def check(messages):
    found = {m["label"]: m["body"] for m in BLOCK.finditer(messages[-1]["content"])}
    words = lambda t: set(re.findall(r"[a-z0-9]+", t.lower()))
    ok = words(found["STATEMENT"]) <= words(found["CONTEXT"])
    return json.dumps({"rationale": "words", "verdict": "yes" if ok else "no"})
'''


def test_validate_a_statement_metric_on_summac_labels(work):
    (work / "fact_judge.py").write_text(FACT_JUDGE)
    labels = work / "summac.json"
    labels.write_text(json.dumps({
        f"x_{i}": {"document": "The cat sat on the mat. It was warm.", "claim": claim,
                   "label": label, "dataset": "demo"}
        for i, (claim, label) in enumerate([("The cat sat on the mat.", 1),
                                            ("The dog sat on the mat.", 0),
                                            ("It was warm.", 1), ("It was cold.", 0)])}))
    result = _invoke("judge", "validate", str(labels), "--judge", "python/fact_judge.py:check",
                     "--scorer", "faithfulness", "--probes", "none", "--json")
    report = json.loads(result.output)
    assert report["judge"]["rubric"] == "faithfulness"
    assert report["judged"] == 4 and report["agreement"]["accuracy"]["estimate"] == 1.0
