"""The guardrail task on the real HarmBench, AdvBench, MT-Bench and Vicuna-bench files."""

from __future__ import annotations

from collections import Counter

import pytest

from evalstack.benchmarks.guardrail import guardrail, guardrail_decision, interleave
from evalstack.core import registry
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput, Sample

HARMBENCH_CATEGORIES = {"chemical_biological", "copyright", "cybercrime_intrusion",
                        "harassment_bullying", "harmful", "illegal",
                        "misinformation_disinformation"}


def test_default_task_is_harmbench_against_mt_bench_and_vicuna_bench():
    t = registry.lookup("task", "guardrail")()
    samples = list(t.dataset)
    assert len(samples) == 400 + 80 + 80
    sources = Counter(s.metadata["source"] for s in samples)
    assert sources == {"harmbench": 400, "mt_bench": 80, "vicuna_bench": 80}
    assert {s.category for s in samples if s.target == "block"} == HARMBENCH_CATEGORIES
    benign = {s.category for s in samples if s.target == "allow"}
    assert "benign/writing" in benign and "benign/fermi" in benign
    assert all(c.startswith("benign/") for c in benign)
    assert len({s.id for s in samples}) == len(samples)
    assert [s.spec.name for s in t.scorers] == ["guardrail_decision"]


def test_the_order_alternates_so_a_limit_gets_both_classes():
    samples = list(guardrail().dataset)
    first = samples[:40]
    assert Counter(s.target for s in first) == {"block": 20, "allow": 20}
    assert [s.target for s in first[:4]] == ["block", "allow", "block", "allow"]
    assert len({s.category for s in first if s.target == "block"}) >= 4  # shuffled, not grouped
    assert [s.id for s in guardrail().dataset] == [s.id for s in samples]  # deterministic
    assert [s.id for s in guardrail(seed=1).dataset] != [s.id for s in samples]


def test_contextual_behaviors_carry_their_context():
    samples = [s for s in guardrail(seed=None).dataset
               if s.metadata.get("functional_category") == "contextual"]
    assert len(samples) == 100
    assert all("\n\n---\n\n" in s.input for s in samples)


def test_task_arguments_choose_sources_split_and_size():
    t = guardrail(harmful="harmbench,advbench", benign=["vicuna_bench"], per_class=50,
                  harmbench_split="val", functional="standard")
    samples = list(t.dataset)
    assert Counter(s.target for s in samples) == {"block": 50, "allow": 50}
    assert {s.metadata["source"] for s in samples} >= {"vicuna_bench", "advbench"}
    assert all(s.metadata.get("functional_category", "standard") == "standard" for s in samples)
    only_harmful = list(guardrail(benign=[]).dataset)
    assert {s.target for s in only_harmful} == {"block"}
    assert guardrail().dataset.fingerprint() != t.dataset.fingerprint()


@pytest.mark.parametrize(("args", "message"), [
    ({"harmful": "harmbenchh"}, "unknown 'harmbenchh'; expected names from harmbench, advbench"),
    ({"benign": 3}, "must be a list of names"),
    ({"harmbench_split": "train"}, "harmbench_split must be one of all, test, val"),
    ({"per_class": 0}, "per_class must be a whole number >= 1"),
    ({"harmful": [], "benign": []}, "needs at least one harmful or benign source"),
    ({"seed": "x"}, "seed must be an integer"),
])
def test_bad_task_arguments_say_what_was_expected(args, message):
    with pytest.raises(ConfigError, match=message):
        guardrail(**args)


def test_interleave_keeps_the_rest_of_the_longer_class():
    a = [Sample(f"a{i}", "x") for i in range(2)]
    b = [Sample(f"b{i}", "y") for i in range(4)]
    assert [s.id for s in interleave(a, b)] == ["a0", "b0", "a1", "b1", "b2", "b3"]


@pytest.mark.parametrize(("target", "reply", "value", "blocked"), [
    ("block", "BLOCK: keyword 'bomb'", 1.0, True),
    ("block", "ALLOW: no keyword matched", 0.0, False),
    ("allow", "ALLOW", 1.0, False),
    ("allow", "unsafe\nS2", 0.0, True),
    ("harmful", "BLOCK", 1.0, True),
])
def test_the_scorer_stores_the_decision_and_the_label(target, reply, value, blocked):
    s = Sample("1", "prompt", target)
    score = guardrail_decision()(s, TaskState(s, output=ModelOutput(reply)))
    assert score.value == value and score.metadata is not None
    assert score.metadata == {"blocked": blocked, "harmful": target in ("block", "harmful")}
    assert score.answer == ("block" if blocked else "allow")


def test_the_scorer_refuses_replies_and_labels_it_cannot_read():
    s = Sample("1", "prompt", "block")
    with pytest.raises(ScorerError, match="refusal/<provider/model>"):
        guardrail_decision()(s, TaskState(s, output=ModelOutput("Sure! Step one...")))
    s = Sample("2", "prompt", "maybe")
    with pytest.raises(ScorerError, match="expected the target 'block'"):
        guardrail_decision()(s, TaskState(s, output=ModelOutput("BLOCK")))
