"""``evalstack traces export``: filters, redaction, and a file ``evalstack run`` accepts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from evalstack.cli.main import cli
from evalstack.datasets.files import load_dataset
from evalstack.production.store import (
    FeedbackEvent,
    OnlineScore,
    add_feedback,
    create_project,
    save_scores,
)
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONES = ("(650) 253-0000", "415-555-0132", "+44 20 7946 0958")


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "s.db")
    with Store.open(path) as st:
        pid, _ = create_project(st, "bot")
        items = []
        for i in range(12):
            items.append(Interaction(
                [{"role": "system", "content": "You are a support agent."},
                 {"role": "user", "content": f"I'm jo{i}@example.com, call me on {PHONES[i % 3]}"
                                             f" about order {1000 + i}."}] if i % 4 == 0 else
                f"Order {1000 + i}: my email is jo{i}@example.com, phone {PHONES[i % 3]}.",
                f"Sure, I'll email jo{i}@example.com today.",
                T0 + timedelta(days=i), trace_id=f"{i:032x}",
                model="gpt-4o-mini" if i % 2 else "gpt-4o", conversation_id=f"c-{i // 2}",
                user_id=f"u-{i}"))
        log_interactions(st, pid, items)
        save_scores(st, pid, [OnlineScore(f"{i:032x}", "llm_judge", "nightly", i / 10, T0)
                              for i in range(12)])
        add_feedback(st, pid, [
            FeedbackEvent("thumbs", T0, trace_id=f"{3:032x}", value=0, label="down"),
            FeedbackEvent("thumbs", T0, trace_id=f"{5:032x}", value=1, label="up"),
            FeedbackEvent("escalated", T0, conversation_id="c-4"),   # traces 8 and 9
        ])
    return path


def _export(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["traces", "export", "--project", "bot", "--store", store,
                                    *args])


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_redacted_export_runs_as_an_eval_set(store: str, tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"
    result = _export(store, "--redact", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Wrote 12 traces of 12 considered" in result.output
    # each trace: an e-mail in the input and one in the answer, and a phone number
    assert "Redacted: email 24, phone 12." in result.output
    text = out.read_text(encoding="utf-8")
    assert not EMAIL.search(text)
    assert not any(p in text for p in PHONES)
    rows = _lines(out)
    assert rows[0]["id"] == f"{0:032x}" and rows[0]["target"] == ""
    assert rows[0]["input"][0] == {"role": "system", "content": "You are a support agent."}
    assert rows[1]["input"] == "Order 1001: my email is <EMAIL>, phone <PHONE>."
    assert rows[1]["answer"] == "Sure, I'll email <EMAIL> today."
    assert rows[1]["category"] == "gpt-4o-mini" and rows[1]["conversation_id"] == "c-0"
    assert rows[1]["scores"] == {"llm_judge": 0.1}
    assert rows[1]["started_at"] == (T0 + timedelta(days=1)).isoformat()
    assert "user_id" not in rows[1] and "u-1" not in text
    assert len(load_dataset(out)) == 12  # evalstack's own loader
    run = CliRunner().invoke(cli, ["run", str(out), "-m", "mock/echo", "--store",
                                   str(tmp_path / "runs.db")])
    assert run.exit_code == 0, run.output


@pytest.mark.parametrize(("args", "ids"), [
    (["--model", "gpt-4o"], [0, 2, 4, 6, 8, 10]),
    (["--since", "2026-12-03", "--until", "2026-12-05T00:00:00Z"], [2, 3]),
    (["--min-score", "llm_judge:0.85"], [9, 10, 11]),
    (["--max-score", "llm_judge:0.2", "--model", "gpt-4o-mini"], [1]),
    (["--feedback", "thumbs=down"], [3]),
    (["--feedback", "thumbs=1"], [5]),
    (["--feedback", "thumbs"], [3, 5]),
    (["--feedback", "escalated"], [8, 9]),
    (["--limit", "2", "--model", "gpt-4o-mini"], [1, 3]),
    (["--min-score", "other:0"], []),
])
def test_filters(store: str, tmp_path: Path, args: list[str], ids: list[int]) -> None:
    out = tmp_path / "f.jsonl"
    result = _export(store, *args, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _lines(out)] == [f"{i:032x}" for i in ids]
    assert f"Wrote {len(ids)} traces" in result.output


def test_answer_as_target_and_no_redaction(store: str, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    result = _export(store, "--answer-as-target", "--limit", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    (row,) = _lines(out)
    assert row["target"] == "Sure, I'll email jo0@example.com today." and "answer" not in row
    assert "Redacted" not in result.output


def test_standard_output(store: str) -> None:
    result = _export(store, "--redact", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert '"id": "00000000000000000000000000000000"' in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--min-score", "llm_judge"], "--min-score expects METRIC:VALUE"),
    (["--max-score", "llm_judge:high"], "--max-score expects METRIC:VALUE"),
    (["--feedback", "thumbs="], "--feedback expects NAME or NAME=LABEL"),
    (["--since", "yesterday"], "--since expects a date or time like 2026-12-01"),
    (["--redact", "--region", "XX"], "Unknown phone region 'XX'"),
    (["--limit", "0"], "--limit"),
])
def test_bad_options_are_named(store: str, args: list[str], message: str) -> None:
    result = _export(store, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_unknown_project(store: str) -> None:
    result = CliRunner().invoke(cli, ["traces", "export", "--project", "nope", "--store", store])
    assert result.exit_code == 2
    assert "No project named 'nope'" in result.output


def test_prune_deletes_only_what_is_older(tmp_path):
    from evalstack.production.store import create_project
    from evalstack.production.traces import Interaction, iter_traces, log_interactions
    from evalstack.store import Store

    store = str(tmp_path / "prune.db")
    now = datetime.now(UTC)
    with Store.open(store) as st:
        pid, _ = create_project(st, "bot")
        log_interactions(st, pid, [Interaction("old?", "a", now - timedelta(days=100)),
                                   Interaction("new?", "b", now - timedelta(days=1))])
    result = CliRunner().invoke(cli, ["traces", "prune", "--project", "bot", "--older-than",
                                      "30", "--store", store])
    assert result.exit_code == 0 and "Deleted 0 spans, 0 online_scores, 1 traces" in result.output
    with Store.open(store) as st:
        assert [t.question for t in iter_traces(st, pid)] == ["new?"]


def test_metrics_per_day_with_intervals_and_retention(tmp_path):
    from evalstack.store import Store
    from tests.production.test_monitor import _store_traffic

    store = str(tmp_path / "metrics.db")
    with Store.open(store) as st:
        _, traffic = _store_traffic(st, seed=0)
    (tmp_path / "m.yaml").write_text(
        "- {name: resolution_rate, kind: rate, event: resolved}\n"
        "- {name: retention, kind: retention, periods: 2}\n")
    args = ["traces", "metrics", "--project", "bot", "--metrics", str(tmp_path / "m.yaml"),
            "--store", store]
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    days = data["series"]["resolution_rate"]
    assert len(days) == 30 and all(d["ci_low"] <= d["estimate"] <= d["ci_high"] for d in days)
    covered = sum(d["ci_low"] <= traffic.true_resolution(i) <= d["ci_high"]
                  for i, d in enumerate(days))
    assert covered >= 25
    assert data["retention"]["retention"][0]["size"] > 0
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0 and "resolution_rate per day" in table.output
