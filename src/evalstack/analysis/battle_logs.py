"""Battle logs from other tools, read into ``BattleRecord``s.

Two formats:

* **FastChat's** ``clean_battle`` files (``fastchat/serve/monitor/clean_battle_data.py``): a
  JSON list, or JSON lines, of ``{"model_a", "model_b", "winner", "question_id", "judge",
  "turn", "tstamp", ...}`` with ``winner`` one of ``model_a``, ``model_b``, ``tie`` and
  ``tie (bothbad)``. Each battle's prompt is its ``question_id`` (FastChat's conversation id);
  a log without one gets the row number, so every battle is its own cluster.
* **LLMBar's** ``dataset.json`` (``{"input", "output_1", "output_2", "label": 1|2}``): the
  gold label is a human verdict. The file names no models, so each answer is a contestant of
  its own (the same answer text to the same instruction is the same contestant): such a log
  can be rated only within the groups of answers that met.

A row that cannot be a battle (an unknown outcome, a contestant battling itself) becomes a
flagged battle, stored and counted but never fitted. A row that is not a battle at all (not
an object, a missing contestant) stops the import with the file, line and field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalstack.core.errors import DataError
from evalstack.store.battles import BattleRecord, battle_key

#: FastChat's ``winner`` values and the outcomes they mean.
FASTCHAT_WINNERS = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "bad"}
FORMATS = ("fastchat", "llmbar")


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of a JSON list or of JSON lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file. Expected a battle log (JSON or JSON lines)."
                        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it as UTF-8 text ({exc}).") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}). Expected a JSON "
                            f"list of battles, or one battle object per line.") from None
        yield from enumerate(data, start=1)
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg}). Expected one battle "
                            f"object per line.") from None


def _field(row: dict[str, Any], name: str, where: str, expected: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if name not in row else f"{value!r}"
        raise DataError(f"{where}: field {name!r} is {got}; expected {expected}. Fields "
                        f"present: {', '.join(sorted(row)) or 'none'}.")
    return value.strip()


def read_fastchat(path: Path, arena: str) -> list[BattleRecord]:
    """Battles from a FastChat ``clean_battle`` log (JSON list or JSON lines).

    Raises:
        DataError: the file is not JSON, a row is not an object, or lacks a contestant.
    """
    out: list[BattleRecord] = []
    for lineno, row in _rows(path):
        where = f"{path}:{lineno}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a battle object with model_a, model_b and "
                            f"winner; received {type(row).__name__}.")
        a = _field(row, "model_a", where, "the first contestant's name")
        b = _field(row, "model_b", where, "the second contestant's name")
        winner = row.get("winner")
        outcome = FASTCHAT_WINNERS.get(winner) if isinstance(winner, str) else None
        flag = None
        if outcome is None:
            flag = (f"{where}: unknown winner {winner!r}; expected one of "
                    f"{', '.join(FASTCHAT_WINNERS)}")
        if a == b:
            outcome, flag = None, f"{where}: a self-battle ({a} against itself)"
        prompt = row.get("question_id")
        prompt_id = (str(prompt) if isinstance(prompt, str | int) and str(prompt)
                     else f"row-{lineno}")
        turn = row.get("turn")
        stamp = row.get("tstamp")
        created = (datetime.fromtimestamp(float(stamp), UTC)
                   if isinstance(stamp, int | float) and not isinstance(stamp, bool)
                   else datetime.now(UTC))
        category = row.get("category")
        judge = row.get("judge")
        out.append(BattleRecord(
            arena=arena, prompt_id=prompt_id, model_a=a, model_b=b, outcome=outcome,
            flag=flag, decided_by="import",
            category=category if isinstance(category, str) else None,
            turn=turn if isinstance(turn, int) and not isinstance(turn, bool) and turn > 0 else 1,
            labeller=judge if isinstance(judge, str) else None,
            source=f"fastchat:{path.name}", created_at=created,
            key=battle_key("fastchat", arena, path.name, lineno, prompt_id, a, b, winner),
        ))
    if not out:
        raise DataError(f"{path}: no battles in the file; expected FastChat clean_battle rows.")
    return out


def _answer_id(instruction: str, answer: str) -> str:
    digest = hashlib.sha256(f"{instruction}\0{answer}".encode()).hexdigest()
    return f"answer-{digest[:10]}"


def read_llmbar(path: Path, arena: str) -> list[BattleRecord]:
    """Human-verdict battles from an LLMBar ``dataset.json``.

    Each answer is a contestant named by a hash of the instruction and the answer text; the
    prompt is a hash of the instruction; the outcome is the gold ``label`` (1: A, 2: B).

    Raises:
        DataError: the file is not a JSON list of LLMBar rows, or a row misses a field.
    """
    out: list[BattleRecord] = []
    for lineno, row in _rows(path):
        where = f"{path}:{lineno}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected an object with input, output_1, output_2 and "
                            f"label; received {type(row).__name__}.")
        instruction = _field(row, "input", where, "the instruction")
        first = row.get("output_1")
        second = row.get("output_2")
        if not isinstance(first, str) or not isinstance(second, str):
            raise DataError(f"{where}: fields 'output_1' and 'output_2' must be the two "
                            f"answers (strings); received {type(first).__name__} and "
                            f"{type(second).__name__}.")
        label = row.get("label")
        outcome = {1: "a", 2: "b"}.get(label) if isinstance(label, int) else None
        a, b = _answer_id(instruction, first), _answer_id(instruction, second)
        flag = None if outcome else f"{where}: label {label!r} is not 1 or 2"
        if a == b:
            outcome, flag = None, f"{where}: a self-battle (the two answers are the same text)"
        prompt_id = hashlib.sha256(instruction.encode()).hexdigest()[:12]
        out.append(BattleRecord(
            arena=arena, prompt_id=prompt_id, model_a=a, model_b=b, outcome=outcome,
            flag=flag, decided_by="import", labeller="llmbar-gold",
            len_a=len(first), len_b=len(second), source=f"llmbar:{path.name}",
            key=battle_key("llmbar", arena, path.name, lineno, a, b, label),
        ))
    if not out:
        raise DataError(f"{path}: no rows in the file; expected LLMBar's input, output_1, "
                        f"output_2 and label rows.")
    return out


def read_battle_log(path: Path, fmt: str, arena: str) -> list[BattleRecord]:
    """Battles from ``path`` in format ``fmt`` (``fastchat`` or ``llmbar``)."""
    if fmt == "fastchat":
        return read_fastchat(path, arena)
    if fmt == "llmbar":
        return read_llmbar(path, arena)
    raise DataError(f"Unknown battle log format {fmt!r}; expected one of {', '.join(FORMATS)}.")
