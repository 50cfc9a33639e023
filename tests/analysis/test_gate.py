"""The gate's decisions, and their calibration by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from evalstack.analysis.gate import (
    GateConfig,
    decide,
    evaluate_check,
    load_gate_config,
)
from evalstack.analysis.pairs import MetricPairs
from evalstack.analysis.plan import Design, plan_row
from evalstack.core.errors import ConfigError
from evalstack.stats import sample_size_paired

SIMULATIONS = 2000


def simulate_binary_pairs(
    n: int, p_a: float, p_b: float, discordance: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paired 0/1 scores with the given accuracies and discordance."""
    broke = (discordance + (p_a - p_b)) / 2  # a=1, b=0
    fixed = (discordance - (p_a - p_b)) / 2  # a=0, b=1
    both = p_a - broke
    if min(broke, fixed, both, 1 - both - broke - fixed) < 0:
        raise ValueError(
            f"No paired distribution has accuracies {p_a}, {p_b} with discordance {discordance}."
        )
    cell = rng.choice(4, size=n, p=[both, broke, fixed, 1 - both - broke - fixed])
    a = ((cell == 0) | (cell == 1)).astype(float)
    b = ((cell == 0) | (cell == 2)).astype(float)
    return a, b


def test_simulated_pairs_have_the_asked_accuracies_and_discordance():
    a, b = simulate_binary_pairs(10_000, 0.70, 0.65, 0.15, np.random.default_rng(1))
    assert (round(float(a.mean()), 2), round(float(b.mean()), 2)) == (0.7, 0.65)
    assert round(float((a != b).mean()), 2) == 0.15


def _pairs(a: np.ndarray, b: np.ndarray, categories=None) -> MetricPairs:
    keys = [(f"s{i}", 0) for i in range(a.size)]
    return MetricPairs("acc", "binary", keys, a, b, categories or [None] * a.size)


def _decision(a, b, max_drop=0.02, alpha=0.05) -> str:
    return decide([evaluate_check(_pairs(a, b), None, max_drop, alpha)], alpha)[0].decision


def test_no_true_difference_fails_at_most_five_percent():
    rng = np.random.default_rng(20261201)
    decisions = [
        _decision(*simulate_binary_pairs(300, 0.7, 0.7, 0.15, rng)) for _ in range(SIMULATIONS)
    ]
    fail_rate = decisions.count("fail") / SIMULATIONS
    assert fail_rate <= 0.05
    # the gate is not vacuous: at this size it passes or stays undecided, it does not fail
    assert decisions.count("pass") + decisions.count("inconclusive") >= 0.95 * SIMULATIONS


def test_no_true_difference_with_categories_keeps_the_family_wise_rate():
    """Holm across the overall check and four category checks keeps the gate's rate <= 5%."""
    rng = np.random.default_rng(7)
    cats = [f"c{i % 4}" for i in range(800)]
    fails = 0
    for _ in range(SIMULATIONS):
        a, b = simulate_binary_pairs(800, 0.6, 0.6, 0.2, rng)
        pairs = _pairs(a, b, cats)
        checks = [evaluate_check(pairs, None, 0.0, 0.05)] + [
            evaluate_check(sub, cat, 0.0, 0.05) for cat, sub in pairs.by_category().items()
        ]
        fails += any(c.decision == "fail" for c in decide(checks, 0.05))
    assert fails / SIMULATIONS <= 0.05


def test_a_five_point_drop_is_caught_at_the_planned_sample_size():
    n = plan_row(Design(delta=0.05), "overall", 0.70, 0.15, "given").n_paired  # `plan`'s figure
    assert n == sample_size_paired(0.05, 0.15, alpha=0.05, power=0.8).n == 469
    rng = np.random.default_rng(11)
    caught = sum(
        _decision(*simulate_binary_pairs(n, 0.70, 0.65, 0.15, rng)) == "fail"
        for _ in range(SIMULATIONS)
    )
    assert caught / SIMULATIONS >= 0.80


