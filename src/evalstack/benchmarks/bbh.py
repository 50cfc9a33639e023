"""BIG-Bench Hard: 27 challenging BIG-bench tasks, 6,511 items (Suzgun et al., 2022).

Prompt and few-shot setting: lm-evaluation-harness's ``bbh_cot_fewshot`` group
(``lm_eval/tasks/bbh/cot_fewshot/``): each task's 3-shot chain-of-thought prompt from the
BBH repository's ``cot-prompts/<task>.txt`` with the canary header (everything up to the
``-----`` line) removed, then ``\\n\\nQ: {input}\\nA: Let's think step by step.\\n``. The result
is lm-eval's description + three ``Q: ...\\nA: Let's think step by step.\\n...`` examples +
the item, character for character.

Generation: greedy, at most 256 tokens, stop at ``</s>``, ``Q:`` or ``<|im_end|>``. lm-eval's
cot_fewshot stops at ``Q`` and ``\\n\\n`` and allows 1024 tokens; stopping at a blank line cuts
a chat model's multi-paragraph reasoning before its answer, so the stops of lm-eval's
``bbh_cot_zeroshot`` are used instead. ``--max-tokens`` overrides the length.

Metrics:

- ``strict_match``: the first "the answer is X", to the end of its line, minus a final
  period, equal to the target exactly (lm-eval's ``(?<=the answer is )(.*)(?=.)`` filter).
- ``flexible_extract``: by answer type (as lm-eval's cot_zeroshot flexible filters): an option
  letter ``(A)`` (found by ``extract_choice``, also from the option's text), a label
  (True/False, Yes/No, valid/invalid), a number, a bracket sequence (dyck_languages) or a word
  list (word_sorting), read from the "answer is" statement when there is one, else from the
  last ``\\boxed{}`` (from version 2), else from the whole output; compared ignoring case,
  spacing and a final period.

``subtask`` picks one task (or a list); the category is the task name. Data: MIT-licensed
files of suzgunmirac/BIG-Bench-Hard (task data from BIG-bench, Apache-2.0); Hugging Face
``lukaemon/bbh`` (one config per task).
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

from evalstack.core.errors import ConfigError, DataError
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.scorers.extract import flexible_extract, strict_match
from evalstack.solvers.generate import generate

TASKS: tuple[str, ...] = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa",
    "dyck_languages", "formal_fallacies", "geometric_shapes", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects",
    "logical_deduction_three_objects", "movie_recommendation", "multistep_arithmetic_two",
    "navigate", "object_counting", "penguins_in_a_table", "reasoning_about_colored_objects",
    "ruin_names", "salient_translation_error_detection", "snarks", "sports_understanding",
    "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects",
    "web_of_lies", "word_sorting",
)
_COMMIT = "9ee07bd481feebf959a6b59d61ea57bdcf30964d"
_RAW = f"https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/{_COMMIT}"
STOP = ("</s>", "Q:", "<|im_end|>")
COT_CUE = "Let's think step by step."


def data_source(subtask: str) -> DataSource:
    """Where one task's items come from."""
    return DataSource(
        name="bbh", mirror=f"bbh/bbh/{subtask}.json", url=f"{_RAW}/bbh/{subtask}.json",
        hub="lukaemon/bbh", hub_config=subtask, hub_split="test",
        licence="MIT (task data from BIG-bench, Apache-2.0)",
    )


def prompt_source(subtask: str) -> DataSource:
    """Where one task's 3-shot chain-of-thought prompt comes from."""
    return DataSource(
        name="bbh", mirror=f"bbh/cot-prompts/{subtask}.txt",
        url=f"{_RAW}/cot-prompts/{subtask}.txt", licence="MIT",
    )


def fewshot_prefix(path: Path) -> str:
    """A cot-prompts file without its canary header, ready for ``\\n\\nQ: ...`` to follow."""
    text = path.read_text(encoding="utf-8")
    body = text.split("\n-----\n", 1)[-1].strip()
    if not body.count("\nQ: ") or COT_CUE not in body:
        raise DataError(
            f"{path}: expected a BBH chain-of-thought prompt (a description, then 'Q: ...' "
            f"examples answered with {COT_CUE!r}); the file does not look like one."
        )
    return body


def render_prompt(prefix: str, question: str) -> str:
    """The full prompt for ``question`` after a task's few-shot ``prefix``."""
    return f"{prefix}\n\nQ: {question}\nA: {COT_CUE}\n"


def _subtasks(subtask: str | list[str] | None) -> list[str]:
    if subtask is None:
        return list(TASKS)
    names = subtask.split(",") if isinstance(subtask, str) else subtask
    if not isinstance(names, list) or not names:
        raise ConfigError(f"bbh subtask must be a task name or a list; received {subtask!r}.")
    chosen = []
    for name in names:
        name = str(name).strip()
        if name not in TASKS:
            close = difflib.get_close_matches(name, TASKS, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"Unknown BBH subtask {name!r}.{hint} The 27 tasks are: {', '.join(TASKS)}."
            )
        chosen.append(name)
    return chosen


def _load(subtask: str) -> tuple[list[Sample], list[str]]:
    data_path = locate(data_source(subtask))
    prompt_path = locate(prompt_source(subtask))
    prefix = fewshot_prefix(prompt_path)
    samples = []
    for i, row in enumerate(read_records(data_path, data_source(subtask))):
        if not isinstance(row.get("input"), str) or not isinstance(row.get("target"), str):
            raise DataError(
                f"{data_path}: example {i} needs string fields 'input' and 'target'; received "
                f"fields {sorted(row)}."
            )
        samples.append(Sample(
            id=f"{subtask}/{i}",
            input=render_prompt(prefix, row["input"]),
            target=row["target"],
            metadata={"category": subtask, "question": row["input"]},
        ))
    return samples, [file_sha256(data_path), file_sha256(prompt_path)]


@task(version=2)
def bbh(subtask: str | list[str] | None = None) -> Task:
    """BIG-Bench Hard, 3-shot chain of thought in lm-eval's ``bbh_cot_fewshot`` format.

    Args:
        subtask: one of the 27 task names, several (a list or comma-separated), or ``None``
            for all of them.
    """
    samples: list[Sample] = []
    hashes: list[str] = []
    for name in _subtasks(subtask):
        part, part_hashes = _load(name)
        samples.extend(part)
        hashes.extend(part_hashes)
    fingerprint = hashlib.sha256("".join(hashes).encode()).hexdigest()
    return Task(
        "bbh",
        MemoryDataset("bbh", samples, fingerprint=fingerprint),
        generate(),
        [strict_match(extract="answer_is_first", compare="exact"),
         flexible_extract(extract="bbh", compare="text")],
        config=GenerateConfig(max_tokens=256, temperature=0.0, stop=STOP),
    )
