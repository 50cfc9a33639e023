"""Storing OpenTelemetry spans and log records, and the traces they make up.

``save_spans`` stores decoded spans (``production.otlp.SpanRecord``) and rebuilds the trace
row of every trace they touch from all of that trace's stored spans, so a trace whose spans
arrive in several exports is whole once they are in:

- start and end: the earliest start and latest end of its spans; latency: their difference;
- model: the response model (else the request model) of its first GenAI span;
- tokens: summed over its GenAI spans;
- input and output: the first GenAI span's input messages and the last one's output;
- conversation and user: the first span that names them.

A span sent twice (an exporter retrying) is stored once; what it said is merged, not lost.
Spans and attributes evalstack does not understand are kept as they came.

``save_logs`` joins log records (the GenAI ``...inference.operation.details`` events) to
their span: when the span is stored its messages are filled in; when it has not arrived yet
the messages wait in a placeholder row that the span fills when it comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from evalstack.production.otlp import LogRecordInfo, SpanRecord, attach_logs
from evalstack.production.traces import count_turns
from evalstack.store import Store, connect
from evalstack.store._rows import clean_json, to_utc
from evalstack.store.tables import spans, traces

_GENAI_KEYS = ("operation", "request_model", "response_model", "provider", "input_tokens",
               "output_tokens", "conversation_id", "user_id")


def _genai(span: SpanRecord) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(span, k) for k in _GENAI_KEYS}
    out["input_messages"] = [{"role": m.role, "content": m.content} for m in span.input_messages]
    out["output_messages"] = [{"role": m.role, "content": m.content}
                              for m in span.output_messages]
    return out


def _is_genai(genai: dict[str, Any]) -> bool:
    return bool(genai.get("request_model") or genai.get("response_model")
                or genai.get("input_messages") or genai.get("output_messages"))


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``, keeping what ``old`` had where ``new`` is empty."""
    return {k: new.get(k) if new.get(k) not in (None, [], "") else old.get(k)
            for k in set(old) | set(new)}


def save_spans(store: Store, project: str, records: Sequence[SpanRecord]) -> int:
    """Store spans and rebuild their traces; returns how many traces were new."""
    if not records:
        return 0
    keys = {(r.trace_id, r.span_id) for r in records}
    trace_ids = sorted({r.trace_id for r in records})
    with connect.write_transaction(store.engine) as conn:
        existing: dict[tuple[str, str], Any] = {
            (row["trace_id"], row["span_id"]): row for row in conn.execute(
            sa.select(spans).where(spans.c.project_id == project,
                                   spans.c.trace_id.in_(trace_ids))).mappings()
            if (row["trace_id"], row["span_id"]) in keys}
        for r in records:
            row = {"project_id": project, "trace_id": r.trace_id, "span_id": r.span_id,
                   "parent_span_id": r.parent_span_id, "name": r.name, "kind": r.kind,
                   "status": r.status, "started_at": to_utc(r.start_time),
                   "ended_at": to_utc(r.end_time), "service": r.service_name,
                   "attributes": clean_json({**r.attributes, **(
                       {"otel.events": [e.name for e in r.events]} if r.events else {})}),
                   "genai": clean_json(_genai(r))}
            old = existing.get((r.trace_id, r.span_id))
            if old is None:
                conn.execute(spans.insert().values(**row))
                existing[(r.trace_id, r.span_id)] = row
            else:
                row["genai"] = _merge(dict(old["genai"] or {}), row["genai"])
                row["attributes"] = {**dict(old["attributes"] or {}), **row["attributes"]}
                conn.execute(spans.update().where(
                    spans.c.project_id == project, spans.c.trace_id == r.trace_id,
                    spans.c.span_id == r.span_id).values(**row))
        return _rebuild(conn, project, trace_ids)


def save_logs(store: Store, project: str, logs: Sequence[LogRecordInfo]) -> int:
    """Fill stored spans' messages from log records (placeholders for spans not yet here);
    returns how many log records carried messages for a span."""
    tied = [g for g in logs if g.trace_id and g.span_id and (g.input_messages
                                                             or g.output_messages)]
    if not tied:
        return 0
    placeholders = [SpanRecord(
        trace_id=g.trace_id or "", span_id=g.span_id or "", parent_span_id=None, name="",
        kind="unspecified", start_time=g.time or datetime.now(UTC),
        end_time=g.time or datetime.now(UTC), status="unset", status_message=None,
        service_name=g.service_name, scope_name=g.scope_name,
        attributes={"evalstack.from_logs": True}, resource_attributes={})
        for g in tied]
    filled = attach_logs(placeholders, tied)
    save_spans(store, project, filled)
    return len(tied)


def _rebuild(conn: sa.Connection, project: str, trace_ids: Sequence[str]) -> int:
    rows = conn.execute(sa.select(spans).where(spans.c.project_id == project,
                                               spans.c.trace_id.in_(list(trace_ids)))
                        .order_by(spans.c.started_at)).mappings().all()
    by_trace: dict[str, list[Any]] = {}
    for row in rows:
        by_trace.setdefault(row["trace_id"], []).append(row)
    known = {t for (t,) in conn.execute(sa.select(traces.c.trace_id).where(
        traces.c.project_id == project, traces.c.trace_id.in_(list(trace_ids))))}
    new_rows: list[dict[str, Any]] = []
    for trace_id, group in by_trace.items():
        values = _trace_values(group)
        if trace_id in known:
            conn.execute(traces.update().where(traces.c.project_id == project,
                                               traces.c.trace_id == trace_id).values(**values))
        else:
            fresh = {"project_id": project, "trace_id": trace_id,
                     "received_at": datetime.now(UTC), **values}
            conn.execute(traces.insert().values(**fresh))
            new_rows.append(fresh)
    count_turns(conn, project, new_rows)
    return len(new_rows)


def _trace_values(group: Sequence[Any]) -> dict[str, Any]:
    real = [s for s in group if not (s["attributes"] or {}).get("evalstack.from_logs")] or group
    genai = [dict(s["genai"] or {}) for s in group if _is_genai(dict(s["genai"] or {}))]
    start = min(to_utc(s["started_at"]) for s in real)
    ends = [to_utc(s["ended_at"]) for s in real if s["ended_at"] is not None]
    end = max(ends) if ends else None

    def first(key: str) -> Any:
        return next((g[key] for g in genai if g.get(key)), None)

    def total(key: str) -> int | None:
        found = [int(g[key]) for g in genai if isinstance(g.get(key), int)]
        return sum(found) if found else None

    names = [s["name"] for s in real if s["parent_span_id"] is None and s["name"]]
    return {
        "started_at": start, "ended_at": end,
        "latency_ms": None if end is None else (end - start).total_seconds() * 1000,
        "model": first("response_model") or first("request_model"),
        "input_tokens": total("input_tokens"), "output_tokens": total("output_tokens"),
        "input": next((g["input_messages"] for g in genai if g.get("input_messages")), None),
        "output": next((g["output_messages"] for g in reversed(genai)
                        if g.get("output_messages")), None),
        "conversation_id": first("conversation_id"), "user_id": first("user_id"),
        "cost_usd": None,
        "metadata": {"spans": len(group), "root": names[0] if names else None,
                     "source": "otlp"},
    }
