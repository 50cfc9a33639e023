"""evalstack.stats.active_pairs: active pair choice separates the top with fewer battles."""

from __future__ import annotations

import time

import numpy as np
import pytest

from evalstack.stats.active_pairs import (
    active_pairs,
    battles_to_separate,
    next_pairs,
    separated,
    uniform_pairs,
    win_matrix,
)
from evalstack.stats.ranking import bradley_terry

# 10 contestants: a top gap of 0.35 in theta, the rest spread below
TRUE_THETA = np.array([1.0, 0.65, 0.3, 0.1, 0.0, -0.2, -0.4, -0.6, -0.9, -1.2])


def test_active_needs_at_least_30_percent_fewer_battles() -> None:
    start = time.perf_counter()
    seeds = range(40)
    act = [battles_to_separate("active", TRUE_THETA, np.random.default_rng(s), batch=20)
           for s in seeds]
    uni = [battles_to_separate("uniform", TRUE_THETA, np.random.default_rng(s), batch=20)
           for s in seeds]
    med_a, med_u = float(np.median(act)), float(np.median(uni))
    reduction = 1 - med_a / med_u
    print(f"\nbattles until the top is separated at 95% over {len(seeds)} seeds: active median "
          f"{med_a:.0f} (mean {np.mean(act):.0f}), uniform median {med_u:.0f} (mean "
          f"{np.mean(uni):.0f}); reduction {100 * reduction:.0f}% of the median, "
          f"{100 * (1 - np.mean(act) / np.mean(uni)):.0f}% of the mean; "
          f"{time.perf_counter() - start:.1f} s")
    assert reduction >= 0.30
    assert np.mean(act) <= 0.7 * np.mean(uni)


def test_pairs_are_never_self_pairs_and_have_k_entries() -> None:
    rng = np.random.default_rng(1)
    names = [f"c{i}" for i in range(6)]
    w = np.zeros((6, 6))
    for _ in range(30):
        pairs = next_pairs(w, names, 7, rng=rng)
        assert len(pairs) == 7
        assert all(x != y and x in names and y in names for x, y in pairs)
        for x, y in pairs:
            i, j = names.index(x), names.index(y)
            w[i, j] += 1 if rng.random() < 0.6 else 0
            w[j, i] += 0 if w[i, j] else 1
    assert next_pairs(w, names, 0) == []
    for x, y in uniform_pairs(w, names, 50, rng) + active_pairs(w, names, 50, rng):
        assert x != y


def test_new_contestant_is_explored_first() -> None:
    rng = np.random.default_rng(2)
    names = ["a", "b", "c", "d", "new"]
    w = np.zeros((5, 5))
    w[:4, :4] = rng.integers(5, 30, (4, 4)) * (1 - np.eye(4))
    pairs = next_pairs(w, names, 3, rng=rng, explore=0.0)
    assert "new" in pairs[0]
    # without exploration the new contestant keeps being offered until it has min_battles
    assert sum("new" in p for p in pairs) == 3
    # a group that never met the others gets a bridging pair
    w2 = np.zeros((4, 4))
    w2[0, 1] = w2[1, 0] = w2[2, 3] = w2[3, 2] = 10
    bridge = next_pairs(w2, ["a", "b", "c", "d"], 1, rng=rng)[0]
    assert ({bridge[0], bridge[1]} & {"a", "b"}) and ({bridge[0], bridge[1]} & {"c", "d"})


def test_active_pairs_target_the_leader_and_its_contender() -> None:
    names = ["top", "second", "mid", "low"]
    a = ["top"] * 40 + ["second"] * 40 + ["mid"] * 40 + ["top"] * 40
    b = ["second"] * 40 + ["mid"] * 40 + ["low"] * 40 + ["low"] * 40
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.random(40) < 0.55, rng.random(40) < 0.8, rng.random(40) < 0.8,
                        rng.random(40) < 0.95]).astype(float)
    _, w = win_matrix(a, b, y, names)
    pairs = next_pairs(w, names, 10, explore=0.0)
    assert pairs.count(("top", "second")) >= 5
    fit = bradley_terry(a, b, y)
    assert fit.names[:2] == ("top", "second")


def test_separated_and_win_matrix() -> None:
    names, w = win_matrix(["a", "a", "b"], ["b", "c", "c"], [1.0, 0.5, 0.0])
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(w, [[0, 1, 0.5], [0, 0, 0], [0.5, 1, 0]])
    assert not separated(w)  # b never won: no MLE yet
    strong = np.array([[0, 80, 90], [20, 0, 60], [10, 40, 0]], dtype=float)
    assert separated(strong, ["x", "y", "z"])
    assert not separated(strong / 20)
    with pytest.raises(ValueError, match="square win matrix"):
        next_pairs(np.zeros((2, 3)), ["a", "b"], 1)
    with pytest.raises(ValueError, match="non-negative"):
        separated(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="unknown"):
        win_matrix(["a"], ["z"], [1.0], names=["a", "b"])
    with pytest.raises(ValueError, match="'active', 'uniform' or a callable"):
        battles_to_separate("greedy", TRUE_THETA, np.random.default_rng(0))  # type: ignore[arg-type]
