"""Running an adversarial suite through the CLI and reading what `evalstack show` stores."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from statsmodels.stats.proportion import proportion_confint

from evalstack.cli.main import cli

TARGETS = Path(__file__).with_name("targets.py")


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output


def run(store: Path, task: str, target: str, *extra: str) -> str:
    """``evalstack run TASK -m python/targets.py:TARGET``; the run id."""
    code, out = invoke("run", task, "-m", f"python/{TARGETS}:{target}", "--store", str(store),
                       "--no-progress", "--json", *extra)
    assert code == 0, out
    (result,) = json.loads(out)["tasks"]
    assert result["errors"] == 0, result
    return str(result["run_id"])


def show(store: Path, run_id: str) -> dict:
    code, out = invoke("show", run_id, "--store", str(store), "--json")
    assert code == 0, out
    return json.loads(out)["summary"]


def wilson(count: int, n: int) -> tuple[float, float]:
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def check_rate(metric: dict, count: int, n: int, truth: float) -> None:
    """The stored rate is count/n with the Wilson interval, and that interval holds ``truth``."""
    assert metric["n"] == n
    assert abs(metric["estimate"] - count / n) < 1e-9
    low, high = wilson(count, n)
    assert abs(metric["ci_low"] - low) < 1e-6 and abs(metric["ci_high"] - high) < 1e-6
    assert metric["ci_low"] <= truth <= metric["ci_high"], (metric, truth)
