"""The contamination report on simulated models with a known truth (robust_targets.py): a model
that memorised half of 500 MMLU items, and a clean one."""

from __future__ import annotations

import json
from itertools import islice

import numpy as np
import pytest
from click.testing import CliRunner

from evalstack.benchmarks.mmlu import mmlu
from evalstack.cli.main import cli
from evalstack.stats.contamination import memorisation_posterior
from tests.analysis.robust_targets import ITEMS, is_memorised

TARGETS = "python/tests/analysis/robust_targets.py"
# 20 variants per item: enough to tell "at chance in the variants" from "right in them"
PERTURB = ["rotate", "shuffle:variants=6", "labels", "labels:style=roman", "typos:variants=4",
           "casing:variants=2", "whitespace", "distractor:variants=2"]


def _robust(store: str, target: str) -> dict:
    args = ["robust", "mmlu", "-m", f"{TARGETS}:{target}", "--limit", str(ITEMS), "--store",
            store, "--json", "--no-progress"]
    for p in PERTURB:
        args += ["--perturb", p]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def memorised_ids() -> set[str]:
    return {s.id for s in islice(mmlu().dataset, ITEMS) if is_memorised(s.id)}


def test_the_memorised_half_is_flagged_and_the_drop_is_significant(tmp_path, memorised_ids):
    report = _robust(str(tmp_path / "s.db"), "memorised")
    assert report["overall"]["significant"] and report["overall"]["drop"] > 0.2
    assert report["overall"]["ci"][0] > 0
    flagged = {s["item"] for s in report["suspects"]}
    hits = len(flagged & memorised_ids)
    precision, recall = hits / len(flagged), hits / len(memorised_ids)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    assert abs(report["memorised_share"] - len(memorised_ids) / ITEMS) < 0.1
    assert len(report["variant_runs"]) == len(PERTURB)


def test_the_clean_model_shows_no_drop_and_few_flags(tmp_path):
    report = _robust(str(tmp_path / "s.db"), "clean")
    assert not report["overall"]["significant"]
    assert report["overall"]["ci"][0] < 0 < report["overall"]["ci"][1]
    assert len(report["suspects"]) <= 0.05 * ITEMS
    assert report["memorised_share"] < 0.05


def test_the_mixture_finds_the_memorised_items_and_none_in_a_clean_run():
    rng = np.random.default_rng(3)
    n, m = 400, 12
    memorised = np.arange(n) < 150
    skill = 0.7
    original = np.where(memorised, 1, rng.random(n) < skill).astype(int)
    right = rng.binomial(m, np.where(memorised, 0.25, skill))
    fit = memorisation_posterior(original, right, np.full(n, m))
    assert abs(fit.share - 150 / n) < 0.06
    flagged = (fit.posterior >= 0.5) & (original == 1) & (right < m / 2)
    assert (flagged & memorised).sum() >= 0.9 * 150
    assert (flagged & ~memorised).sum() <= 0.1 * flagged.sum()

    clean_original = (rng.random(n) < skill).astype(int)
    clean_right = rng.binomial(m, skill, n)
    clean = memorisation_posterior(clean_original, clean_right, np.full(n, m))
    assert clean.share < 0.03 and (clean.posterior >= 0.5).sum() <= 0.05 * n


def test_memorisation_posterior_refuses_bad_input():
    with pytest.raises(ValueError, match="0 <= correct <= trials"):
        memorisation_posterior([1, 0], [3, 1], [2, 2])
    with pytest.raises(ValueError, match="1-d arrays"):
        memorisation_posterior([1, 0], [1], [2, 2])
