"""MBPP: 500 basic Python problems (test split, task ids 11-510), scored by running their asserts.

Two forms (``-T format=completion|chat``; by default ``chat`` for a model that declares
``Capability.CHAT``, ``completion`` for the others, see ``evalstack.benchmarks._code``).

**completion** matches lm-evaluation-harness's ``mbpp`` task (``lm_eval/tasks/mbpp/mbpp.yaml``):
three-shot, with the problems 2, 3 and 4 of the ``prompt`` split as the examples, each shown as

    You are an expert Python programmer, and here is your task: {text} Your code should pass
    these tests:\\n\\n{test 1}\\n{test 2}\\n{test 3}\\n[BEGIN]\\n{code}\\n[DONE]

(one line in the prompt), examples separated by a blank line, and the problem itself ending
after ``[BEGIN]\\n``; generation stops at ``[DONE]``, greedy, at most 512 tokens. The answer
(cut at ``[DONE]``; its first fenced block if it has one) is followed by the problem's
``test_setup_code`` and its three asserts.

**chat** follows lm-evaluation-harness's ``mbpp_instruct`` with ``--apply_chat_template
--fewshot_as_multiturn``: the same three examples as user/assistant turns, each user turn
``You are an expert Python programmer, and here is your task:\\n{text}\\nYour code should pass
these tests:\\n{test 1}\\n{test 2}\\n{test 3}`` and each assistant turn the example's code in a
```` ```python ```` block, then the problem as the last user turn. lm-evaluation-harness opens
the reply's block with its ``gen_prefix`` (``\\n```python\\n``); chat APIs take no assistant
prefill, so here the examples' answers show the fenced form instead, and the reply's first
fenced block (one marked ``python`` preferred) is the code, or the whole reply when it has
none. No stop sequences are sent and nothing is cut; at most 512 tokens (lm-evaluation-harness
allows 256, short for a reply that explains itself). As in lm-evaluation-harness, the program
starts with ``from __future__ import annotations``, so an answer annotated with ``List[int]``
does not fail for want of the import. Each sample's ``entry_point`` metadata is the function
the asserts call (MBPP does not name it; ``entry_point`` derives it from the asserts and the
reference code).

Both forms run the program in the bubblewrap sandbox (``evalstack.scorers.code``); the metric
is ``pass_at_1``. One difference from lm-evaluation-harness: it leaves out
``test_setup_code``, which problem 367 needs (its asserts use trees the setup code builds).

Data: ``mbpp.jsonl`` of google-research/google-research (CC BY 4.0), or the Hugging Face
dataset ``google-research-datasets/mbpp``, config ``full`` (splits ``test`` and ``prompt``).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
from typing import Any

from evalstack.benchmarks._code import check_format, code_task
from evalstack.core.task import Task, task
from evalstack.core.types import ChatMessage, GenerateConfig, Sample
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
COMPLETION_CONFIG = GenerateConfig(max_tokens=512, temperature=0.0, stop=STOP)
CHAT_CONFIG = GenerateConfig(max_tokens=512, temperature=0.0, stop=())
#: What lm-evaluation-harness's mbpp_instruct puts before the extracted code.
CHAT_CODE_PREFIX = "from __future__ import annotations\n"

Row = dict[str, Any]  # one record of the MBPP files, as read from JSON


def problem_text(row: Row) -> str:
    """A problem as lm-evaluation-harness shows it, up to and including ``[BEGIN]\\n``."""
    tests = "\n".join(row["test_list"][:3])
    return (
        f"You are an expert Python programmer, and here is your task: {row['text']} "
        f"Your code should pass these tests:\n\n{tests}\n[BEGIN]\n"
    )


def chat_text(row: Row) -> str:
    """A problem as lm-evaluation-harness's ``mbpp_instruct`` asks it (one user turn)."""
    tests = "\n".join(row["test_list"][:3])
    return (
        f"You are an expert Python programmer, and here is your task:\n{row['text']}\n"
        f"Your code should pass these tests:\n{tests}"
    )


def chat_answer(row: Row) -> str:
    """A solved example's answer in the chat form: its code in a ``python`` block."""
    return f"```python\n{row['code']}\n```"


def fewshot_prefix(shots: list[Row]) -> str:
    """The solved examples, each ending with ``[DONE]``, and the blank line after them."""
    return "".join(f"{problem_text(row)}{row['code']}\n[DONE]\n\n" for row in shots)


def fewshot_turns(shots: list[Row]) -> tuple[ChatMessage, ...]:
    """The solved examples as user/assistant turns (the chat form)."""
    turns: list[ChatMessage] = []
    for row in shots:
        turns += [ChatMessage("user", chat_text(row)), ChatMessage("assistant", chat_answer(row))]
    return tuple(turns)


