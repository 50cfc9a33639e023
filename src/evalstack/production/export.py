"""Chosen production traces as an eval dataset: JSON Lines in the form ``evalstack run`` reads.

Each trace becomes one line::

    {"id": TRACE_ID, "input": ..., "target": "", "category": MODEL,
     "conversation_id": ..., "model": ..., "started_at": ISO-8601,
     "scores": {METRIC: VALUE}, "feedback": [{"name", "value", "label"}], "answer": ...}

- ``input`` is the last user message as a text when the trace's input is that one message,
  else the input's system, user and assistant messages as a chat list (other roles, such as
  tool results, are left out); a trace with no such message is skipped and counted.
- ``target`` is empty unless ``answer_as_target``: the app's answer is what is being judged,
  not a reference, so it goes in ``answer`` for a person to review and copy into ``target``
  once it is right. With ``answer_as_target`` it becomes the target (a regression set:
  "answer as production did") and ``answer`` is left out.
- ``category`` is the trace's model (left out when unknown), so ``evalstack show`` groups by
  it; the other fields become sample metadata. The user id and the app's own trace metadata
  are not exported.

With ``redact`` every string but the trace id and the start time goes through
``production.redact``; the counts per kind are returned, never written to the file.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import IO, Any

import sqlalchemy as sa

from evalstack.core.errors import ConfigError
from evalstack.production.redact import ALL, redact_json
from evalstack.production.store import iter_feedback
from evalstack.production.traces import TraceRow, iter_traces
from evalstack.store import Store
from evalstack.store.tables import online_scores

_ROLES = ("system", "user", "assistant")
_METRIC = re.compile(r"^([^:\s][^:]*):(.+)$")


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Which traces to export (all given conditions must hold).

    Attributes:
        since / until: started at or after ``since``, and before ``until`` (UTC).
        models: the trace's model is one of these (any model when empty).
        min_scores / max_scores: (metric, bound) pairs; the trace's online score on the
            metric is at least / at most the bound (a trace without that score is left out).
        feedback: (name, label) pairs; the trace has a feedback event of that name (with that
            label, or that value when the label is a number, unless it is ``None``), sent for
            the trace or for its conversation.
        limit: at most this many traces, the first in start order.
    """

    since: datetime | None = None
    until: datetime | None = None
    models: tuple[str, ...] = ()
    min_scores: tuple[tuple[str, float], ...] = ()
    max_scores: tuple[tuple[str, float], ...] = ()
    feedback: tuple[tuple[str, str | None], ...] = ()
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an export did: traces written, looked at and skipped, and redactions per kind."""

    written: int
    considered: int
    skipped_no_input: int = 0
    redactions: dict[str, int] = field(default_factory=dict)


def parse_when(option: str, text: str) -> datetime:
    """A date (``2026-12-01``, midnight UTC) or an ISO 8601 time (naive means UTC).

    Raises:
        ConfigError: naming ``option`` and the expected form.
    """
    try:
        if len(text.strip()) == 10:
            return datetime.combine(date.fromisoformat(text.strip()), time(), UTC)
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} expects a date or time like 2026-12-01 or "
                          f"2026-12-01T09:30:00Z; received {text!r}.") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_score_bound(option: str, text: str) -> tuple[str, float]:
    """``METRIC:VALUE`` (``llm_judge:0.5``) as (metric, value).

    Raises:
        ConfigError: naming ``option`` and the expected form.
    """
    m = _METRIC.match(text.strip())
    value = math.nan
    if m:
        try:
            value = float(m.group(2))
        except ValueError:
            pass
    if m is None or not math.isfinite(value):
        raise ConfigError(f"{option} expects METRIC:VALUE with a finite number, such as "
                          f"{option} llm_judge:0.5; received {text!r}.")
    return m.group(1).strip(), value


def parse_feedback(option: str, text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME=LABEL`` (``thumbs=down``) as (name, label or ``None``).

    Raises:
        ConfigError: naming ``option`` and the expected form.
    """
    name, sep, label = text.partition("=")
    if not name.strip() or (sep and not label.strip()):
        raise ConfigError(f"{option} expects NAME or NAME=LABEL, such as {option} escalated "
                          f"or {option} thumbs=down; received {text!r}.")
    return name.strip(), label.strip() if sep else None


