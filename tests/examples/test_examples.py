"""Every example in the README is a file in examples/, and runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.testing.fake_server import FakeServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_python_api_example_runs():
    done = subprocess.run([sys.executable, str(EXAMPLES / "python_api.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "exact_match = 1.00 [0.84, 1.00], n=20" in done.stdout


def test_pipeline_example_with_python_provider(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = _run("examples/unit_eval/capitals.jsonl", "--model",
               "python/examples/my_pipeline.py:answer")
    t = out["tasks"][0]
    assert t["metrics"]["exact_match"]["estimate"] == pytest.approx(6 / 12)
    assert t["input_tokens"] > 0


def test_eval_file_example_against_openai_compatible_server(monkeypatch):
    monkeypatch.chdir(ROOT)
    replies = {"What is the capital of France? Answer with the city name only.": "Paris."}
    with FakeServer(reply_map=replies) as server:
        out = _run("examples/unit_eval/capitals.yaml", "--model", "openai/my-model",
                   "-M", f"base_url={server.url}")
        body = server.stats()["last_request"]["body"]
    t = out["tasks"][0]
    assert set(t["metrics"]) == {"includes", "exact_match", "f1"}
    assert t["metrics"]["exact_match"]["estimate"] == pytest.approx(1 / 12)
    assert body["messages"][0] == {"role": "system",
                                   "content": "You answer geography questions with the city "
                                              "name only."}
    assert body["max_tokens"] == 12


def test_task_file_example_with_epochs(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = _run("examples/tasks.py", "--model", "mock/echo", "--epochs", "3")
    t = out["tasks"][0]
    assert t["samples"] == 15 and t["metrics"]["numeric"]["n"] == 5


def test_readme_mentions_only_existing_example_files():
    readme = (ROOT / "README.md").read_text()
    for name in ("examples/unit_eval/capitals.jsonl", "examples/unit_eval/capitals.yaml",
                 "examples/my_pipeline.py", "examples/tasks.py", "examples/python_api.py"):
        assert name in readme
        assert (ROOT / name).exists()
    lines = readme.splitlines()
    first_block = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]
