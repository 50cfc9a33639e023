"""``evalstack agreement``: reviews against stored judge scores; drift in week 3 flagged."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.production.store import (
    FeedbackEvent,
    OnlineScore,
    add_feedback,
    create_project,
    save_scores,
)
from evalstack.store import Store
from evalstack.testing.traffic import simulate_judge_pairs


def test_weekly_agreement_flags_the_week_the_judge_drifts(tmp_path):
    store = str(tmp_path / "s.db")
    pairs = simulate_judge_pairs(0)
    with Store.open(store) as st:
        pid, _ = create_project(st, "bot")
        save_scores(st, pid, [OnlineScore(p.trace_id, "llm_judge", "nightly",
                                          1.0 if p.automated in ("pass", 1, "good") else 0.0,
                                          p.timestamp) for p in pairs])
        add_feedback(st, pid, [FeedbackEvent("review", p.timestamp + timedelta(minutes=1),
                                             trace_id=p.trace_id,
                                             value=1.0 if p.human in ("pass", 1, "good")
                                             else 0.0) for p in pairs])
    result = CliRunner().invoke(cli, ["agreement", "--project", "bot", "--metric",
                                      "llm_judge", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    weeks = json.loads(result.output)
    assert [w["drift"] for w in weeks][:2] == [False, False] and weeks[2]["drift"] is True
    assert all(w["kappa"]["ci_low"] <= w["kappa"]["estimate"] <= w["kappa"]["ci_high"]
               for w in weeks)
    table = CliRunner().invoke(cli, ["agreement", "--project", "bot", "--metric",
                                     "llm_judge", "--store", store])
    assert "DRIFT" in table.output and "reference" in table.output
