"""Every command block in docs/judging.md runs, and shows what the page says it shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "judging.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> list[str]:
    pytest.importorskip("llama_cpp")
    work = tmp_path_factory.mktemp("doc")
    shutil.copytree(ROOT / "examples" / "judging", work / "examples" / "judging")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "EVALSTACK_STORE": str(work / "store.db"),
        "COLUMNS": "200",
    }
    outputs = []
    for block in _blocks("bash"):
        proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, block + proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Traceback" not in proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    return outputs


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
