"""The real embedded model (SmolLM2-135M-Instruct on llama.cpp), end to end."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.store import Store

from .test_http_end_to_end import check_schema

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.llama
ROOT = Path(__file__).resolve().parents[2]


def test_jsonl_unit_eval_on_local_smollm2_with_json_output(monkeypatch):
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(cli, ["run", "examples/unit_eval/capitals.jsonl", "-m",
                                 "local/smollm2", "--scorer", "includes", "--max-tokens", "16",
                                 "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    check_schema(out)
    t = out["tasks"][0]
    assert t["model"] == "local/smollm2" and t["samples"] == 12 and t["errors"] == 0
    assert t["output_tokens"] > 12 and t["latency_ms"]["p50"] > 0
    with Store.open(None) as st:
        outputs = [s.output for s in st.iter_samples(t["run_id"])]
        run = st.get_run(t["run_id"])
    assert all(outputs) and len(set(outputs)) > 3  # real, varied generations
    assert run.model_args == {} and run.dataset_hash == t["dataset_hash"]


def test_demo_tasks_score_mmlu_by_loglikelihood():
    r = CliRunner().invoke(cli, ["run", "demo_unit", "demo_mmlu", "-m", "local/smollm2",
                                 "--limit", "8", "--json"])
    assert r.exit_code == 0, r.output
    unit, mmlu = json.loads(r.output)["tasks"]
    assert unit["task"] == "demo_unit" and set(unit["metrics"]) == {"exact_match", "includes"}
    assert mmlu["metrics"]["choice"]["n"] == 8 and mmlu["output_tokens"] == 0
    with Store.open(None) as st:
        recs = list(st.iter_samples(mmlu["run_id"]))
    assert all(r.metadata["method"] == "loglikelihood" for r in recs)
    assert all(len(r.metadata["choice_logprobs"]) == 4 for r in recs)
