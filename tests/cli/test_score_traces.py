"""``evalstack score-traces`` from the command line, with llm_judge on the fake server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.production.store import create_project
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer


def test_scores_the_sample_once_and_reports(tmp_path):
    store = str(tmp_path / "s.db")
    with Store.open(store) as st:
        pid, _ = create_project(st, "bot")
        log_interactions(st, pid, [
            Interaction(f"q{i}?", f"a{i}", datetime(2026, 12, 1, tzinfo=UTC)
                        + timedelta(seconds=i)) for i in range(400)])
    with FakeServer() as server:
        judge = json.dumps({"judge": "openai/judge-model", "judge_args": {
            "base_url": server.url}, "max_attempts": 1})
        policy = tmp_path / "policy.yaml"
        policy.write_text(f"name: nightly\nrate: 0.05\nscorers: ['llm_judge:{judge}']\n")
        args = ["score-traces", "--policy", str(policy), "--project", "bot", "--store", store]
        first = CliRunner().invoke(cli, [*args, "--json"])
        assert first.exit_code == 0, first.output
        report = json.loads(first.output)
        assert report["scored"] == report["sampled"] > 0 and report["considered"] == 400
        again = CliRunner().invoke(cli, args)
        assert again.exit_code == 0 and f"{report['sampled']} scored before" in again.output
        assert server.stats()["requests"] == report["judge_calls"]
    missing = CliRunner().invoke(cli, [*args[:3], "--project", "nope", "--store", store])
    assert missing.exit_code != 0 and "No project named 'nope'" in missing.output
