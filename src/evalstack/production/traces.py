"""Stored traces: interactions logged by an app (the JSON API and the Python helper), and the
conversations they make up.

An interaction is one request to the app and what it answered: its input and output
messages, model, latency, tokens, cost, conversation and user. It is stored as a trace (its
``trace_id`` given, or a new one) and counted as one turn of its conversation. Traces that
come in over OpenTelemetry land in the same table, with their spans beside them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from evalstack.core.errors import UserError
from evalstack.store import Store, connect
from evalstack.store._rows import clean_json, to_utc
from evalstack.store.tables import conversations, traces

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Interaction:
    """One logged request and answer.

    Attributes:
        input: the messages sent (``[{"role": "user", "content": ...}]``), or a text.
        output: the answer's messages, or a text.
        started_at: when the request came in (UTC).
        trace_id: the app's trace id (32 hex digits, as OpenTelemetry's), or ``None`` for a
            new one.
        model / latency_ms / input_tokens / output_tokens / cost_usd: as reported.
        conversation_id / user_id: what it belongs to.
        metadata: anything else, JSON-safe.
    """

    input: list[Message] | str
    output: list[Message] | str
    started_at: datetime
    trace_id: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TraceRow:
    """A stored trace, as the scorers, metrics and pages read it."""

    trace_id: str
    started_at: datetime
    input: list[Message]
    output: list[Message]
    model: str | None
    conversation_id: str | None
    user_id: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    metadata: dict[str, Any]

    @property
    def question(self) -> str:
        """The last user message of the input (what a judge is asked about)."""
        users = [m.get("content", "") for m in self.input if m.get("role") == "user"]
        return users[-1] if users else "\n".join(m.get("content", "") for m in self.input)

    @property
    def answer(self) -> str:
        """The output's text (its assistant messages joined)."""
        return "\n".join(m.get("content", "") for m in self.output
                         if m.get("role") in ("assistant", None, ""))


def messages(value: list[Message] | str | None, role: str) -> list[Message]:
    """Messages in one shape: a text becomes one message with ``role``.

    Examples:
        >>> messages("hi", "user")
        [{'role': 'user', 'content': 'hi'}]
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": str(m.get("role", role)), "content": str(m.get("content", ""))}
            for m in value]


def new_trace_id() -> str:
    """A random 128-bit trace id in OpenTelemetry's form (32 lowercase hex digits)."""
    return secrets.token_hex(16)


def log_interactions(store: Store, project: str, items: Sequence[Interaction]) -> list[str]:
    """Store interactions as traces and count them as conversation turns; returns the trace
    ids.

    Raises:
        UserError: a trace id is already stored in the project (it is not overwritten).
    """
    now = datetime.now(UTC)
    rows = []
    for item in items:
        trace_id = (item.trace_id or new_trace_id()).lower()
        rows.append({
            "project_id": project, "trace_id": trace_id, "started_at": to_utc(item.started_at),
            "ended_at": None, "received_at": now, "conversation_id": item.conversation_id,
            "user_id": item.user_id, "model": item.model, "input_tokens": item.input_tokens,
            "output_tokens": item.output_tokens, "cost_usd": item.cost_usd,
            "latency_ms": item.latency_ms, "input": clean_json(messages(item.input, "user")),
            "output": clean_json(messages(item.output, "assistant")),
            "metadata": clean_json(item.metadata),
        })
    if not rows:
        return []
    try:
        with connect.write_transaction(store.engine) as conn:
            conn.execute(traces.insert(), rows)
            count_turns(conn, project, rows)
    except sa.exc.IntegrityError:
        raise UserError("A trace id in this batch is already stored for the project; trace "
                        "ids must be unique (leave trace_id out to get a new one).") from None
    return [r["trace_id"] for r in rows]


def count_turns(conn: sa.Connection, project: str, rows: Sequence[dict[str, Any]]) -> None:
    """Count new trace rows as turns of their conversations (first and last seen, user)."""
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        cid = r["conversation_id"]
        if cid is None:
            continue
        c = per.setdefault(cid, {"user": r["user_id"], "first": r["started_at"],
                                 "last": r["started_at"], "turns": 0})
        c["first"], c["last"] = min(c["first"], r["started_at"]), max(c["last"], r["started_at"])
        c["turns"] += 1
        c["user"] = c["user"] or r["user_id"]
    for cid, c in per.items():
        found = conn.execute(sa.select(conversations).where(
            conversations.c.project_id == project,
            conversations.c.conversation_id == cid)).mappings().first()
        if found is None:
            conn.execute(conversations.insert().values(
                project_id=project, conversation_id=cid, user_id=c["user"],
                first_seen=c["first"], last_seen=c["last"], turns=c["turns"]))
        else:
            conn.execute(conversations.update().where(
                conversations.c.project_id == project,
                conversations.c.conversation_id == cid).values(
                user_id=found["user_id"] or c["user"],
                first_seen=min(to_utc(found["first_seen"]), c["first"]),
                last_seen=max(to_utc(found["last_seen"]), c["last"]),
                turns=found["turns"] + c["turns"]))


def iter_traces(store: Store, project: str, *, since: datetime | None = None,
                until: datetime | None = None, batch: int = 1000) -> Iterator[TraceRow]:
    """A project's traces in start order (streamed in batches)."""
    query = sa.select(traces).where(traces.c.project_id == project)
    if since is not None:
        query = query.where(traces.c.started_at >= to_utc(since))
    if until is not None:
        query = query.where(traces.c.started_at < to_utc(until))
    query = query.order_by(traces.c.started_at, traces.c.trace_id)
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=batch).execute(query).mappings()
        for row in result:
            yield TraceRow(
                row["trace_id"], to_utc(row["started_at"]), list(row["input"] or []),
                list(row["output"] or []), row["model"], row["conversation_id"],
                row["user_id"], row["latency_ms"], row["input_tokens"], row["output_tokens"],
                row["cost_usd"], dict(row["metadata"] or {}))
