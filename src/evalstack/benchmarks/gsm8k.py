"""GSM8K: 1,319 grade-school maths word problems (Cobbe et al., 2021), test split.

Prompt and few-shot setting: lm-evaluation-harness's ``gsm8k`` task (``lm_eval/tasks/gsm8k/
gsm8k.yaml``, version 3.0): ``num_fewshot: 5`` from the train split, each example rendered as
``Question: {question}\\nAnswer: {answer}`` with its full worked solution (calculator
annotations and ``#### N`` line included), examples separated by a blank line, then
``Question: {question}\\nAnswer:`` for the item. No description, one user message.

Few-shot examples are drawn as lm-eval's default sampler draws them: one
``random.Random(1234)`` (lm-eval's ``fewshot_random_seed`` default) shared by the whole test
split, ``rng.sample(train, k)`` for each test item in order, so each item gets its own
examples and item 0 gets train rows 6374, 3610, 957, 61 and 742. Prompts are therefore
identical to lm-eval's for any ``--limit``.

Generation (as lm-eval): greedy, stop at ``Question:``, ``</s>`` or ``<|im_end|>``, at most 256
tokens (lm-eval's default ``max_gen_toks``).

Metrics:

- ``strict_match``: the first number after ``#### `` (lm-eval's ``strict-match`` filter).
- ``flexible_extract``: the number of the last answer statement ("The answer is 18.", a line
  starting "Answer:" or "**Final Answer:**", ``\\boxed{18}``, ``#### 18``), else the last
  number in the output (lm-eval's ``flexible-extract`` regex; runs without a digit are
  skipped). Reading the statement first is evalstack's (version 2): a chat model that adds
  "(9 eggs at $2 each)" or "Let me know if step 2 is unclear" after its answer is not scored
  on that last number. Without a statement it is lm-eval's ``flexible-extract`` exactly.

Both compare after removing commas, ``$`` and trailing periods, as lm-eval does; equal decimal
values also match (``18.00`` = ``18``, which lm-eval's string comparison scores 0). A chat model
that writes "The answer is 18." scores 1 on ``flexible_extract`` and 0 on ``strict_match``.

Data: the MIT-licensed ``grade_school_math/data/{test,train}.jsonl`` of openai/grade-school-math
(Hugging Face ``openai/gsm8k``, config ``main``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

from evalstack.core.errors import ConfigError, DataError
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.scorers.extract import flexible_extract, strict_match
from evalstack.solvers.generate import generate

_COMMIT = "3101c7d5072418e28b9008a6636bde82a006892c"
_RAW = f"https://raw.githubusercontent.com/openai/grade-school-math/{_COMMIT}/grade_school_math/data"

TEST = DataSource(
    name="gsm8k", mirror="gsm8k/test.jsonl", url=f"{_RAW}/test.jsonl",
    hub="openai/gsm8k", hub_config="main", hub_split="test", licence="MIT",
)
TRAIN = DataSource(
    name="gsm8k", mirror="gsm8k/train.jsonl", url=f"{_RAW}/train.jsonl",
    hub="openai/gsm8k", hub_config="main", hub_split="train", licence="MIT",
)

#: lm-evaluation-harness's default ``fewshot_random_seed``.
FEWSHOT_SEED = 1234
STOP = ("Question:", "</s>", "<|im_end|>")


def final_answer(solution: str) -> str:
    """The final answer of a GSM8K solution: what follows ``#### ``, without commas.

    Examples:
        >>> final_answer("3 + 4 = <<3+4=7>>7 apples\\n#### 7")
        '7'
    """
    return solution.rsplit("####", 1)[-1].strip().replace(",", "")


def _rows(source: DataSource) -> tuple[list[dict[str, Any]], str]:
    path = locate(source)
    rows = list(read_records(path, source))
    for i, row in enumerate(rows, start=1):
        if not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
            raise DataError(
                f"{path}:{i}: expected string fields 'question' and 'answer'; received "
                f"fields {sorted(row)}."
            )
    return rows, file_sha256(path)


def render_prompt(question: str, shots: Sequence[dict[str, Any]]) -> str:
    """The full prompt for ``question`` after the solved ``shots``, in lm-eval's format."""
    head = "".join(f"Question: {s['question']}\nAnswer: {s['answer']}\n\n" for s in shots)
    return f"{head}Question: {question}\nAnswer:"


@task(version=2)
def gsm8k(fewshot: int = 5, fewshot_seed: int = FEWSHOT_SEED) -> Task:
    """GSM8K test set, 5-shot in lm-evaluation-harness's ``gsm8k`` format (module docstring).

    Args:
        fewshot: solved train examples per prompt (0 for zero-shot).
        fewshot_seed: seed of the few-shot sampler (lm-eval's default 1234).
    """
    if isinstance(fewshot, bool) or not isinstance(fewshot, int) or not 0 <= fewshot <= 64:
        raise ConfigError(f"gsm8k fewshot must be an integer from 0 to 64; received {fewshot!r}.")
    if isinstance(fewshot_seed, bool) or not isinstance(fewshot_seed, int):
        raise ConfigError(f"gsm8k fewshot_seed must be an integer; received {fewshot_seed!r}.")
    rows, test_hash = _rows(TEST)
    train: list[dict[str, Any]] = []
    hashes = [test_hash]
    if fewshot:
        train, train_hash = _rows(TRAIN)
        hashes.append(train_hash)
    rng = random.Random(fewshot_seed)
    samples = []
    for i, row in enumerate(rows):
        picks = rng.sample(range(len(train)), fewshot) if fewshot else []
        samples.append(Sample(
            id=str(i),
            input=render_prompt(row["question"], [train[j] for j in picks]),
            target=final_answer(row["answer"]),
            metadata={"question": row["question"], "solution": row["answer"],
                      "fewshot_train_rows": picks},
        ))
    fingerprint = hashes[0] if len(hashes) == 1 else hashlib.sha256(
        "".join(hashes).encode()).hexdigest()
    return Task(
        "gsm8k",
        MemoryDataset("gsm8k", samples, fingerprint=fingerprint),
        generate(),
        [strict_match(extract="gsm8k", compare="number"),
         flexible_extract(extract="final_number", compare="number")],
        config=GenerateConfig(max_tokens=256, temperature=0.0, stop=STOP),
    )
