"""Every command block in docs/judging.md runs, and shows what the page says it shows."""

from __future__ import annotations

import shutil

import pytest

from tests.docs.blocks import ROOT, blocks, run_blocks

DOC = ROOT / "docs" / "judging.md"


def _blocks(lang: str) -> list[str]:
    return blocks(DOC, lang)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> list[str]:
    pytest.importorskip("llama_cpp")
    work = tmp_path_factory.mktemp("doc")
    shutil.copytree(ROOT / "examples" / "judging", work / "examples" / "judging")
    return run_blocks(_blocks("bash"), work, timeout=600)


def test_the_embedded_judge_grades_the_run(walkthrough):
    assert "llm_judge" in walkthrough[0]


def test_validation_finds_the_naive_judge_unfit_and_names_the_injection(walkthrough):
    report = walkthrough[1]
    assert "Verdict: NOT FIT FOR PURPOSE" in report
    for probe in ("verbosity_correct", "verbosity_wrong", "ignore_rubric", "fake_delimiter",
                  "fake_verdict", "null_answer"):
        assert probe in report
    assert "self-preference" in report.lower() or "Self-preference not measured" in report
    assert "Confusion matrix" in report


def test_the_corrected_estimate_is_reported(walkthrough):
    assert "prediction-powered" in walkthrough[2]
    assert "judge only" in walkthrough[2]
