"""A server that answers ``content: null`` (a refusal, a tool call): through the real CLI the
sample is an error, not an empty answer scored 0, and a rerun asks again for it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.testing.fake_server import FakeServer


def test_content_null_is_an_errored_sample_not_a_wrong_answer(tmp_path: Path) -> None:
    data = tmp_path / "cases.jsonl"
    data.write_text("".join(json.dumps({"input": f"q{i}", "target": f"q{i}"}) + "\n"
                            for i in range(3)))
    store = tmp_path / "s.db"
    args = ["run", str(data), "-m", "openai/m", "--store", str(store), "--json",
            "--error-budget", "1"]
    with FakeServer(refusal="I can't help with that.") as server:
        result = CliRunner().invoke(cli, [*args, "-M", f"base_url={server.url}"])
        assert "Traceback" not in result.output
        out = json.loads(result.output)["tasks"][0]
        assert out["errors"] == 3 and out["samples"] == 3
        assert "exact_match" not in out["metrics"]  # nothing scored as a wrong answer
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT output, scores, error FROM samples").fetchall()
    assert len(rows) == 3
    for output, scores, error in rows:
        assert output == "" and json.loads(scores) == {}
        assert "returned no text" in error and "I can't help with that." in error
    # never cached as an answer: a server that now answers gets asked again
    with FakeServer() as server:
        result = CliRunner().invoke(cli, [*args, "-M", f"base_url={server.url}"])
        out = json.loads(result.output)["tasks"][0]
        assert server.stats()["requests"] == 3
    assert out["errors"] == 0 and out["metrics"]["exact_match"]["estimate"] == 1.0
