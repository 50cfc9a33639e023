"""Each adversarial suite on a mock target whose attack success rate is known (seeded)."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from evalstack.benchmarks.adversarial.ambiguity import ambiguity
from evalstack.benchmarks.adversarial.contradiction import contradiction
from evalstack.benchmarks.adversarial.injection_direct import injection_direct
from evalstack.benchmarks.adversarial.injection_indirect import injection_indirect
from evalstack.benchmarks.adversarial.over_refusal import over_refusal
from evalstack.core import registry
from tests.benchmarks.adversarial.helpers import check_rate, invoke, run, show
from tests.benchmarks.adversarial.targets import hit

mirror = pytest.mark.skipif(not os.environ.get("EVALSTACK_DATA_DIR"),
                            reason="Tensor Trust, BIPIA and RGB are read from the data mirror")


def counts(samples, rate, outcome=None):
    """Per category (and overall, key None): (successes, n) of the seeded coin."""
    found: Counter = Counter()
    total: Counter = Counter()
    for s in samples:
        yes = hit(s.input_text(), rate)
        if outcome is not None:
            yes = outcome(s, yes)
        for key in (None, s.category):
            total[key] += 1
            found[key] += yes
    return found, total


def check_all(summary, metric, found, total, truth):
    check_rate(summary["metrics"][metric], found[None], total[None], truth)
    for category, n in total.items():
        if category is not None:
            check_rate(summary["categories"][category][metric], found[category], n, truth)


def test_every_suite_is_registered():
    for name in ("injection_direct", "injection_indirect", "ambiguity", "contradiction",
                 "over_refusal"):
        assert callable(registry.lookup("task", name))


@mirror
def test_injection_direct_rate_per_category_holds_the_seeded_30_percent(tmp_path):
    store = tmp_path / "s.db"
    run_id = run(store, "injection_direct", "tensor_trust", "--limit", "400")
    samples = list(injection_direct().dataset)[:400]
    found, total = counts(samples, 0.3)
    assert total["hijacking"] == total["extraction"] == 200
    check_all(show(store, run_id), "attack_success", found, total, 0.3)


@mirror
def test_injection_direct_leaves_out_one_character_codes_and_says_so():
    task = injection_direct(attacks="extraction")
    assert {s.category for s in task.dataset} == {"extraction"}
    assert all(len(s.metadata["access_code"].strip()) >= 2 for s in task.dataset)
    assert "12 extraction attacks left out" in task.description
    first = next(iter(task.dataset))
    assert isinstance(first.input, tuple) and first.input[-1].role == "user"


@mirror
def test_injection_indirect_rule_scored_rate_holds_the_seeded_30_percent(tmp_path):
    store = tmp_path / "s.db"
    run_id = run(store, "injection_indirect", "bipia", "-T", "by=context")
    task = injection_indirect(by="context")
    samples = list(task.dataset)
    assert len(samples) == 116 and "84 attacks left out" in task.description
    found, total = counts(samples, 0.3)
    check_all(show(store, run_id), "attack_success", found, total, 0.3)


@mirror
def test_injection_indirect_categories_are_context_and_attack_type():
    samples = list(injection_indirect().dataset)
    cats = Counter(s.category for s in samples)
    assert cats["email/Language Translation"] == 5 and cats["code/Keylogging"] == 5
    assert cats["email/Sentiment Analysis"] == 0  # no rule, no judge: left out
    assert all(s.metadata["attack"] in s.input_text() for s in samples)
    assert {s.metadata["position"] for s in samples} == {"start", "middle", "end"}
    judged = list(injection_indirect(judge="mock/unused").dataset)
    assert len(judged) == 200 and Counter(s.category for s in judged)[
        "email/Sentiment Analysis"] == 5


def test_ambiguity_right_behaviour_holds_the_seeded_70_percent(tmp_path):
    store = tmp_path / "s.db"
    run_id = run(store, "ambiguity", "clarifier")
    samples = list(ambiguity().dataset)
    assert len(samples) == 40
    found, total = counts(samples, 0.7)
    summary = show(store, run_id)
    check_all(summary, "right_behaviour", found, total, 0.7)
    # asked: right on ambiguous ones, wrong on clear ones
    asked, _ = counts(samples, 0.7, lambda s, yes: yes == (s.category == "ambiguous"))
    assert summary["metrics"]["asked_clarification"]["estimate"] == pytest.approx(
        asked[None] / 40)


def test_over_refusal_rate_holds_the_seeded_30_percent(tmp_path):
    store = tmp_path / "s.db"
    run_id = run(store, "over_refusal", "refuser")
    samples = list(over_refusal().dataset)
    assert len(samples) == 50
    found, total = counts(samples, 0.3)
    summary = show(store, run_id)
    check_rate(summary["metrics"]["refused"], found[None], 50, 0.3)
    for category, n in total.items():  # small categories: the rate is exact, its interval too
        if category is not None:
            assert summary["categories"][category]["refused"]["estimate"] == pytest.approx(
                found[category] / n)


@mirror
def test_contradiction_three_outcomes_hold_the_seeded_rates(tmp_path):
    store = tmp_path / "s.db"
    run_id = run(store, "contradiction", "reader")
    samples = list(contradiction().dataset)
    found, total = counts(samples, 0.3)
    summary = show(store, run_id)
    check_rate(summary["metrics"]["follows_wrong_passage"], found[None], 100, 0.3)
    check_rate(summary["metrics"]["flags_contradiction"], 100 - found[None], 100, 0.7)
    check_rate(summary["metrics"]["answers_from_own_knowledge"], 100 - found[None], 100, 0.7)


@mirror
def test_two_mock_targets_compare_pairwise(tmp_path):
    store = tmp_path / "s.db"
    weak = run(store, "injection_direct", "tensor_trust", "--limit", "200", "-M", "rate=0.6")
    strong = run(store, "injection_direct", "tensor_trust", "--limit", "200", "-M", "rate=0.1")
    code, out = invoke("compare", weak, strong, "--store", str(store), "--json")
    assert code == 0, out
    (overall,) = [m for m in json.loads(out)["comparisons"][0]["metrics"]
                  if m["metric"] == "attack_success" and m["category"] is None]
    samples = list(injection_direct().dataset)[:200]
    at = {rate: sum(hit(s.input_text(), rate) for s in samples) for rate in (0.6, 0.1)}
    assert overall["method"].startswith("mcnemar") and overall["n"] == 200
    assert overall["mean_a"] == pytest.approx(at[0.6] / 200)
    assert overall["mean_b"] == pytest.approx(at[0.1] / 200)
    # the coin is shared: every sample attacked at 0.1 is attacked at 0.6, so B only stops
    # attacks ("broken" successes, 1 -> 0) and starts none
    assert overall["fixed"] == 0 and overall["broken"] == at[0.6] - at[0.1]
    assert overall["ci_high"] < 0 and overall["p_value"] < 0.001
    code, table = invoke("compare", weak, strong, "--store", str(store))
    assert code == 0 and "attack_success" in table
