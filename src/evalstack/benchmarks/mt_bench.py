"""MT-Bench: 80 two-turn questions in 8 categories (Zheng et al., 2023), generation only.

No lm-evaluation-harness task exists for MT-Bench; the protocol is FastChat's
``fastchat/llm_judge/gen_model_answer.py``: the first question is asked, the model's reply is
kept in the conversation, and the follow-up question is asked (the ``multi_turn`` solver). As
there, the temperature depends on the category (writing and roleplay 0.7; stem and
humanities 0.1; extraction, math, coding and reasoning 0.0) unless the task argument
``temperature`` gives one for all (``-T temperature=0``; ``--temperature`` does not apply,
since each sample carries its own), and replies are at most 1,024 tokens.

Scoring: MT-Bench is scored by an LLM judge (GPT-4 in the paper, reference-guided for math,
reasoning and coding). That judging will use evalstack's judge scorer once it exists; until
then the task reports one trivial binary metric, ``answered``: 1 when the second-turn reply is
not empty. Both replies are stored in each sample's metadata (``turns``), and the reference
answers are loaded into metadata for the judge: ``reference`` (the question file's own
reference, 39 questions) and ``reference_answer`` (GPT-4's reference replies to both turns,
30 questions, ``mt_bench/reference_answer/gpt-4.jsonl``).

Data: Apache-2.0 files of lm-sys/FastChat, ``fastchat/llm_judge/data/mt_bench/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.solvers.multi_turn import multi_turn

_COMMIT = "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
_RAW = (f"https://raw.githubusercontent.com/lm-sys/FastChat/{_COMMIT}/fastchat/llm_judge/data/"
        "mt_bench")
QUESTIONS = DataSource(name="mt_bench", mirror="mt_bench/question.jsonl",
                       url=f"{_RAW}/question.jsonl", licence="Apache-2.0")
REFERENCES = DataSource(name="mt_bench", mirror="mt_bench/reference_answer/gpt-4.jsonl",
                        url=f"{_RAW}/reference_answer/gpt-4.jsonl", licence="Apache-2.0")
_VICUNA_RAW = _RAW.replace("/mt_bench", "/vicuna_bench")
VICUNA_QUESTIONS = DataSource(name="vicuna_bench", mirror="vicuna_bench/question.jsonl",
                              url=f"{_VICUNA_RAW}/question.jsonl", licence="Apache-2.0")

#: FastChat's ``temperature_config`` (``fastchat/llm_judge/common.py``).
CATEGORY_TEMPERATURE = {
    "writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
    "reasoning": 0.0, "stem": 0.1, "humanities": 0.1,
}


@component("scorer")
def answered() -> Callable[[Sample, TaskState], Score]:
    """Score 1 when the last reply of the conversation is not empty (or only whitespace).

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "hi")
        >>> answered()(s, TaskState(s, output=ModelOutput("  "))).value
        0.0
    """

    def score(sample: Sample, state: TaskState) -> Score:
        replies = state.metadata.get("turns") or [state.completion]
        last = replies[-1] if isinstance(replies[-1], str) else ""
        if last.strip():
            return Score(1.0)
        return Score(0.0, explanation="The last reply is empty.")

    return score


def _references() -> tuple[dict[int, list[str]], str]:
    path = locate(REFERENCES)
    found: dict[int, list[str]] = {}
    for i, row in enumerate(read_records(path, REFERENCES), start=1):
        try:
            found[int(row["question_id"])] = list(row["choices"][0]["turns"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise DataError(
                f"{path}:{i}: expected 'question_id' and 'choices'[0]['turns'] (FastChat's "
                f"answer format); received fields {sorted(row)}."
            ) from None
    return found, file_sha256(path)


def _sample(row: dict[str, Any], where: str, references: dict[int, list[str]],
            temperature: float | None) -> Sample:
    turns = row.get("turns")
    if (not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns)
            or "question_id" not in row or not isinstance(row.get("category"), str)):
        raise DataError(
            f"{where}: expected 'question_id', 'category' and 'turns' (a list of user turns); "
            f"received fields {sorted(row)}."
        )
    qid = int(row["question_id"])
    category = row["category"]
    metadata: dict[str, Any] = {
        "category": category, "question_id": qid, "user_turns": turns,
        "temperature": temperature if temperature is not None
        else CATEGORY_TEMPERATURE.get(category, 0.7),
    }
    if row.get("reference"):
        metadata["reference"] = list(row["reference"])
    if qid in references:
        metadata["reference_answer"] = references[qid]
        metadata["reference_model"] = "gpt-4"
    return Sample(id=str(qid), input=turns[0], metadata=metadata)


@task(version=1)
def mt_bench(temperature: float | None = None) -> Task:
    """MT-Bench's 80 two-turn questions; generation only, ``answered`` as the metric.

    Args:
        temperature: one temperature for every question instead of FastChat's per-category
            temperatures.
    """
    _check_temperature("mt_bench", temperature)
    path = locate(QUESTIONS)
    references, ref_hash = _references()
    samples = [_sample(row, f"{path}:{i}", references, temperature)
               for i, row in enumerate(read_records(path, QUESTIONS), start=1)]
    fingerprint = hashlib.sha256((file_sha256(path) + ref_hash).encode()).hexdigest()
    return Task(
        "mt_bench",
        MemoryDataset("mt_bench", samples, fingerprint=fingerprint),
        multi_turn(turns_field="user_turns", temperature_field="temperature"),
        [answered()],
        config=GenerateConfig(max_tokens=1024, temperature=0.0),
    )


def _check_temperature(name: str, temperature: float | None) -> None:
    if temperature is not None and (isinstance(temperature, bool)
                                    or not isinstance(temperature, int | float)
                                    or temperature < 0):
        raise ConfigError(
            f"{name} temperature must be a number >= 0; received {temperature!r}."
        )


@task(version=1)
def vicuna_bench(temperature: float | None = None) -> Task:
    """Vicuna-bench's 80 single-turn questions in 9 categories; generation only.

    FastChat's ``gen_model_answer.py`` protocol as for MT-Bench: per-category temperatures
    (0.7 for the categories FastChat does not list), at most 1,024 tokens. Its answers are
    what ``evalstack arena run`` judges pairwise; ``answered`` is the only metric.

    Args:
        temperature: one temperature for every question instead of the per-category ones.
    """
    _check_temperature("vicuna_bench", temperature)
    path = locate(VICUNA_QUESTIONS)
    samples = [_sample(row, f"{path}:{i}", {}, temperature)
               for i, row in enumerate(read_records(path, VICUNA_QUESTIONS), start=1)]
    return Task(
        "vicuna_bench",
        MemoryDataset("vicuna_bench", samples, fingerprint=file_sha256(path)),
        multi_turn(turns_field="user_turns", temperature_field="temperature"),
        [answered()],
        config=GenerateConfig(max_tokens=1024, temperature=0.0),
    )
