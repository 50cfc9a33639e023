"""Contradictory context: RGB's counterfactual passages, three outcomes as binary metrics.

This is the ``rag_counterfactual`` task (same data, prompt and samples; see
``benchmarks.rag_counterfactual``) scored as an adversarial suite: the passages state a false
answer, and the system either

- ``follows_wrong_passage``: gives the planted false answer (and not the true one);
- ``flags_contradiction``: says the documents are wrong or contradict each other;
- ``answers_from_own_knowledge``: gives the true answer although the passages it was handed
  do not (with ``passages=wrong``, the default, the true answer is in no passage; with
  ``mixed`` it is, so this metric is then the plain correct-answer rate).

Data: CC BY-NC-SA 4.0, never shipped: read from the offline mirror (``EVALSTACK_DATA_DIR``).

    evalstack run contradiction -m local/smollm2 --limit 20
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from evalstack.benchmarks.rag_counterfactual import (
    SOURCE,
    _mentions,
    flags_contradiction,
    follows_wrong_passage,
    rag_counterfactual,
)
from evalstack.core.component import component
from evalstack.core.scorer import Score, TaskState
from evalstack.core.task import Task, task
from evalstack.core.types import Sample

__all__ = ["SOURCE", "answers_from_own_knowledge", "contradiction"]


@component("scorer")
def answers_from_own_knowledge() -> Callable[[Sample, TaskState], Score]:
    """1 when the answer gives the true answer and not the planted false one.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "Where?", ("Tampa",), metadata={"fake_answer": "Glendale"})
        >>> answers_from_own_knowledge()(s, TaskState(s, output=ModelOutput("In Tampa."))).value
        1.0
    """
    def score(sample: Sample, state: TaskState) -> Score:
        fake = str(sample.metadata.get("fake_answer", ""))
        own = _mentions(state.completion, list(sample.targets)) and not _mentions(
            state.completion, [fake])
        return Score(1.0 if own else 0.0)

    return score


@task(version=1)
def contradiction(passages: str = "wrong", seed: int = 0) -> Task:
    """RGB's counterfactual passages: follows / flags / answers-from-own-knowledge rates.

    Args:
        passages: ``wrong`` (only the passages with the false answer) or ``mixed``.
        seed: the shuffle of ``mixed``.
    """
    base = rag_counterfactual(passages=passages, seed=seed)
    return dataclasses.replace(
        base, name="contradiction",
        scorers=[follows_wrong_passage(), flags_contradiction(), answers_from_own_knowledge()],
    )
