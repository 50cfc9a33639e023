"""pass@k: the unbiased estimator against brute force, and pass@k of a stored run."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalstack.core.task import Task
from evalstack.core.types import Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.scorers.code import code_execution, pass_at_k_from_scores
from evalstack.solvers.generate import generate
from evalstack.stats.passk import pass_at_k, pass_at_k_by_problem
from evalstack.store import Store


def brute_force(n: int, c: int, k: int) -> float:
    """The share of k-subsets of n samples (the first c passing) holding a passing sample."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_brute_force_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(200, 3, 10), (200, 0, 100), (200, 199, 1),
                                          (1000, 17, 100), (100, 50, 50)])
def test_large_n_is_stable_against_exact_binomials(n, c, k):
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9, abs=1e-12)


@given(st.integers(1, 60).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_bounds_and_monotonicity(nck):
    n, c, k = nck
    p = pass_at_k(n, c, k)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(c / n) if k == 1 else True
    if k < n:
        assert pass_at_k(n, c, k + 1) >= p - 1e-12
    if c < n:
        assert pass_at_k(n, c + 1, k) >= p - 1e-12


@pytest.mark.parametrize(("args", "fragment"), [
    ((5, 2, 6), "--epochs 6"), ((0, 0, 1), "n (samples"), ((5, 6, 1), "c (passing"),
    ((5, 2, 0), "k must be"),
])
def test_bad_arguments_say_what_is_wrong(args, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        pass_at_k(*args)


def test_by_problem_skips_problems_with_too_few_samples():
    rows = [("a", 1), ("a", 0), ("a", 0), ("b", True), ("c", 0), ("c", 0), ("c", 0)]
    result = pass_at_k_by_problem(rows, 2)
    assert result.n_problems == 2 and result.skipped == 1
    assert result.estimate == pytest.approx((pass_at_k(3, 1, 2) + 0.0) / 2)
    assert math.isnan(pass_at_k_by_problem([("a", 1)], 2).estimate)


def test_pass_at_k_of_a_stored_run_with_epochs(tmp_path):
    """Four epochs of two problems, sequential, with outputs that cycle right, wrong, wrong:
    problem a passes 2 of 4 epochs, problem b 1 of 4."""
    data = MemoryDataset("two", [
        Sample("a", "write f", metadata={"code_test": "assert f() == 1"}),
        Sample("b", "write f again", metadata={"code_test": "assert f() == 1"}),
    ])
    task = Task("two", data, generate(), [code_execution(timeout=5)], epochs=4)
    model = MockProvider("scripted", outputs=["def f(): return 1", "def f(): return 2",
                                              "def f(): return 2"])
    store_path = str(tmp_path / "s.db")
    result = evaluate([task], [model], RunConfig(store=store_path, progress=False,
                                                  concurrency=1, cache=False))
    metric = result.tasks[0].metrics["pass_at_1"]
    # the runner's metric, the mean of per-epoch passes, is the unbiased pass@1
    assert metric.estimate == pytest.approx((pass_at_k(4, 2, 1) + pass_at_k(4, 1, 1)) / 2)
    with Store.open(store_path) as store:
        rows = list(store.iter_scores(result.tasks[0].run_id))
    got = pass_at_k_from_scores(rows, k=2)
    assert got.n_problems == 2
    assert got.estimate == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert pass_at_k_from_scores(rows, k=5).skipped == 2
