"""MBPP: lm-evaluation-harness's 3-shot prompt; reference solutions pass, broken ones fail."""

from __future__ import annotations

import json
import re
import time

from evalstack.benchmarks.mbpp import FEWSHOT_IDS, STOP, TEST_SOURCE, mbpp
from evalstack.core import registry
from evalstack.core.types import Sample
from evalstack.datasets.sources import file_sha256, locate
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.store import Store

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


def function_name(sample: Sample) -> str:
    return re.search(r"assert\s+(?:not\s+)?\(?\s*(\w+)\s*\(", sample.metadata["code_test"])[1]


def altered(sample: Sample) -> str:
    """The reference code with the tested function's return value replaced by a fresh object."""
    name = function_name(sample)
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
    assert (task.config.temperature, task.version) == (0.0, 1)
    assert task.dataset.fingerprint() == file_sha256(locate(TEST_SOURCE))
    assert (TEST_SOURCE.hub, TEST_SOURCE.hub_config) == ("google-research-datasets/mbpp", "full")
    assert registry.lookup("task", "mbpp") is mbpp
    # task 367's asserts need its test_setup_code, which follows the answer
    setup = next(s for s in samples if s.id == "367").metadata["code_test"]
    assert setup.startswith("root = Node(1)")
    assert setup.rstrip().endswith("is_tree_balanced(root2) == False")


def test_reference_solutions_pass_and_broken_ones_fail(tmp_path):
    """The 500 test problems' reference code passes in the sandbox (answered as a fenced block
    followed by [DONE], as a model would); with the return value altered, all fail."""
    task = mbpp()
    samples = list(task.dataset)
    prompts = {s.id: task.solver.template.render(s) for s in samples}
    replies = {
        "reference": {prompts[s.id]: f"```python\n{s.target}\n```\n[DONE]\n" for s in samples},
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
    assert failures == {}
    assert reference.errors == 0 and reference.metrics["pass_at_1"].n == 500
    assert reference.metrics["pass_at_1"].estimate == 1.0
    assert changed.errors == 0 and changed.metrics["pass_at_1"].estimate == 0.0
    assert elapsed < 180


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