def _scores(store: Store, project: str) -> dict[str, dict[str, float]]:
    query = sa.select(online_scores.c.trace_id, online_scores.c.metric,
                      online_scores.c.value).where(online_scores.c.project_id == project,
                                                   online_scores.c.value.is_not(None))
    out: dict[str, dict[str, float]] = defaultdict(dict)
    with store.engine.connect() as conn:
        for trace_id, metric, value in conn.execute(query):
            out[str(trace_id)][str(metric)] = float(value)
    return out


def _label_matches(event: dict[str, Any], label: str | None) -> bool:
    if label is None or event["label"] == label:
        return True
    try:
        return event["value"] is not None and float(label) == event["value"]
    except ValueError:
        return False


def _input(row: TraceRow) -> str | list[dict[str, str]] | None:
    kept = [{"role": m["role"], "content": m["content"]} for m in row.input
            if m.get("role") in _ROLES and m.get("content")]
    if not kept:
        return None
    if len(kept) == 1 and kept[0]["role"] == "user":
        return kept[0]["content"]
    return kept


def _selected(row: TraceRow, spec: TraceFilter, scores: dict[str, float],
              events: list[dict[str, Any]]) -> bool:
    if spec.models and row.model not in spec.models:
        return False
    for metric, low in spec.min_scores:
        if metric not in scores or scores[metric] < low:
            return False
    for metric, high in spec.max_scores:
        if metric not in scores or scores[metric] > high:
            return False
    return all(any(e["name"] == name and _label_matches(e, label) for e in events)
               for name, label in spec.feedback)


def export_traces(store: Store, project: str, spec: TraceFilter, out: IO[str], *,
                  redact: bool = False, answer_as_target: bool = False,
                  kinds: Iterable[str] = ALL, region: str = "US") -> ExportReport:
    """Write a project's chosen traces to ``out`` as eval-dataset JSON Lines.

    Args:
        store: the open store.
        project: the project's id.
        spec: which traces.
        out: a text stream.
        redact: redact personal data in every text field (``production.redact``).
        answer_as_target: use the app's answer as the target (else the target is empty).
        kinds / region: the redaction kinds and the default phone region.

    Returns:
        The counts: written, considered, skipped, and redactions per kind.
    """
    import json

    scores = _scores(store, project)
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_conversation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ev in iter_feedback(store, project):
        item = {"name": ev.name, "value": ev.value, "label": ev.label}
        if ev.trace_id is not None:
            by_trace[ev.trace_id].append(item)
        elif ev.conversation_id is not None:
            by_conversation[ev.conversation_id].append(item)
    counts: Counter[str] = Counter()
    written = considered = skipped = 0
    for row in iter_traces(store, project, since=spec.since, until=spec.until):
        if spec.limit is not None and written >= spec.limit:
            break
        considered += 1
        events = by_trace.get(row.trace_id, []) + (
            by_conversation.get(row.conversation_id, []) if row.conversation_id else [])
        trace_scores = scores.get(row.trace_id, {})
        if not _selected(row, spec, trace_scores, events):
            continue
        input_ = _input(row)
        if input_ is None:
            skipped += 1
            continue
        body: dict[str, Any] = {"input": input_,
                                "target": row.answer if answer_as_target else ""}
        if row.model:
            body["category"] = row.model
        body.update({"conversation_id": row.conversation_id, "model": row.model,
                     "scores": trace_scores, "feedback": events})
        if not answer_as_target:
            body["answer"] = row.answer
        if redact:
            body = redact_json(body, counts, kinds=kinds, region=region)
        record = {"id": row.trace_id, **body, "started_at": row.started_at.isoformat()}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        written += 1
    return ExportReport(written, considered, skipped, dict(sorted(counts.items())))
