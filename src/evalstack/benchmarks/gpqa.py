"""GPQA diamond (Rein et al., 2023): 198 graduate-level science questions, four options.

Matches lm-evaluation-harness's ``gpqa_diamond_zeroshot``:

    What is the correct answer to this question:{Question}
    Choices:
    (A) ...
    (B) ...
    (C) ...
    (D) ...
    Answer:

(no space after the colon, as upstream) with the continuations `` (A)`` .. `` (D)``, reported
as ``acc`` and ``acc_norm`` (identical here, since every continuation has 3 characters; kept
because lm-evaluation-harness reports both). The options are lm-evaluation-harness's
``preprocess``-ed answers (stripped, `` [title]`` -> ``". "``, double spaces -> single) in the
order ``Incorrect Answer 1..3, Correct Answer``, then shuffled. lm-evaluation-harness shuffles
with Python's global ``random`` (seeded once per run), so its order depends on the row order;
here each question's order is fixed by the sha256 of its text, so it is the same in every run,
subset and ordering of the data (but not the same as lm-evaluation-harness's). Generation
(``method=generate``) shows the same prompt and asks for the letter, scored by ``acc`` and
``acc_strict`` (see ``evalstack.benchmarks._mc``). The category is the ``High-level domain``
(Physics, Chemistry, Biology); the ``Subdomain`` is kept in the metadata.

Data (not included: upstream keeps it in a password-protected zip so that the questions stay
off the open web): the canonical ``gpqa_diamond.csv`` (columns ``Question``, ``Correct
Answer``, ``Incorrect Answer 1``..``3``, ``Subdomain``, ``High-level domain``, ``Record ID``,
...) from https://github.com/idavidrein/gpqa (``dataset.zip``), placed at
``gpqa/gpqa_diamond.csv`` in the mirror, or the gated Hugging Face dataset ``Idavidrein/gpqa``
(config ``gpqa_diamond``, split ``train``; accept its terms and log in first). Do not commit
the file anywhere public. Licence: CC BY 4.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalstack.benchmarks._mc import field, fingerprint, mc_scorers, mc_task, seeded_shuffle
from evalstack.core.task import Task, task
from evalstack.core.types import Sample
from evalstack.datasets.sources import DataSource, locate, read_records
from evalstack.solvers.multiple_choice import multiple_choice

TEMPLATE = "{input}\nAnswer:"
ANSWER_COLUMNS = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                  "Correct Answer")

DIAMOND = DataSource(
    name="gpqa",
    mirror="gpqa/gpqa_diamond.csv",
    hub="Idavidrein/gpqa",
    hub_config="gpqa_diamond",
    hub_split="train",
    licence="CC BY 4.0",
)


def preprocess(text: Any) -> str:
    """lm-evaluation-harness's GPQA ``preprocess`` of an answer."""
    if text is None:
        return " "
    cleaned = str(text).strip().replace(" [title]", ". ")
    return cleaned.replace("  ", " ")


def render_question(question: str, choices: tuple[str, ...]) -> str:
    """The question and its ``(A) ...`` options, as lm-evaluation-harness shows them."""
    options = "\n".join(f"({'ABCD'[i]}) {c}" for i, c in enumerate(choices))
    return f"What is the correct answer to this question:{question}\nChoices:\n{options}"


def _row(row: dict[str, Any], path: Path, index: int) -> Sample:
    question = str(field(row, "Question", path, index))
    answers = [preprocess(field(row, column, path, index)) for column in ANSWER_COLUMNS]
    order = seeded_shuffle(answers, question)
    choices = tuple(answers[i] for i in order)
    gold = order.index(3)
    metadata = {}
    domain = row.get("High-level domain") or row.get("Subdomain")
    if domain:
        metadata["category"] = str(domain).strip()
    if row.get("Subdomain"):
        metadata["subdomain"] = str(row["Subdomain"]).strip()
    return Sample(
        id=str(row.get("Record ID") or f"gpqa-{index:03d}"),
        input=render_question(question, choices),
        target="ABCD"[gold],
        choices=choices,
        metadata=metadata,
    )


def load() -> tuple[list[Sample], Path]:
    """The GPQA diamond samples and the file they came from."""
    path = locate(DIAMOND)
    return [_row(row, path, i) for i, row in enumerate(read_records(path, DIAMOND), 1)], path


@task(version=1)
def gpqa(method: str = "auto") -> Task:
    """GPQA diamond, lm-evaluation-harness's ``gpqa_diamond_zeroshot``; see the module docstring.

    Args:
        method: ``auto``, ``loglikelihood`` or ``generate``.
    """
    samples, path = load()
    solver = multiple_choice(
        template=TEMPLATE, method=method, continuation=" ({letter})",  # type: ignore[arg-type]
    )
    return mc_task("gpqa", samples, fingerprint(path), solver, mc_scorers(norm=True),
                   description="GPQA diamond, lm-evaluation-harness zero-shot format")
