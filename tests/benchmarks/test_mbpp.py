"""MBPP: lm-evaluation-harness's 3-shot prompts (completion and chat forms); reference solutions
pass in every shape a model gives them, broken ones fail."""

from __future__ import annotations

import json
import time

import pytest

from evalstack.benchmarks.mbpp import (
    CHAT_CODE_PREFIX,
    FEWSHOT_IDS,
    STOP,
    TEST_SOURCE,
    entry_point,
    mbpp,
)
from evalstack.core import registry
from evalstack.core.errors import ConfigError
from evalstack.core.types import Capability, Sample
from evalstack.datasets.sources import file_sha256, locate
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.store import Store
from tests.benchmarks.chat_coder import FORMS, mbpp_reply, mixed
from tests.benchmarks.helpers import run_chat_coder

CHAT = frozenset({Capability.GENERATE, Capability.CHAT})
COMPLETION = frozenset({Capability.GENERATE})

# The start of the prompt of the first test problem (task 11), as lm-evaluation-harness's
# mbpp task renders it: the three solved examples (tasks 2, 3, 4; their code keeps the data's
# CRLF line ends), then the problem, ending after "[BEGIN]\n".
FIRST_SHOT = (
    "You are an expert Python programmer, and here is your task: Write a function to find the "
    "similar elements from the given two tuple lists. Your code should pass these tests:\n\n"
    "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
    "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)\n"
    "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)\n"
    "[BEGIN]\n"
    "def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & "
    "set(test_tup2))\r\n  return (res) \n[DONE]\n\n"
    "You are an expert Python programmer, and here is your task: Write a python function to "
    "identify non-prime numbers."
)
LAST_PROBLEM = (
    "[DONE]\n\nYou are an expert Python programmer, and here is your task: Write a python "
    "function to remove first and last occurrence of a given character from the string. Your "
    "code should pass these tests:\n\nassert remove_Occ(\"hello\",\"l\") == \"heo\"\n"
    "assert remove_Occ(\"abcda\",\"a\") == \"bcd\"\nassert remove_Occ(\"PHP\",\"P\") == \"H\"\n"
    "[BEGIN]\n"
)


def altered(sample: Sample) -> str:
    """The reference code with the tested function's return value replaced by a fresh object."""
    name = sample.metadata["entry_point"]
    return (f"{sample.target}\n_reference = {name}\n"
            f"{name} = lambda *a, **k: (_reference(*a, **k), object())[1]\n")


def test_prompt_matches_lm_evaluation_harness():
    task = mbpp()
    samples = list(task.dataset)
    assert len(samples) == 500
    assert [s.id for s in samples[:2]] == ["11", "12"] and samples[-1].id == "510"
    prompt = task.solver.template.render(samples[0])
    assert prompt.startswith(FIRST_SHOT)
    assert prompt.endswith(LAST_PROBLEM)
    assert prompt.count("[DONE]") == 3 and len(FEWSHOT_IDS) == 3
    assert task.config.stop == STOP == ("[DONE]",)
    assert (task.config.temperature, task.version) == (0.0, 2)
    assert task.args == {"format": "auto"} and task.adapted(COMPLETION).args == {
        "format": "completion"}
    assert task.dataset.fingerprint() == file_sha256(locate(TEST_SOURCE))
    assert (TEST_SOURCE.hub, TEST_SOURCE.hub_config) == ("google-research-datasets/mbpp", "full")
    assert registry.lookup("task", "mbpp") is mbpp
    # task 367's asserts need its test_setup_code, which follows the answer
    setup = next(s for s in samples if s.id == "367").metadata["code_test"]
    assert setup.startswith("root = Node(1)")
    assert setup.rstrip().endswith("is_tree_balanced(root2) == False")