def _called(source: str) -> list[str]:
    """Names called as functions in ``source``, in the order they appear."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return re.findall(r"\b([A-Za-z_]\w*)\s*\(", source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    ordered = sorted(calls, key=lambda c: (c.lineno, c.col_offset))
    return [c.func.id for c in ordered if isinstance(c.func, ast.Name)]


def entry_point(row: Row) -> str:
    """The function a problem's asserts test: the first one they call that its code defines.

    Examples:
        >>> entry_point({"code": "import math\\r\\ndef area(r):\\r\\n  return math.pi*r*r",
        ...              "test_list": ["assert math.isclose(area(1), 3.14159, rel_tol=1e-3)"]})
        'area'
    """
    called = _called("\n".join(row["test_list"]))
    try:
        tree = ast.parse(row["code"].replace("\r\n", "\n"))
        defined = {n.name for n in tree.body
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    except SyntaxError:
        defined = set(re.findall(r"^def\s+(\w+)", row["code"], re.MULTILINE))
    return next((name for name in called if name in defined), called[0] if called else "")


def _rows(source: DataSource, ids: range | tuple[int, ...]) -> tuple[dict[int, Row], str]:
    path = locate(source)
    wanted = set(ids)
    rows = {int(r["task_id"]): r for r in read_records(path, source)
            if int(r["task_id"]) in wanted}
    return rows, file_sha256(path)


def _load() -> tuple[list[tuple[Row, Sample]], list[Row], str]:
    tests, test_sha = _rows(TEST_SOURCE, TEST_IDS)
    shots, shot_sha = _rows(PROMPT_SOURCE, FEWSHOT_IDS)
    pairs = []
    for task_id in sorted(tests):
        row = tests[task_id]
        setup = row.get("test_setup_code") or ""
        pairs.append((row, Sample(
            id=str(task_id),
            input=problem_text(row),
            target=row["code"],
            metadata={"code_test": "\n".join([setup, *row["test_list"]]).strip("\n"),
                      "entry_point": entry_point(row)},
        )))
    fingerprint = test_sha if test_sha == shot_sha else hashlib.sha256(
        f"{test_sha}\n{shot_sha}".encode()).hexdigest()
    return pairs, [shots[i] for i in FEWSHOT_IDS], fingerprint


def load_samples() -> tuple[list[Sample], str, str]:
    """The test problems as samples (the completion form), the few-shot prefix, and the data
    fingerprint.

    Each sample's input is the problem's own prompt (``problem_text``), its target the reference
    code, and its metadata ``code_test`` (the setup code and the asserts) and ``entry_point``.
    """
    pairs, shots, fingerprint = _load()
    return [s for _, s in pairs], fewshot_prefix(shots), fingerprint


@task(version=2)
def mbpp(
    timeout: float = 10.0,
    unsafe_no_sandbox: bool = False,
    format: str = "auto",
) -> Task:
    """MBPP, three-shot in lm-evaluation-harness's formats, scored by its asserts (``pass_at_1``).

    Args:
        timeout: wall-clock seconds for each program.
        unsafe_no_sandbox: run programs without bubblewrap (a loud warning is printed).
            From the command line: ``-T unsafe_no_sandbox=true``.
        format: ``completion`` (continue the ``[BEGIN]`` prompt), ``chat`` (the examples as
            conversation turns), or ``auto``: ``chat`` for a model with the chat capability.

    Raises:
        ConfigError: an unknown ``format``.
    """
    fmt = check_format(format, "mbpp")
    pairs, shots, fingerprint = _load()
    scorer = code_execution(timeout=timeout, unsafe_no_sandbox=unsafe_no_sandbox)

    def build(form: str) -> Task:
        if form == "chat":
            turns = fewshot_turns(shots)
            samples = [dataclasses.replace(
                s, input=(*turns, ChatMessage("user", chat_text(row))),
                metadata={**s.metadata, "code_prefix": CHAT_CODE_PREFIX},
            ) for row, s in pairs]
            return Task("mbpp", MemoryDataset("mbpp", samples, fingerprint=fingerprint),
                        generate(), [scorer], config=CHAT_CONFIG, args={"format": form})
        prefix = fewshot_prefix(shots)
        template = prefix.replace("{", "{{").replace("}", "}}") + "{input}"
        return Task("mbpp", MemoryDataset("mbpp", [s for _, s in pairs], fingerprint=fingerprint),
                    generate(template=template), [scorer], config=COMPLETION_CONFIG,
                    args={"format": form})

    return code_task(fmt, build)
