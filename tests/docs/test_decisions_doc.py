"""Every command block in docs/decisions.md runs, and prints what the page says it prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "decisions.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> str:
    work = tmp_path_factory.mktemp("doc")
    shutil.copytree(ROOT / "examples" / "decisions", work / "examples" / "decisions")
    script = "set -euo pipefail\n" + "\n".join(_blocks("bash"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "EVALSTACK_STORE": str(work / "store.db"),
        "COLUMNS": "200",
    }
    proc = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stdout


def test_the_verdict_shown_on_the_page_is_what_compare_prints(walkthrough):
    (shown,) = _blocks("text")
    assert shown.strip() in walkthrough


def test_the_gates_decide_as_the_page_says(walkthrough):
    assert "PASS" in walkthrough
    assert "FAIL: regression (exact_match [division])" in walkthrough
    assert walkthrough.count("gate exit code: 1") == 1  # the per-category flags
    assert "gate exit code: 2" in walkthrough  # gate.yaml allows division a 10-point drop
    assert "INCONCLUSIVE" in walkthrough and "samples would rule out a drop of 10.0" in \
        walkthrough


def test_plan_prints_the_textbook_figures(walkthrough):
    assert "1,565" in walkthrough or "1565" in walkthrough
    assert "469" in walkthrough


def test_select_and_plan_forecast_run(walkthrough):
    assert "tied for first" in walkthrough or " is best" in walkthrough
    assert "$" in walkthrough  # the cost forecast


def test_the_python_example_runs():
    (code,) = _blocks("python")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1] == "469"
