"""RGB's counterfactual set as a robustness check (read from the mirror; never shipped)."""

from __future__ import annotations

import os

import pytest

from evalstack.benchmarks.rag_counterfactual import rag_counterfactual
from evalstack.core.errors import ConfigError
from tests.benchmarks.helpers import run

pytestmark = pytest.mark.skipif(not os.environ.get("EVALSTACK_DATA_DIR"),
                                reason="RGB is read from the data mirror only")


def test_the_wrong_passages_are_given_and_the_mixed_setting_adds_the_true_ones():
    wrong = list(rag_counterfactual().dataset)
    assert len(wrong) == 100
    first = wrong[0]
    assert first.targets == ("Tampa, Florida",)
    assert first.metadata["fake_answer"] == "Glendale, Arizona"
    assert all("Glendale, Arizona" in d for d in first.metadata["contexts"])
    assert "Tampa" not in first.input_text() and "Question: Super Bowl 2021 location" in (
        first.input_text())
    mixed = list(rag_counterfactual(passages="mixed").dataset)[0]
    assert len(mixed.metadata["contexts"]) == 2 * len(first.metadata["contexts"])
    assert "Tampa, Florida" in mixed.input_text()
    assert mixed.metadata["contexts"] != list(rag_counterfactual(
        passages="mixed", seed=1).dataset)[0].metadata["contexts"]
    with pytest.raises(ConfigError, match="'wrong' or 'mixed'"):
        rag_counterfactual(passages="all")


def test_following_flagging_and_correct_answers_are_told_apart(tmp_path):
    task = rag_counterfactual()
    samples = list(task.dataset)[:3]
    replies = {
        samples[0].input_text(): "It was played in Glendale, Arizona.",  # followed the lie
        samples[1].input_text(): "The documents contain factual errors; it is "
                                 + samples[1].targets[0] + ".",  # flagged and corrected
        samples[2].input_text(): "I do not know.",
    }
    result, records = run(task, tmp_path, "mock/scripted", limit=3, replies=replies)
    by = {sid: {k: v["value"] for k, v in r.scores.items()} for sid, r in records.items()}
    assert by[samples[0].id] == {"follows_wrong_passage": 1.0, "flags_contradiction": 0.0,
                                 "correct_answer": 0.0}
    assert by[samples[1].id] == {"follows_wrong_passage": 0.0, "flags_contradiction": 1.0,
                                 "correct_answer": 1.0}
    assert by[samples[2].id] == {"follows_wrong_passage": 0.0, "flags_contradiction": 0.0,
                                 "correct_answer": 0.0}
    rate = result.metrics["follows_wrong_passage"]
    assert rate.n == 3 and rate.ci_low < 1 / 3 < rate.ci_high
