"""Turning one parsed record (a dict from JSONL, CSV or a hub row) into a ``Sample``.

Validation happens here so that every loader reports problems the same way: the file, the
line, the field, what was expected and what was received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalstack.core.errors import DataError
from evalstack.core.text import clean_text
from evalstack.core.types import ChatMessage, Sample

_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class FieldMap:
    """Which record fields hold the sample's parts (all configurable per dataset)."""

    input: str = "input"
    target: str = "target"
    id: str = "id"
    choices: str = "choices"
    category: str = "category"
    require_target: bool = True


def _where(path: str, line: int) -> str:
    return f"{path}:{line}"


def _text(value: Any, where: str, field: str) -> str:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise DataError(
        f"{where}: field {field!r} must be a string (or a number); "
        f"received {type(value).__name__} {_preview(value)}."
    )


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _messages(value: list[Any], where: str, field: str) -> tuple[ChatMessage, ...]:
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or "content" not in m or "role" not in m:
            raise DataError(
                f"{where}: field {field!r}[{i}] must be a chat message like "
                f'{{"role": "user", "content": "..."}}; received {_preview(m)}.'
            )
        role = m["role"]
        if role not in _ROLES:
            raise DataError(
                f"{where}: field {field!r}[{i}].role must be one of {', '.join(_ROLES)}; "
                f"received {role!r}."
            )
        out.append(ChatMessage(role, _text(m["content"], where, f"{field}[{i}].content")))
    if not out:
        raise DataError(f"{where}: field {field!r} is an empty list of messages.")
    return tuple(out)


def record_to_sample(
    record: Any, *, path: str, line: int, index: int, fields: FieldMap = FieldMap()
) -> Sample:
    """Validate one record and build a ``Sample``; raises ``DataError`` naming file:line."""
    where = _where(path, line)
    if not isinstance(record, Mapping):
        raise DataError(
            f"{where}: expected a JSON object with fields {fields.input!r} and "
            f"{fields.target!r}; received {type(record).__name__} {_preview(record)}."
        )
    if fields.input not in record:
        present = ", ".join(repr(k) for k in list(record)[:10]) or "none"
        raise DataError(
            f"{where}: missing field {fields.input!r} (a string, or a list of chat messages). "
            f"Fields present: {present}. If the input lives in another field, map it with "
            f"input_field=... (or --input-field)."
        )
    raw_input = record[fields.input]
    input_: str | tuple[ChatMessage, ...]
    if isinstance(raw_input, list):
        input_ = _messages(raw_input, where, fields.input)
    else:
        input_ = _text(raw_input, where, fields.input)

    target: str | tuple[str, ...] = ""
    if fields.target in record and record[fields.target] is not None:
        raw_target = record[fields.target]
        if isinstance(raw_target, list):
            target = tuple(_text(t, where, fields.target) for t in raw_target)
        else:
            target = _text(raw_target, where, fields.target)
    elif fields.require_target:
        present = ", ".join(repr(k) for k in list(record)[:10])
        raise DataError(
            f"{where}: missing field {fields.target!r} (the expected answer). "
            f"Fields present: {present}. Map another field with target_field=... "
            f"(or --target-field)."
        )

    choices = None
    if fields.choices in record and record[fields.choices] is not None:
        raw_choices = record[fields.choices]
        if not isinstance(raw_choices, list) or not raw_choices:
            raise DataError(
                f"{where}: field {fields.choices!r} must be a non-empty list of strings; "
                f"received {_preview(raw_choices)}."
            )
        choices = tuple(
            _text(c, where, f"{fields.choices}[{i}]") for i, c in enumerate(raw_choices)
        )

    sample_id = record.get(fields.id)
    sid = str(index) if sample_id is None else _text(sample_id, where, fields.id)

    metadata: dict[str, Any] = {}
    skip = {fields.input, fields.target, fields.id, fields.choices}
    for key, value in record.items():
        if key in skip:
            continue
        if key == "metadata" and isinstance(value, Mapping):
            metadata.update(value)
        else:
            metadata[key] = value
    if fields.category != "category" and fields.category in metadata:
        metadata["category"] = metadata[fields.category]
    for key, value in list(metadata.items()):
        if isinstance(value, str):
            metadata[key] = clean_text(value)
    return Sample(id=sid, input=input_, target=target, choices=choices, metadata=metadata)


def sample_to_json(sample: Sample) -> dict[str, Any]:
    """The JSON form of a sample (as stored and hashed)."""
    return {
        "id": sample.id,
        "input": sample.input
        if isinstance(sample.input, str)
        else [m.to_dict() for m in sample.input],
        "target": sample.target if isinstance(sample.target, str) else list(sample.target),
        "choices": None if sample.choices is None else list(sample.choices),
        "metadata": dict(sample.metadata),
    }