def test_reference_solutions_pass_and_broken_ones_fail(tmp_path):
    """Completion form, all 500 test problems: the reference code passes in the sandbox, answered
    bare and closed with [DONE] (as a completion model does) for even problems (the chat test's
    mixed run answers the odd ones bare), and for odd ones in turn fenced between sentences and
    fenced under extra imports (the only stop, [DONE], leaves a fenced reply whole); with the
    return value altered, every one fails."""
    task = mbpp()
    samples = list(task.dataset)
    prompts = {s.id: task.solver.template.render(s) for s in samples}

    def answer(i: int, s: Sample) -> str:
        if i % 2 == 0:
            return mbpp_reply(s, "bare") + "\n[DONE]\n"
        return mbpp_reply(s, ("function", "imports")[i // 2 % 2])

    replies = {
        "reference": {prompts[s.id]: answer(i, s) for i, s in enumerate(samples)},
        "altered": {prompts[s.id]: altered(s) for s in samples},
    }
    models = [MockProvider("scripted", replies=r) for r in replies.values()]
    started = time.monotonic()
    result = evaluate([task], models, RunConfig(store=str(tmp_path / "s.db"), progress=False,
                                                cache=False))
    elapsed = time.monotonic() - started
    reference, changed = result.tasks
    with Store.open(str(tmp_path / "s.db")) as store:
        failures = {s.sample_id: s.scores["pass_at_1"].get("explanation")
                    for s in store.iter_samples(reference.run_id)
                    if s.scores["pass_at_1"]["value"] != 1.0}
        assert store.get_run(reference.run_id).task_spec["args"] == {"format": "completion"}
    assert failures == {}
    assert reference.errors == 0 and reference.metrics["pass_at_1"].n == 500
    assert reference.metrics["pass_at_1"].estimate == 1.0
    assert changed.errors == 0 and changed.metrics["pass_at_1"].estimate == 0.0
    assert elapsed < 180


def test_the_form_follows_the_model_or_the_format_argument():
    task = mbpp(timeout=5)
    chat, completion = task.adapted(CHAT), task.adapted(COMPLETION)
    assert chat.spec()["args"] == {"format": "chat", "timeout": 5}
    assert completion.spec()["args"] == {"format": "completion", "timeout": 5}
    assert (chat.version, chat.config.stop, completion.config.stop) == (2, (), STOP)
    assert chat.solver.template is None  # the chat samples carry their conversation
    first = next(iter(chat.dataset))
    assert first.metadata["code_prefix"] == CHAT_CODE_PREFIX
    assert first.metadata["entry_point"] == next(iter(completion.dataset)).metadata[
        "entry_point"] == "remove_Occ"
    assert mbpp(format="chat").adapted(COMPLETION).config.stop == ()
    with pytest.raises(ConfigError, match="mbpp format must be auto, chat or completion"):
        mbpp(format="")


def test_entry_points_come_from_the_asserts_and_the_code():
    samples = list(mbpp().dataset)
    assert all(s.metadata["entry_point"] for s in samples)
    assert all(f"def {s.metadata['entry_point']}" in s.target for s in samples)
    row = {"code": "def helper(x):\r\n  return x\r\ndef f(x):\r\n  return helper(x)",
           "test_list": ["assert set(f([1])) == set(helper([1]))"]}
    assert entry_point(row) == "f"


def test_exact_chat_prompt_of_the_first_item():
    """lm-evaluation-harness's ``mbpp_instruct`` with its three examples as conversation turns,
    each answered with the example's code in a ```python block (its gen_prefix opens the block;
    a chat API takes no assistant prefill, so the examples show it)."""
    task = mbpp().adapted(CHAT)
    first = next(iter(task.dataset))
    turns = [(m.role, m.content) for m in first.input]
    head = "You are an expert Python programmer, and here is your task:\n"
    assert turns == [
        ("user", head + "Write a function to find the similar elements from the given two "
         "tuple lists.\nYour code should pass these tests:\n"
         "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
         "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)\n"
         "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)"),
        ("assistant", "```python\ndef similar_elements(test_tup1, test_tup2):\r\n  res = "
         "tuple(set(test_tup1) & set(test_tup2))\r\n  return (res) \n```"),
        ("user", head + "Write a python function to identify non-prime numbers.\nYour code "
         "should pass these tests:\nassert is_not_prime(2) == False\n"
         "assert is_not_prime(10) == True\nassert is_not_prime(35) == True"),
        ("assistant", "```python\nimport math\r\ndef is_not_prime(n):\r\n    result = False"
         "\r\n    for i in range(2,int(math.sqrt(n)) + 1):\r\n        if n % i == 0:\r\n"
         "            result = True\r\n    return result\n```"),
        ("user", head + "Write a function to find the largest integers from a given list of "
         "numbers using heap queue algorithm.\nYour code should pass these tests:\n"
         "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],3)==[85, 75, 65] \n"
         "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],2)==[85, 75] \n"
         "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],5)==[85, 75, 65, "
         "58, 35]"),
        ("assistant", "```python\nimport heapq as hq\r\ndef heap_queue_largest(nums,n):\r\n"
         "  largest_nums = hq.nlargest(n, nums)\r\n  return largest_nums\n```"),
        ("user", head + "Write a python function to remove first and last occurrence of a "
         "given character from the string.\nYour code should pass these tests:\n"
         'assert remove_Occ("hello","l") == "heo"\nassert remove_Occ("abcda","a") == "bcd"\n'
         'assert remove_Occ("PHP","P") == "H"'),
    ]


def test_chat_replies_with_the_whole_function_pass_through_the_cli(tmp_path):
    """A chat model (a ``python/`` callable) answering all 500 problems with a sentence, the
    reference code in a ```python block, a sentence and a second block: all pass."""
    out, run_record, _, elapsed = run_chat_coder("mbpp", tmp_path, "function")
    assert (out["task_version"], out["samples"], out["errors"]) == (2, 500, 0)
    assert out["metrics"]["pass_at_1"]["estimate"] == 1.0
    assert run_record.task_spec["args"] == {"format": "chat"}
    assert elapsed < 120


def test_chat_replies_with_imports_bare_or_broken(tmp_path):
    """Chat form, all 500 problems: the code fenced under extra imports passes; a run answering
    odd problems with the bare code and even ones with a broken function passes exactly the
    odd ones."""
    task = mbpp()
    samples = list(task.adapted(CHAT).dataset)
    assert set(FORMS) == {"bare", "function", "imports", "broken"}
    replies = {
        "imports": {s.input_text(): mbpp_reply(s, "imports") for s in samples},
        "mixed": {s.input_text(): mbpp_reply(s, mixed(i)) for i, s in enumerate(samples)},
    }
    models = []
    for r in replies.values():
        model = MockProvider("scripted", replies=r)
        model.capabilities = model.capabilities | {Capability.CHAT}
        models.append(model)
    result = evaluate([task], models, RunConfig(store=str(tmp_path / "s.db"), progress=False,
                                                cache=False))
    imports, both = result.tasks
    with Store.open(str(tmp_path / "s.db")) as store:
        values = {name: {r.sample_id: r.scores["pass_at_1"]["value"]
                         for r in store.iter_samples(t.run_id)}
                  for name, t in zip(replies, result.tasks, strict=True)}
        assert {store.get_run(t.run_id).task_spec["args"]["format"]
                for t in result.tasks} == {"chat"}
    assert imports.errors == 0 and imports.metrics["pass_at_1"].estimate == 1.0
    assert values["mixed"] == {s.id: 1.0 if mixed(i) == "bare" else 0.0
                               for i, s in enumerate(samples)}
    assert both.errors == 0 and both.metrics["pass_at_1"].n == 500


def test_hub_split_files_are_used_when_there_is_no_mirror(tmp_path, monkeypatch):
    """Without the mirror file, the hub's test and prompt splits (exported to the cache) load."""
    rows = [json.loads(line) for line in
            locate(TEST_SOURCE).read_text(encoding="utf-8").splitlines()]
    by_id = {r["task_id"]: r for r in rows}
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(cache))
    for split, ids in (("test", [11, 12]), ("prompt", [1, 2, 3, 4])):
        path = cache / "data" / "mbpp" / f"hub-full-{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(by_id[i]) + "\n" for i in ids), encoding="utf-8")
    task = mbpp(timeout=5)
    assert [s.id for s in task.dataset] == ["11", "12"]
    assert len(task.dataset.fingerprint()) == 64
    assert task.solver.template.render(next(iter(task.dataset))).startswith(FIRST_SHOT)
