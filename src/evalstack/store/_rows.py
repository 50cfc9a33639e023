"""Records to table rows and back, with every string made safe to store.

Secrets never reach the store, nor leave it: errors, model arguments, the run's config (its
store URL) and the task spec go through ``core.redact`` on the way in, and again on the way
out, for rows written before redaction existed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from evalstack.core.provider import SECRET_ARG_NAMES
from evalstack.core.records import RunRecord, SampleRecord
from evalstack.core.redact import redact_text, redact_value
from evalstack.core.text import clean_text

RUN_FIELDS = tuple(f.name for f in fields(RunRecord))
SAMPLE_FIELDS = tuple(f.name for f in fields(SampleRecord))
_RUN_TEXT: tuple[str, ...] = ("id", "status", "task_name", "model", "dataset_name", "dataset_hash")
_RUN_TEXT += ("fingerprint", "package_version", "git_revision", "error")
# JSON fields of a run that may hold a URL with credentials, e.g. a judge's base_url or the
# --store URL.
_RUN_REDACTED = ("model_args", "config", "task_spec")


def clean_json(value: Any) -> Any:
    """A JSON-safe copy of ``value``: clean strings (keys too), lists for tuples and sets.

    JSON has no NaN or infinity (PostgreSQL rejects them), so non-finite floats become
    ``None``; values of other types are stored as their ``str()``.
    """
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((clean_json(v) for v in value), key=repr)
    return clean_text(str(value))


def _opt_text(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def error_text(value: str | None) -> str | None:
    """An error message as stored: clean, with secrets masked (``core.redact``)."""
    return None if value is None else clean_text(redact_text(value))


def _score_errors(scores: Any) -> Any:
    """``scores`` with each score's ``error`` message redacted (a judge's, say)."""
    if not isinstance(scores, Mapping):
        return scores
    out = {}
    for name, score in scores.items():
        if isinstance(score, Mapping) and isinstance(score.get("error"), str):
            score = {**score, "error": redact_text(score["error"])}
        out[name] = score
    return out


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def secret_keys(value: Any, path: str = "") -> list[str]:
    """Paths of the keys anywhere in ``value`` whose names are secret argument names."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if str(k).lower() in SECRET_ARG_NAMES:
                found.append(where)
            found.extend(secret_keys(v, where))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found.extend(secret_keys(v, f"{path}[{i}]"))
    return found


def run_to_row(record: RunRecord) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in RUN_FIELDS}
    for name in _RUN_TEXT:
        row[name] = _opt_text(row[name])
    row["error"] = error_text(record.error)
    for name in _RUN_REDACTED:
        row[name] = redact_value(row[name])
    row["created_at"] = to_utc(record.created_at)
    row["updated_at"] = to_utc(record.updated_at)
    return row


def row_to_run(row: Mapping[Any, Any]) -> RunRecord:
    values = {name: row[name] for name in RUN_FIELDS}
    values["error"] = error_text(values["error"])
    for name in _RUN_REDACTED:
        values[name] = redact_value(values[name])
    values["created_at"] = to_utc(values["created_at"])
    values["updated_at"] = to_utc(values["updated_at"])
    return RunRecord(**values)


def sample_to_row(run_id: str, record: SampleRecord, now: datetime) -> dict[str, Any]:
    # JSON fields are cleaned by the engine's JSON serializer (connect._json_dumps).
    return {
        "run_id": run_id,
        "sample_id": clean_text(record.sample_id),
        "epoch": record.epoch,
        "input": record.input,
        "target": record.target,
        "output": clean_text(record.output),
        "scores": _score_errors(record.scores),
        "error": error_text(record.error),
        "output_truncated": bool(record.output_truncated),
        "latency_ms": record.latency_ms,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cost_usd": record.cost_usd,
        "attempts": record.attempts,
        "cached": bool(record.cached),
        "category": _opt_text(record.category),
        "metadata": record.metadata,
        "model_version": _opt_text(record.model_version),
        "choices": record.choices,
        "created_at": now,
        "judge_input_tokens": record.judge_input_tokens,
        "judge_output_tokens": record.judge_output_tokens,
        "judge_cost_usd": record.judge_cost_usd,
    }


def row_to_sample(row: Mapping[Any, Any]) -> SampleRecord:
    values = {name: row[name] for name in SAMPLE_FIELDS}
    values["output_truncated"] = bool(values["output_truncated"])
    values["cached"] = bool(values["cached"])
    if values["error"] is not None:
        values["error"] = error_text(values["error"])
    if values["metadata"] is None:
        values["metadata"] = {}
    values["judge_cost_usd"] = values["judge_cost_usd"] or 0.0
    return SampleRecord(**values)
