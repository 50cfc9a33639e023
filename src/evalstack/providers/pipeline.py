"""What a pipeline target returns besides its answer, read and checked.

A pipeline (``http/...`` or ``python/...``) may return, with its answer text, the documents it
retrieved (ids, text, scores), the tool calls it made, its token usage and cost, and a trace id.
``pipeline_output`` turns those values into a ``PipelineOutput``. A value of the wrong shape is
a ``ProviderError`` for that sample only, naming where the value was read (a JSON path or a key)
and an excerpt of the reply, so one bad reply never stops the run or loses stored samples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from evalstack.core.errors import ProviderError
from evalstack.core.types import PipelineOutput, RetrievedDoc

_EXCERPT = 300


def reply_excerpt(reply: Any) -> str:
    """A one-line start of a reply, for an error message."""
    try:
        text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(reply)
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def shape_error(label: str, where: str, expected: str, value: Any, reply: Any) -> ProviderError:
    """A per-sample error: what was expected at ``where``, what was there, and the reply."""
    got = "nothing" if value is None else f"{type(value).__name__} {reply_excerpt(value)}"
    return ProviderError(
        f"{label}: expected {expected} at {where}; found {got}. Reply: {reply_excerpt(reply)}",
        retryable=False,
    )


def contexts_from(value: Any, *, label: str, where: str, reply: Any,
                  keys: tuple[str, str, str] = ("id", "text", "score")) -> tuple[RetrievedDoc, ...]:
    """Retrieved documents from a list of strings (texts) or objects with ``keys`` (id, text,
    score); an id that is a number is kept as its text."""
    if not isinstance(value, list):
        raise shape_error(label, where, "a list of documents", value, reply)
    return tuple(_doc(item, i, label=label, where=where, reply=reply, keys=keys)
                 for i, item in enumerate(value))


def _doc(item: Any, i: int, *, label: str, where: str, reply: Any,
         keys: tuple[str, str, str]) -> RetrievedDoc:
    if isinstance(item, str):
        return RetrievedDoc(text=item)
    if not isinstance(item, Mapping):
        raise shape_error(label, f"{where}[{i}]", "a document (a string or an object)", item,
                          reply)
    doc_id, text, score = (item.get(k) for k in keys)
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int | type(None)):
        raise shape_error(label, f"{where}[{i}].{keys[0]}", "a string or integer id", doc_id,
                          reply)
    if not isinstance(text, str | type(None)):
        raise shape_error(label, f"{where}[{i}].{keys[1]}", "a string", text, reply)
    return RetrievedDoc(None if doc_id is None else str(doc_id), text,
                        _number(score, f"{where}[{i}].{keys[2]}", label, reply))


def _number(value: Any, where: str, label: str, reply: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise shape_error(label, where, "a finite number", value, reply)
    return float(value)


def tokens_from(value: Any, *, label: str, where: str, reply: Any) -> int | None:
    """A token count (a whole number of at least 0), or ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise shape_error(label, where, "a whole number of tokens", value, reply)
    return value


def pipeline_output(values: Mapping[str, tuple[str, Any]], *, label: str, reply: Any,
                    keys: tuple[str, str, str] = ("id", "text", "score")
                    ) -> PipelineOutput | None:
    """A ``PipelineOutput`` from ``{part: (where it was read, value)}`` for the parts
    ``contexts``, ``tool_calls``, ``cost_usd`` and ``trace_id``; ``None`` when all are absent.
    """
    found = {part: pair for part, pair in values.items() if pair[1] is not None}
    if not found:
        return None
    contexts = tool_calls = None
    if "contexts" in found:
        where, value = found["contexts"]
        contexts = contexts_from(value, label=label, where=where, reply=reply, keys=keys)
    if "tool_calls" in found:
        where, value = found["tool_calls"]
        if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
            raise shape_error(label, where, "a list of tool-call objects", value, reply)
        tool_calls = tuple(value)
    cost = _number(*_pair(found, "cost_usd"), label, reply)
    trace = found.get("trace_id", ("", None))
    if trace[1] is not None and not isinstance(trace[1], str | int):
        raise shape_error(label, trace[0], "a trace id (a string)", trace[1], reply)
    return PipelineOutput(contexts, tool_calls, cost,
                          None if trace[1] is None else str(trace[1]))


def _pair(found: Mapping[str, tuple[str, Any]], part: str) -> tuple[Any, str]:
    where, value = found.get(part, (part, None))
    return value, where
