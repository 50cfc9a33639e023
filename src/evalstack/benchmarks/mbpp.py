"""MBPP: 500 basic Python problems (test split, task ids 11-510), scored by running their asserts.

Matches lm-evaluation-harness's ``mbpp`` task (``lm_eval/tasks/mbpp/mbpp.yaml``): three-shot,
with the problems 2, 3 and 4 of the ``prompt`` split as the examples, each shown as

    You are an expert Python programmer, and here is your task: {text} Your code should pass
    these tests:\\n\\n{test 1}\\n{test 2}\\n{test 3}\\n[BEGIN]\\n{code}\\n[DONE]

(one line in the prompt), examples separated by a blank line, and the problem itself ending
after ``[BEGIN]\\n``; generation stops at ``[DONE]``, greedy. The answer's code (the first
fenced block if it has one) is followed by the problem's ``test_setup_code`` and its three
asserts and run in the bubblewrap sandbox (``evalstack.scorers.code``); the metric is
``pass_at_1``. One difference from lm-evaluation-harness: it leaves out ``test_setup_code``,
which problem 367 needs (its asserts use trees the setup code builds).

Data: ``mbpp.jsonl`` of google-research/google-research (CC BY 4.0), or the Hugging Face
dataset ``google-research-datasets/mbpp``, config ``full`` (splits ``test`` and ``prompt``).
"""

from __future__ import annotations

import hashlib

from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.scorers.code import code_execution
from evalstack.solvers.generate import generate

_URL = "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl"
TEST_SOURCE = DataSource(
    name="mbpp", mirror="mbpp/mbpp.jsonl", url=_URL,
    hub="google-research-datasets/mbpp", hub_config="full", hub_split="test",
    licence="CC BY 4.0",
)
PROMPT_SOURCE = DataSource(
    name="mbpp", mirror="mbpp/mbpp.jsonl", url=_URL,
    hub="google-research-datasets/mbpp", hub_config="full", hub_split="prompt",
    licence="CC BY 4.0",
)

TEST_IDS = range(11, 511)
FEWSHOT_IDS = (2, 3, 4)
STOP = ("[DONE]",)


def problem_text(row: dict) -> str:
    """A problem as lm-evaluation-harness shows it, up to and including ``[BEGIN]\\n``."""
    tests = "\n".join(row["test_list"][:3])
    return (
        f"You are an expert Python programmer, and here is your task: {row['text']} "
        f"Your code should pass these tests:\n\n{tests}\n[BEGIN]\n"
    )


def fewshot_prefix(shots: list[dict]) -> str:
    """The solved examples, each ending with ``[DONE]``, and the blank line after them."""
    return "".join(f"{problem_text(row)}{row['code']}\n[DONE]\n\n" for row in shots)


def _rows(source: DataSource, ids: range | tuple[int, ...]) -> tuple[dict[int, dict], str]:
    path = locate(source)
    wanted = set(ids)
    rows = {int(r["task_id"]): r for r in read_records(path, source)
            if int(r["task_id"]) in wanted}
    return rows, file_sha256(path)


def load_samples() -> tuple[list[Sample], str, str]:
    """The test problems as samples, the few-shot prefix, and the data fingerprint.

    Each sample's input is the problem's own prompt (``problem_text``), its target the reference
    code, and its metadata ``code_test``: the setup code and the asserts.
    """
    tests, test_sha = _rows(TEST_SOURCE, TEST_IDS)
    shots, shot_sha = _rows(PROMPT_SOURCE, FEWSHOT_IDS)
    samples = []
    for task_id in sorted(tests):
        row = tests[task_id]
        setup = row.get("test_setup_code") or ""
        samples.append(Sample(
            id=str(task_id),
            input=problem_text(row),
            target=row["code"],
            metadata={"code_test": "\n".join([setup, *row["test_list"]]).strip("\n")},
        ))
    prefix = fewshot_prefix([shots[i] for i in FEWSHOT_IDS])
    fingerprint = test_sha if test_sha == shot_sha else hashlib.sha256(
        f"{test_sha}\n{shot_sha}".encode()).hexdigest()
    return samples, prefix, fingerprint


@task(version=1)
def mbpp(
    timeout: float = 10.0,
    unsafe_no_sandbox: bool = False,
) -> Task:
    """MBPP, three-shot in lm-evaluation-harness's format, scored by its asserts (``pass_at_1``).

    Args:
        timeout: wall-clock seconds for each program.
        unsafe_no_sandbox: run programs without bubblewrap (a loud warning is printed).
            From the command line: ``-T unsafe_no_sandbox=true``.
    """
    samples, prefix, fingerprint = load_samples()
    template = prefix.replace("{", "{{").replace("}", "}}") + "{input}"
    return Task(
        "mbpp",
        MemoryDataset("mbpp", samples, fingerprint=fingerprint),
        generate(template=template),
        [code_execution(timeout=timeout, unsafe_no_sandbox=unsafe_no_sandbox)],
        config=GenerateConfig(max_tokens=512, temperature=0.0, stop=STOP),
    )