def test_identical_large_runs_pass_and_small_noisy_runs_are_inconclusive():
    rng = np.random.default_rng(3)
    a = (rng.random(1000) < 0.7).astype(float)
    assert _decision(a, a.copy()) == "pass"
    a, b = simulate_binary_pairs(60, 0.7, 0.7, 0.2, rng)
    check = decide([evaluate_check(_pairs(a, b), None, 0.02, 0.05)], 0.05)[0]
    assert check.decision == "inconclusive"
    assert check.needed_items is not None and check.needed_items > 60
    assert f"about {check.needed_items:,} samples would rule out a drop of 2.0 points" in \
        check.reason


def _cells(both: int, broken: int, fixed: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1.0] * both + [1.0] * broken + [0.0] * fixed + [0.0] * neither)
    b = np.array([1.0] * both + [0.0] * broken + [1.0] * fixed + [0.0] * neither)
    return a, b


def test_needed_samples_make_the_gate_pass_when_nothing_changed():
    a, b = _cells(62, 8, 8, 22)  # a pilot with no change and 16% discordance
    check = decide([evaluate_check(_pairs(a, b), None, 0.03, 0.05)], 0.05)[0]
    assert check.decision == "inconclusive"
    need = check.needed_items
    assert 1000 < need < 1600  # (1.645 + 0.842)^2 * 0.16 / 0.03^2 = 1100, Agresti-Min a bit more
    rng = np.random.default_rng(5)
    passes = sum(
        _decision(*simulate_binary_pairs(need, 0.7, 0.7, 0.16, rng), max_drop=0.03) == "pass"
        for _ in range(400)
    )
    assert passes / 400 >= 0.75  # planned for 80% power


def test_an_observed_drop_is_taken_as_the_truth_when_sizing():
    a, b = _cells(62, 9, 7, 22)  # a 2-point drop observed, 5 allowed
    check = decide([evaluate_check(_pairs(a, b), None, 0.05, 0.05)], 0.05)[0]
    a0, b0 = _cells(62, 8, 8, 22)
    check0 = decide([evaluate_check(_pairs(a0, b0), None, 0.05, 0.05)], 0.05)[0]
    assert check.needed_items > 2 * check0.needed_items
    assert "if the true change is -2.0 points" in check.reason
    a, b = _cells(60, 10, 4, 26)  # a 6-point drop, 5 allowed: sizing cannot help
    check = decide([evaluate_check(_pairs(a, b), None, 0.05, 0.05)], 0.05)[0]
    assert check.decision == "inconclusive" and check.needed_items is None
    assert "already reaches the allowed one" in check.reason


def test_a_drop_within_the_margin_is_not_a_failure():
    rng = np.random.default_rng(9)
    a, b = simulate_binary_pairs(20_000, 0.70, 0.69, 0.15, rng)
    # significantly worse, but by about 1 point with 3 allowed: the gate passes
    assert _decision(a, b, max_drop=0.03) == "pass"


def test_config_file_is_validated(tmp_path):
    good = tmp_path / "gate.yaml"
    good.write_text("max_drop: 0.03\ncategories:\n  algebra: 0.05\n  '*': 0.1\n")
    cfg = load_gate_config(good)
    assert (cfg.max_drop, cfg.margin_for("algebra"), cfg.margin_for("other")) == (0.03, 0.05, 0.1)
    assert GateConfig().margin_for("x") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_drop: 0.03\nmax_dorp: 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: max_dorp: Extra inputs"):
        load_gate_config(bad)
    neg = tmp_path / "neg.yaml"
    neg.write_text("categories: {algebra: -1}\n")
    with pytest.raises(ConfigError, match="algebra"):
        load_gate_config(neg)
    with pytest.raises(ConfigError, match="Cannot read gate config"):
        load_gate_config(tmp_path / "missing.yaml")
