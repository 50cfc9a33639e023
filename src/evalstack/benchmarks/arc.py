"""ARC, the AI2 Reasoning Challenge (Clark et al., 2018): grade-school science questions.

``arc_easy`` (2,376 test questions) and ``arc_challenge`` (1,172) match lm-evaluation-harness's
``arc_easy`` / ``arc_challenge`` tasks, zero-shot:

    Question: {question}
    Answer:

scored by the log-likelihood of each option's text as the continuation (`` {text}``), with
``acc`` (the most likely option) and ``acc_norm`` (the most likely per character of the
option's text). Generation (``method=generate``) lists the lettered options instead and asks
for the letter, scored by ``acc`` and ``acc_strict`` (see ``evalstack.benchmarks._mc``).
Questions have 3 to 5 options, labelled A-E or 1-5 upstream; the correct one is found by its
label, and options are always shown lettered. ARC has no categories.

Data (not in the offline mirror): the Hugging Face dataset ``allenai/ai2_arc`` (configs
``ARC-Easy`` / ``ARC-Challenge``, split ``test``), or AI2's JSONL files
(``ARC-Easy-Test.jsonl``, ``ARC-Challenge-Test.jsonl`` from ARC-V1-Feb2018.zip) placed at
``arc/`` in the mirror. Both row formats are read: AI2's (``{"id", "question": {"stem",
"choices": [{"text", "label"}]}, "answerKey"}``) and the hub's (``question`` a string,
``choices`` ``{"text": [...], "label": [...]}``). Licence: CC BY-SA 4.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalstack.benchmarks._mc import field, fingerprint, mc_scorers, mc_task, row_error
from evalstack.core.task import Task, task
from evalstack.core.types import Sample
from evalstack.datasets.sources import DataSource, locate, read_records
from evalstack.scorers.choice import LETTERS
from evalstack.solvers.multiple_choice import multiple_choice

TEMPLATE = "Question: {input}\nAnswer:"
GENERATE_TEMPLATE = "Question: {input}\n{choices}\nAnswer:"

EASY = DataSource(
    name="arc",
    mirror="arc/ARC-Easy-Test.jsonl",
    hub="allenai/ai2_arc",
    hub_config="ARC-Easy",
    hub_split="test",
    licence="CC BY-SA 4.0",
)
CHALLENGE = DataSource(
    name="arc",
    mirror="arc/ARC-Challenge-Test.jsonl",
    hub="allenai/ai2_arc",
    hub_config="ARC-Challenge",
    hub_split="test",
    licence="CC BY-SA 4.0",
)


def _row(row: dict[str, Any], path: Path, index: int) -> Sample:
    question = field(row, "question", path, index)
    if isinstance(question, dict):  # AI2's format
        stem = question.get("stem")
        options = question.get("choices")
        if not isinstance(stem, str) or not isinstance(options, list):
            raise row_error(path, index, "'question' must hold 'stem' and a 'choices' list")
        texts = [str(o.get("text", "")) for o in options]
        labels = [str(o.get("label", "")) for o in options]
    else:  # the hub's format
        stem = str(question)
        options = field(row, "choices", path, index)
        if not isinstance(options, dict) or "text" not in options or "label" not in options:
            raise row_error(path, index, "'choices' must be {'text': [...], 'label': [...]}")
        texts = [str(t) for t in options["text"]]
        labels = [str(label) for label in options["label"]]
    key = str(field(row, "answerKey", path, index)).strip()
    if key not in labels or len(texts) != len(labels) or not 2 <= len(texts) <= len(LETTERS):
        raise row_error(path, index, f"answerKey {key!r} is not one of the labels {labels!r}")
    return Sample(
        id=str(row.get("id") or f"arc-{index:05d}"),
        input=stem,
        target=LETTERS[labels.index(key)],
        choices=tuple(texts),
        metadata={"labels": labels} if labels != list(LETTERS[: len(labels)]) else {},
    )


def load(source: DataSource) -> tuple[list[Sample], Path]:
    """The samples of one ARC split and the file they came from."""
    path = locate(source)
    return [_row(row, path, i) for i, row in enumerate(read_records(path, source), 1)], path


def _arc(name: str, source: DataSource, method: str) -> Task:
    samples, path = load(source)
    solver = multiple_choice(
        template=TEMPLATE, method=method, continuation="text",  # type: ignore[arg-type]
        generate_template=GENERATE_TEMPLATE,
    )
    return mc_task(name, samples, fingerprint(path), solver, mc_scorers(norm=True),
                   description=f"{source.hub_config} test, lm-evaluation-harness format")


@task(version=1)
def arc_easy(method: str = "auto") -> Task:
    """ARC-Easy test, lm-evaluation-harness's ``arc_easy``; see the module docstring.

    Args:
        method: ``auto``, ``loglikelihood`` or ``generate``.
    """
    return _arc("arc_easy", EASY, method)


@task(version=1)
def arc_challenge(method: str = "auto") -> Task:
    """ARC-Challenge test, lm-evaluation-harness's ``arc_challenge``; see the module docstring.

    Args:
        method: ``auto``, ``loglikelihood`` or ``generate``.
    """
    return _arc("arc_challenge", CHALLENGE, method)
