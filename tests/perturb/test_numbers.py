"""``numbers``: GSM8K items with new quantities, answers recomputed from the solution's
arithmetic, ambiguous items left out, variants reproducible by seed."""

from __future__ import annotations

import random
import re
from fractions import Fraction

import pytest

from evalstack.benchmarks.gsm8k import gsm8k
from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample
from evalstack.perturb import parse_perturbation, perturb_task
from evalstack.perturb.base import PerturbedDataset
from evalstack.perturb.numbers import Unusable, evaluate, plan


@pytest.fixture(scope="module")
def task():
    return gsm8k(fewshot=5)


@pytest.fixture(scope="module")
def perturbed(task):
    return perturb_task(task, parse_perturbation("numbers"), seed=0)


def _originals(task):
    return {s.id: s for s in task.dataset}


def test_applies_to_most_of_gsm8k_and_every_answer_follows_its_new_solution(task, perturbed):
    data = perturbed.dataset
    assert isinstance(data, PerturbedDataset)
    variants = list(data)
    n = len(_originals(task))
    share = len(variants) / n
    # 747 of 1,319 (56.6%) at the time of writing; the others are left out and counted
    assert n == 1319 and 0.5 < share < 0.65, share
    assert len(variants) + len(data.skipped.ids) == n
    originals = _originals(task)
    changed = 0
    for v in variants:
        orig = originals[v.metadata["original_id"]]
        solution = v.metadata["solution"]
        results = []
        for expr, stated in re.findall(r"<<([^<>]*)=([^<>=]*)>>", solution):
            assert evaluate(expr) == Fraction(stated), (v.id, expr, stated)
            results.append(Fraction(stated))
        assert Fraction(v.target) == results[-1] and solution.endswith(f"#### {v.target}")
        if Fraction(orig.target).denominator == 1:
            assert Fraction(v.target).denominator == 1
        if Fraction(orig.target) > 0:
            assert Fraction(v.target) > 0
        # only the item's own question changed: the five solved examples are as they were
        head = orig.input.rpartition(orig.metadata["question"])[0]
        assert v.input == head + v.metadata["question"] + "\nAnswer:"
        assert v.metadata["question"] != orig.metadata["question"]
        changed += v.target != orig.target
    assert changed > 0.9 * len(variants)


def _hand_checked(perturbed, item):
    (v,) = [s for s in perturbed.dataset if s.metadata["original_id"] == item]
    return v, {Fraction(k): Fraction(x) for k, x in v.metadata["numbers"].items()}


def test_three_recomputed_answers_checked_by_hand(perturbed):
    # 0: ducks lay 16 eggs, she eats three, bakes with four, sells the rest at $2
    v, m = _hand_checked(perturbed, "0")
    assert set(m) == {16, 2}
    assert f"lay {m[16]} eggs" in v.metadata["question"] and f"${m[2]} per" in v.metadata[
        "question"] and "three for breakfast" in v.metadata["question"]
    assert Fraction(v.target) == (m[16] - 3 - 4) * m[2]
    # 2: house for $80,000, $50,000 of repairs, value up 150% (kept: a percentage)
    v, m = _hand_checked(perturbed, "2")
    assert set(m) == {80000, 50000} and "by 150%" in v.metadata["question"]
    assert f"${m[80000].numerator:,}" in v.metadata["question"]
    assert Fraction(v.target) == (m[80000] * Fraction(3, 2) + m[80000]) - (m[80000] + m[50000])
    # 3: 3 sprints 3 times a week, 60 meters each
    v, m = _hand_checked(perturbed, "3")
    assert set(m) == {3, 60}
    assert Fraction(v.target) == m[3] * m[3] * m[60]
    for value, new in m.items():  # same magnitude: round numbers stay round, within 2x
        assert new != value and value / 2 <= new <= 2 * value
        assert len(str(new.numerator).rstrip("0")) == len(str(value.numerator).rstrip("0"))


def test_ambiguous_literals_leave_the_item_out(perturbed):
    # "6" is both a number of the question and the first step's result
    question = "Tom has 3 boxes of 2 apples. He buys 6 pears. How many fruits has he?"
    solution = "3*2=<<3*2=6>>6 apples\n6+6=<<6+6=12>>12\n#### 12"
    with pytest.raises(Unusable, match="both a number of the question and an earlier result"):
        plan(question, solution)
    sample = Sample("x", f"Question: {question}\nAnswer:", "12",
                    metadata={"question": question, "solution": solution})
    assert parse_perturbation("numbers").variants(sample, random.Random(0)) is None
    # GSM8K item 1: "2 bolts ... half that much" is 2/2, the second 2 being the constant of
    # "half": which 2 is the question's cannot be told, so the item is left out
    assert "1" in perturbed.dataset.skipped.ids
    assert not [s for s in perturbed.dataset if s.metadata["original_id"] == "1"]


def test_the_solution_must_end_on_the_final_answer():
    question = "Ann has 4 cats and 5 dogs. How many pets?"
    with pytest.raises(Unusable, match="not the final answer"):
        plan(question, "4+5=<<4+5=9>>9\n#### 10")
    with pytest.raises(Unusable, match="does not give its stated result"):
        plan(question, "4+5=<<4+5=8>>8\n#### 8")
    with pytest.raises(Unusable, match="not arithmetic"):
        plan(question, "<<__import__('os')=9>>9\n#### 9")


def test_variants_are_the_same_for_a_seed_and_differ_across_seeds(task):
    p = parse_perturbation("numbers:variants=3")
    one = list(perturb_task(task, p, seed=0, limit=40).dataset)
    two = list(perturb_task(task, p, seed=0, limit=40).dataset)
    other = list(perturb_task(task, p, seed=1, limit=40).dataset)
    assert one == two and len(one) >= 40
    assert [s.input for s in one] != [s.input for s in other]
    by_item: dict[str, set[str]] = {}
    for s in one:
        by_item.setdefault(s.metadata["original_id"], set()).add(s.target)
    assert max(len(t) for t in by_item.values()) == 3  # distinct variants of one item
    assert perturb_task(task, p, seed=0, limit=40).args["perturb"] == {
        "name": "numbers", "version": 1, "seed": 0, "params": {"variants": 3}, "limit": 40}


def test_bad_options_and_tasks_without_solutions_are_refused():
    with pytest.raises(ConfigError, match="variants must be a whole number"):
        parse_perturbation("numbers:variants=0")
    from evalstack.core.task import Task
    from evalstack.datasets.memory import MemoryDataset
    from evalstack.solvers.generate import generate

    plain = Task("qa", MemoryDataset("qa", [Sample("a", "2+2?", "4")]), generate(), [])
    with pytest.raises(ConfigError, match="metadata\\['solution'\\]"):
        parse_perturbation("numbers").check(plain)
