"""The SQuAD passages and questions of the RAG example, read from the offline data mirror.

The data is the ExpMRC subset of the SQuAD v1.1 dev set (CC BY-SA 4.0) in
``$EVALSTACK_DATA_DIR/squad_expmrc/expmrc-squad-dev.json``; without the variable the mirror is
``../shared/datasets`` beside the repository. It is read at run time and never copied into
the repository.

A passage's id is ``p`` plus the first 10 hex digits of the SHA-1 of its text, so it stays the
same whatever order the file lists the passages in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MIRROR_PATH = Path("squad_expmrc") / "expmrc-squad-dev.json"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets"


@dataclass(frozen=True)
class Passage:
    """One SQuAD paragraph: the retriever's unit."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Question:
    """One SQuAD question with its answers and the id of the passage it was asked about."""

    id: str
    question: str
    answers: tuple[str, ...]
    passage_id: str


def passage_id(text: str) -> str:
    """The stable id of a passage's text.

    Examples:
        >>> passage_id("Paris is the capital of France.")
        'pcedecad809'
    """
    return "p" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def data_file(data_dir: str | Path | None = None) -> Path:
    """The SQuAD file: under ``data_dir``, else ``$EVALSTACK_DATA_DIR``, else the default mirror."""
    root = Path(data_dir or os.environ.get("EVALSTACK_DATA_DIR") or DEFAULT_DATA_DIR)
    path = root / MIRROR_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected the SQuAD (ExpMRC) file at {path}. Set EVALSTACK_DATA_DIR to the data "
            f"mirror that holds {MIRROR_PATH}."
        )
    return path


def _paragraphs(path: Path) -> Iterator[tuple[str, dict[str, object]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            yield article["title"], paragraph


def load_passages(data_dir: str | Path | None = None) -> list[Passage]:
    """The unique passages, in file order."""
    seen: dict[str, Passage] = {}
    for title, paragraph in _paragraphs(data_file(data_dir)):
        text = str(paragraph["context"])
        pid = passage_id(text)
        seen.setdefault(pid, Passage(pid, title.replace("_", " "), text))
    return list(seen.values())


def load_questions(data_dir: str | Path | None = None) -> list[Question]:
    """Every question, in file order."""
    out = []
    for _, paragraph in _paragraphs(data_file(data_dir)):
        pid = passage_id(str(paragraph["context"]))
        qas = paragraph["qas"]
        assert isinstance(qas, list)
        for qa in qas:
            answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
            out.append(Question(qa["id"], qa["question"], answers, pid))
    return out
