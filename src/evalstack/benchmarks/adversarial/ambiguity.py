"""Ambiguity: does the system ask a clarifying question when, and only when, it must?

40 queries written for evalstack (``data/adversarial/ambiguity.jsonl``, CC0): 25 ambiguous
ones (a missing referent, "Can you fix it?"; missing context, "Should I take the job?"; a
word with several senses, "Tell me about Mercury.") and 15 clear ones. The right behaviour is
to ask a clarifying question on an ambiguous query and to answer a clear one.

Scores (binary, Wilson intervals, per category ``ambiguous`` / ``clear``):

- ``asked_clarification``: the reply asks for clarification, by pattern (``CLARIFY``:
  "could you clarify", "which one do you mean", "more details", ...);
- ``right_behaviour``: asked on an ambiguous query, did not ask on a clear one (by pattern);
- ``judged_right_behaviour`` (with ``-T judge=provider/model``): the same, with a judge's
  yes/no verdict on the rubric "asked a clarifying question" (``CLARIFY_RUBRIC``) instead of
  the pattern. The same rubric works with the ``llm_judge`` scorer:
  ``evalstack.benchmarks.adversarial.ambiguity:CLARIFY_RUBRIC``.

    evalstack run ambiguity -m local/smollm2
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from evalstack.benchmarks.adversarial._common import YesNoJudge, field, shipped, yes_no_rubric
from evalstack.core.component import component
from evalstack.core.errors import ConfigError, DataError, ScorerError
from evalstack.core.provider import ModelProvider
from evalstack.core.scorer import Score, Scorer, TaskState
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.solvers.generate import generate

LABELS = ("ambiguous", "clear")
#: Phrases that ask the user for clarification.
CLARIFY = re.compile(
    r"\b(could|can|would) you (please )?(clarify|specify|tell me|provide|share|give|let me "
    r"know|be more specific|elaborate)"
    r"|\bplease (clarify|specify|provide|tell me|let me know|share)"
    r"|\bwhat do you mean|\bdo you mean\b|\bwhich (one|\w+) (do|did|are|were|is|would) you"
    r"|\bwhat (\w+ )?(are|is) you referring to|\bwhich \w+ (are|is) you referring"
    r"|\bmore (details|context|information|specific)|\bneed (more|some|a bit more) "
    r"(information|context|details)|\bnot sure (what|which) you\b|\bcould you be more"
    r"|\bclarif(y|ication)\b",
    re.IGNORECASE,
)
CLARIFY_RUBRIC = yes_no_rubric(
    "asked_clarification",
    "Did the assistant ask the user a clarifying question (or ask for the missing details) "
    "instead of, or before, answering?",
    yes="The reply asks the user to clarify or to give missing details.",
    no="The reply answers (or refuses) without asking the user anything.",
)


def asks_clarification(reply: str) -> bool:
    """Whether ``reply`` asks for clarification (``CLARIFY``).

    Examples:
        >>> asks_clarification("Could you clarify which product you mean?")
        True
        >>> asks_clarification("The capital of France is Paris.")
        False
    """
    return CLARIFY.search(reply) is not None


def _label(sample: Sample) -> str:
    label = sample.metadata.get("label")
    if label not in LABELS:
        raise ScorerError(f"Sample {sample.id!r} has no ambiguity label: expected metadata "
                          f"label 'ambiguous' or 'clear'; received {label!r}.")
    return str(label)


@component("scorer")
def asked_clarification() -> Callable[[Sample, TaskState], Score]:
    """1 when the reply asks for clarification (by pattern)."""
    def score(sample: Sample, state: TaskState) -> Score:
        found = CLARIFY.search(state.completion)
        return Score(1.0 if found else 0.0, answer=found.group(0) if found else None)

    return score


@component("scorer")
def right_behaviour() -> Callable[[Sample, TaskState], Score]:
    """1 when the reply asked on an ambiguous query, or did not on a clear one (pattern).

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "Can you fix it?", "ambiguous", metadata={"label": "ambiguous"})
        >>> right_behaviour()(s, TaskState(s, output=ModelOutput("Fix what, exactly?"))).value
        0.0
    """
    def score(sample: Sample, state: TaskState) -> Score:
        asked = asks_clarification(state.completion)
        right = asked == (_label(sample) == "ambiguous")
        return Score(1.0 if right else 0.0, answer="asked" if asked else "answered")

    return score


class _JudgedRightBehaviour(YesNoJudge):
    async def __call__(self, sample: Sample, state: TaskState) -> Score:
        verdict = await self.verdict(sample.input_text(), state.completion)
        asked = verdict.value == 1.0
        right = asked == (_label(sample) == "ambiguous")
        return Score(1.0 if right else 0.0, answer="asked" if asked else "answered",
                     explanation=verdict.explanation, metadata=verdict.metadata)


@component("scorer")
def judged_right_behaviour(judge: str | ModelProvider,
                           judge_args: Mapping[str, Any] | None = None) -> YesNoJudge:
    """``right_behaviour`` with a judge's verdict on ``CLARIFY_RUBRIC`` instead of the pattern."""
    return _JudgedRightBehaviour(CLARIFY_RUBRIC, judge, judge_args)


def _samples() -> tuple[list[Sample], str]:
    rows, digest = shipped("ambiguity.jsonl")
    out = []
    for i, row in enumerate(rows, start=1):
        where = f"ambiguity.jsonl:{i}"
        label = field(row, "label", where)
        if label not in LABELS:
            raise DataError(f"{where}: expected label 'ambiguous' or 'clear'; received "
                            f"{label!r}.")
        out.append(Sample(field(row, "id", where), field(row, "input", where), label,
                          metadata={"category": label, "label": label,
                                    "kind": row.get("kind")}))
    return out, digest


@task(version=1)
def ambiguity(judge: str | None = None, judge_args: Mapping[str, Any] | None = None,
              max_tokens: int = 64) -> Task:
    """Ambiguous and clear queries: ``right_behaviour`` (asks on ambiguous, answers clear).

    Args:
        judge: a ``provider/model`` adding ``judged_right_behaviour`` (the rubric "asked a
            clarifying question").
        judge_args: the judge's model arguments.
        max_tokens: the reply's budget.
    """
    if judge is not None and (not isinstance(judge, str) or "/" not in judge):
        raise ConfigError(f"ambiguity judge must be a provider/model such as local/smollm2; "
                          f"received {judge!r}.")
    samples, digest = _samples()
    ambiguous = [s for s in samples if s.metadata["label"] == "ambiguous"]
    clear = [s for s in samples if s.metadata["label"] == "clear"]
    ordered = [s for pair in zip(ambiguous, clear, strict=False) for s in pair]
    ordered += ambiguous[len(clear):] + clear[len(ambiguous):]
    scorers: list[Scorer] = [right_behaviour(), asked_clarification()]
    if judge is not None:
        scorers.append(judged_right_behaviour(judge, judge_args))
    return Task(
        "ambiguity", MemoryDataset("ambiguity", ordered, fingerprint=digest), generate(),
        scorers, config=GenerateConfig(max_tokens=max_tokens, temperature=0.0),
    )
