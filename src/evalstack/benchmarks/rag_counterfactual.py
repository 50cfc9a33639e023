"""Counterfactual robustness of a RAG system: does it follow a wrong passage, or flag it?

The questions and passages are RGB's English counterfactual set (Chen et al., AAAI 2024,
``data/en_fact.json``): 100 questions, each with passages in which the true answer was swapped
for a false one (``positive_wrong``), the true passages, and irrelevant ones. The system is
given the question with the wrong passages (``passages=wrong``, RGB's setting) or the wrong and
true passages mixed (``passages=mixed``), and told that documents may hold factual errors.
Three binary scores, each a rate with its Wilson interval:

- ``follows_wrong_passage``: the answer gives the false answer and not the true one;
- ``flags_contradiction``: the answer says the documents are wrong or contradict each other;
- ``correct_answer``: the answer gives the true answer.

A plain model sees the passages in its prompt. A pipeline (``http/...``, ``python/...``) gets
them as the sample's ``contexts`` field (map it into the request body), so the check measures
what the system does with the passages it is handed.

Data: CC BY-NC-SA 4.0 (non-commercial). It is never shipped with evalstack: it is read from the
offline mirror (``EVALSTACK_DATA_DIR``) or downloaded from RGB's repository on first use.

    evalstack run rag_counterfactual -m local/smollm2 --limit 20
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.files import jsonl_records
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate
from evalstack.solvers import generate

SOURCE = DataSource(
    name="rgb", mirror="rgb/data/en_fact.json",
    url=("https://raw.githubusercontent.com/chen700564/RGB/"
         "65ec39e40e7dc9abb50e9bf1b4f32be3f6f16615/data/en_fact.json"),
    licence="CC BY-NC-SA 4.0 (non-commercial; never shipped)",
)
INSTRUCTION = (
    "Answer the question using the documents below. The documents may contain factual "
    "errors. If they do, say that the documents contain factual errors, then give the "
    "correct answer."
)
# Phrases that flag the passages as wrong (RGB's own check looks for "factual errors").
FLAGS = re.compile(
    r"factual(ly)? (error|incorrect|inaccura)|(contain|contains|has|have) (an? )?(error|mistake)"
    r"|incorrect information|not (correct|accurate)|is (incorrect|wrong|inaccurate)"
    r"|contradict|inconsisten|misinformation|conflicting",
    re.IGNORECASE,
)
ScoreFn = Callable[[Sample, TaskState], Score]


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _answers(value: Any) -> list[str]:
    """RGB's answer field: a string, or a list of (lists of) equivalent strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [a for v in value for a in _answers(v)]
    return []


def _mentions(text: str, answers: list[str]) -> bool:
    folded = f" {_fold(text)} "
    return any(f" {_fold(a)} " in folded for a in answers if _fold(a))


def _sample(row: dict[str, Any], where: str, passages: str, seed: int) -> Sample:
    wrong, right = row.get("positive_wrong"), row.get("positive")
    answers, fake = _answers(row.get("answer")), row.get("fakeanswer")
    if (not isinstance(row.get("query"), str) or not answers or not isinstance(fake, str)
            or not isinstance(wrong, list) or not isinstance(right, list)):
        raise DataError(f"{where}: expected RGB's fields 'query', 'answer', 'fakeanswer', "
                        f"'positive' and 'positive_wrong'; received {sorted(row)}.")
    docs = [str(d) for d in wrong]
    if passages == "mixed":
        docs = docs + [str(d) for d in right]
        random.Random(f"{seed}:{row.get('id')}").shuffle(docs)
    shown = "\n\n".join(f"Document {i}: {d}" for i, d in enumerate(docs, start=1))
    prompt = f"{INSTRUCTION}\n\n{shown}\n\nQuestion: {row['query']}\nAnswer:"
    return Sample(id=str(row.get("id")), input=prompt, target=tuple(answers),
                  metadata={"question": row["query"], "contexts": docs, "fake_answer": fake,
                            "category": passages})


@component("scorer")
def follows_wrong_passage() -> ScoreFn:
    """1 when the answer gives the planted false answer and not the true one."""
    def score(sample: Sample, state: TaskState) -> Score:
        fake = str(sample.metadata.get("fake_answer", ""))
        followed = _mentions(state.completion, [fake]) and not _mentions(
            state.completion, list(sample.targets))
        return Score(1.0 if followed else 0.0, answer=fake if followed else None)

    return score


@component("scorer")
def flags_contradiction() -> ScoreFn:
    """1 when the answer says the documents hold errors or contradict each other."""
    def score(sample: Sample, state: TaskState) -> Score:
        found = FLAGS.search(state.completion)
        return Score(1.0 if found else 0.0, answer=found.group(0) if found else None)

    return score


@component("scorer")
def correct_answer() -> ScoreFn:
    """1 when the answer gives the true answer (any of RGB's equivalent forms)."""
    def score(sample: Sample, state: TaskState) -> Score:
        return Score(1.0 if _mentions(state.completion, list(sample.targets)) else 0.0)

    return score


@task(version=1)
def rag_counterfactual(passages: str = "wrong", seed: int = 0) -> Task:
    """RGB's counterfactual questions: follows-the-wrong-passage, flags and correct rates.

    Args:
        passages: ``wrong`` (only the passages with the false answer, RGB's setting) or
            ``mixed`` (the wrong and the true passages, shuffled by ``seed``).
        seed: the shuffle of ``mixed``.
    """
    if passages not in ("wrong", "mixed"):
        raise ConfigError(f"rag_counterfactual passages must be 'wrong' or 'mixed'; got "
                          f"{passages!r}.")
    path = locate(SOURCE)  # JSON Lines, despite the .json name
    example = 'one RGB object per line, e.g. {"id": 0, "query": ..., "positive_wrong": [...]}'
    samples = []
    for lineno, row in jsonl_records(path, example, DataError):
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object; {example}.")
        samples.append(_sample(row, f"{path}:{lineno}", passages, seed))
    return Task(
        "rag_counterfactual",
        MemoryDataset("rag_counterfactual", samples, fingerprint=file_sha256(path)),
        generate(), [follows_wrong_passage(), flags_contradiction(), correct_answer()],
        config=GenerateConfig(max_tokens=96, temperature=0.0),
    )
