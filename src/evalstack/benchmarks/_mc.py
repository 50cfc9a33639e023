"""What the multiple-choice benchmarks share: their metrics, task assembly and data helpers.

Metric names, the same in every multiple-choice benchmark:

- ``acc``: the chosen option is correct. With log-likelihood, the option whose continuation
  is most likely; when generating, the letter found by the flexible ``extract_choice``
  ("The answer is (C).", "**A**", "B) Paris", the option's text...). For ``truthfulqa_mc2``
  with log-likelihood it is lm-evaluation-harness's continuous mc2 score instead (the
  normalised probability mass on the true answers).
- ``acc_norm``: log-likelihood only, where lm-evaluation-harness reports it (ARC, HellaSwag,
  GPQA): the option with the highest log-likelihood per character of its continuation.
- ``acc_strict``: generation only: the reply must be the bare letter or one statement of it
  ("B", "(B)", "Answer: B", "The answer is B."), see ``extract_choice_strict``. A gap between
  ``acc`` and ``acc_strict`` is a format failure, not a knowledge failure.

A metric that does not apply to the method in use (``acc_norm`` when generating,
``acc_strict`` with log-likelihood) scores NaN with an explanation; the store keeps it as
null and summaries leave it out, so a run reports only the metrics that apply to it.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from evalstack.core.component import component
from evalstack.core.errors import DataError
from evalstack.core.scorer import Score, Scorer, TaskState
from evalstack.core.task import Solver, Task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import file_sha256
from evalstack.scorers.choice import LETTERS, choice, correct_indices, strict_choice

# Enough for "The answer is (B)." and a little more; extraction finds the letter in that.
MC_CONFIG = GenerateConfig(max_tokens=32, temperature=0.0)

ScoreFn = Callable[[Sample, TaskState], Score]


def _not_applicable(why: str) -> Score:
    return Score(math.nan, explanation=f"Not applicable: {why}")


def _generated(state: TaskState) -> bool:
    return state.choice_logprobs is None


@component("scorer", name="acc")
def acc() -> ScoreFn:
    """1 when the chosen option is correct: the most likely one, or the letter a reply names.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "2+2?", "B", choices=("3", "4"))
        >>> acc()(s, TaskState(s, output=ModelOutput("I'd say **B**"))).value
        1.0
    """
    return choice()


@component("scorer", name="acc_norm")
def acc_norm() -> ScoreFn:
    """1 when the option with the highest log-likelihood per character is correct.

    The lengths are the continuations' characters without the leading space
    (``state.metadata["continuation_chars"]``), as lm-evaluation-harness's ``acc_norm``.

    Examples:
        >>> s = Sample("1", "Sky?", "A", choices=("blue", "a"))
        >>> state = TaskState(s, choice_logprobs=(-4.0, -3.0),
        ...                   metadata={"continuation_chars": [4, 1]})
        >>> acc_norm()(s, state).value  # -1.0 per char beats -3.0
        1.0
    """

    def score(sample: Sample, state: TaskState) -> Score:
        lps = state.choice_logprobs
        if lps is None:
            return _not_applicable("acc_norm needs per-option log-likelihoods.")
        chars = state.metadata.get("continuation_chars") or [len(c) for c in sample.choices or ()]
        normed = [lp / max(int(n), 1) for lp, n in zip(lps, chars, strict=True)]
        picked = max(range(len(normed)), key=normed.__getitem__)
        letter = LETTERS[picked]
        correct = correct_indices(sample)
        if picked in correct:
            return Score(1.0, answer=letter)
        expected = ", ".join(LETTERS[i] for i in sorted(correct))
        return Score(0.0, answer=letter, explanation=f"Expected {expected}; chose {letter}.")

    return score


@component("scorer", name="acc_strict")
def acc_strict() -> ScoreFn:
    """1 when a generated reply names the correct letter in the strict format.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "2+2?", "B", choices=("3", "4"))
        >>> acc_strict()(s, TaskState(s, output=ModelOutput("I'd say **B**"))).value
        0.0
    """
    strict = strict_choice()

    def score(sample: Sample, state: TaskState) -> Score:
        if not _generated(state):
            return _not_applicable("log-likelihood scoring extracts nothing from text.")
        return strict(sample, state)

    return score


@component("scorer", name="acc")
def mc2_acc() -> ScoreFn:
    """TruthfulQA mc2: the normalised probability mass on the true answers.

    With log-likelihoods ``l_i``, ``p_i = exp(l_i)`` and the score is ``sum(p_true) /
    (sum(p_true) + sum(p_false))`` (a continuous value; computed with the maximum subtracted
    first, which changes nothing but avoids underflow). A generated reply scores 1 when the
    letter it names is one of the true answers.

    Examples:
        >>> import math
        >>> s = Sample("1", "Q?", ("A", "B"), choices=("t1", "t2", "f1"))
        >>> state = TaskState(s, choice_logprobs=(math.log(0.2), math.log(0.3), math.log(0.5)),
        ...                   choice=2)
        >>> round(mc2_acc()(s, state).value, 6)
        0.5
    """
    flexible = choice()

    def score(sample: Sample, state: TaskState) -> Score:
        lps = state.choice_logprobs
        if lps is None:
            return flexible(sample, state)
        true = correct_indices(sample)
        top = max(lps)
        probs = [math.exp(lp - top) for lp in lps]
        mass = sum(probs[i] for i in true) / sum(probs)
        answer = LETTERS[state.choice] if state.choice is not None else None
        return Score(mass, kind="continuous", answer=answer)

    return score


def mc_scorers(*, norm: bool) -> list[Scorer]:
    """``acc``, ``acc_norm`` (when ``norm``) and ``acc_strict``."""
    scorers: list[Scorer] = [acc()]
    if norm:
        scorers.append(acc_norm())
    scorers.append(acc_strict())
    return scorers


def mc_task(name: str, samples: Sequence[Sample], fingerprint: str,
            solver: Solver, scorers: Sequence[Scorer],
            description: str = "") -> Task:
    """The ``Task`` of a multiple-choice benchmark (name, version and args come from ``@task``)."""
    dataset = MemoryDataset(name, samples, fingerprint=fingerprint)
    return Task(name, dataset, solver, list(scorers), config=MC_CONFIG, description=description)


def fingerprint(*paths: Path) -> str:
    """The sha256 of one data file, or a sha256 over several files' sha256s (in order)."""
    if len(paths) == 1:
        return file_sha256(paths[0])
    h = hashlib.sha256()
    for path in paths:
        h.update(f"{path.name}:{file_sha256(path)}\n".encode())
    return h.hexdigest()


def seeded_shuffle(items: Sequence[str], seed_text: str) -> list[int]:
    """A permutation of ``range(len(items))`` fixed by ``seed_text`` (through its sha256).

    The same question gets the same order on every machine and in every subset or order of
    the data, unlike a shuffle that draws from one generator across the dataset.

    Examples:
        >>> seeded_shuffle(["a", "b", "c", "d"], "q") == seeded_shuffle(["a", "b", "c", "d"], "q")
        True
    """
    seed = int.from_bytes(hashlib.sha256(seed_text.encode("utf-8")).digest()[:8], "big")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    return order


def row_error(path: Path, row: int, problem: str, fix: str = "") -> DataError:
    """A ``DataError`` naming the file and the 1-based row."""
    tail = f" {fix}" if fix else ""
    return DataError(f"{path}: row {row}: {problem}.{tail}")


def field(row: dict[str, object], name: str, path: Path, index: int) -> object:
    """``row[name]``, or a ``DataError`` naming the file, row and missing field."""
    if name not in row:
        raise row_error(path, index, f"missing field {name!r} (fields: {sorted(row)})",
                        "Is this the right file for this benchmark?")
    return row[name]
