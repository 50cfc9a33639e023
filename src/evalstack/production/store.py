"""The production tables: projects and their ingest keys, feedback, online scores, alerts,
and pruning by age.

Everything here takes an open ``evalstack.store.Store`` and works the same on SQLite and
PostgreSQL (SQLAlchemy Core, one write transaction per call). Timestamps are UTC.

A project's ingest key is a random 256-bit token, shown once when the project is made and
stored only as its SHA-256 digest; a key is checked by digest, in constant time.

Examples:
    >>> from datetime import UTC, datetime
    >>> from evalstack.store import Store
    >>> with Store.open("sqlite://") as store:
    ...     project, key = create_project(store, "support-bot")
    ...     project_for_key(store, key) == project, project_for_key(store, "esk_wrong")
    (True, None)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from evalstack.core.errors import UserError
from evalstack.store import Store, connect
from evalstack.store._rows import clean_json, to_utc
from evalstack.store.ids import new_id
from evalstack.store.tables import (
    alerts,
    conversations,
    feedback,
    online_scores,
    projects,
    spans,
    traces,
)

KEY_PREFIX = "esk_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_project(store: Store, name: str) -> tuple[str, str]:
    """Make a project; returns its id and its ingest key (shown once, stored hashed).

    Raises:
        UserError: the name is empty or already taken.
    """
    if not isinstance(name, str) or not name.strip():
        raise UserError("A project needs a name, e.g. evalstack serve --project support-bot.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    project_id = new_id()
    try:
        with connect.write_transaction(store.engine) as conn:
            conn.execute(projects.insert().values(
                id=project_id, name=name.strip(), key_hash=_digest(key),
                created_at=datetime.now(UTC)))
    except sa.exc.IntegrityError:
        raise UserError(f"A project named {name.strip()!r} already exists in the store; "
                        "choose another name, or use its existing key.") from None
    return project_id, key


def project_for_key(store: Store, key: str | None) -> str | None:
    """The project whose ingest key this is, or ``None`` (a wrong or missing key)."""
    if not key or not key.startswith(KEY_PREFIX):
        return None
    digest = _digest(key)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(projects.c.id, projects.c.key_hash)
                            .where(projects.c.key_hash == digest)).all()
    for project_id, stored in rows:
        if hmac.compare_digest(str(stored), digest):
            return str(project_id)
    return None


def project_id(store: Store, name: str) -> str | None:
    """The id of the project with this name, if any."""
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(projects.c.id).where(projects.c.name == name)).first()
    return None if found is None else str(found[0])


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """Feedback or an outcome the app reports.

    Attributes:
        name: ``thumbs``, ``resolved``, ``escalated`` or a custom name.
        at: when it happened (UTC).
        trace_id / conversation_id / user_id: what it is about (any may be missing).
        value: a number (thumbs: 1 up, 0 down; a rating).
        label: a text value (``up``/``down``, a category).
        metadata: anything else, JSON-safe.
    """

    name: str
    at: datetime
    trace_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    value: float | None = None
    label: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def add_feedback(store: Store, project: str, events: Sequence[FeedbackEvent]) -> list[str]:
    """Store feedback events; returns their new ids."""
    ids = [new_id() for _ in events]
    rows = [{"id": i, "project_id": project, "trace_id": e.trace_id,
             "conversation_id": e.conversation_id, "user_id": e.user_id, "name": e.name,
             "value": e.value, "label": e.label, "at": to_utc(e.at),
             "metadata": clean_json(e.metadata)} for i, e in zip(ids, events, strict=True)]
    if rows:
        with connect.write_transaction(store.engine) as conn:
            conn.execute(feedback.insert(), rows)
    return ids


def iter_feedback(store: Store, project: str, *, since: datetime | None = None,
                  names: Sequence[str] | None = None) -> Iterator[FeedbackEvent]:
    """A project's feedback events, oldest first."""
    query = sa.select(feedback).where(feedback.c.project_id == project).order_by(
        feedback.c.at, feedback.c.id)
    if since is not None:
        query = query.where(feedback.c.at >= to_utc(since))
    if names:
        query = query.where(feedback.c.name.in_(list(names)))
    with store.engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield FeedbackEvent(row["name"], to_utc(row["at"]), row["trace_id"],
                                row["conversation_id"], row["user_id"], row["value"],
                                row["label"], dict(row["metadata"] or {}))


@dataclass(frozen=True, slots=True)
class OnlineScore:
    """One scorer's score on one trace, from a sampled scoring policy."""

    trace_id: str
    metric: str
    policy: str
    value: float | None
    scored_at: datetime
    error: str | None = None
    cost_usd: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def save_scores(store: Store, project: str, scores: Sequence[OnlineScore]) -> int:
    """Store scores; a trace already scored on a metric keeps its first score (never twice).

    Returns:
        How many scores were new.
    """
    done = scored(store, project, {s.metric for s in scores})
    fresh = [s for s in scores if (s.trace_id, s.metric) not in done]
    if fresh:
        with connect.write_transaction(store.engine) as conn:
            conn.execute(online_scores.insert(), [
                {"project_id": project, "trace_id": s.trace_id, "metric": s.metric,
                 "policy": s.policy, "value": s.value, "error": s.error,
                 "cost_usd": s.cost_usd, "scored_at": to_utc(s.scored_at),
                 "metadata": clean_json(s.metadata)} for s in fresh])
    return len(fresh)


def scored(store: Store, project: str, metrics: set[str] | None = None
           ) -> set[tuple[str, str]]:
    """The (trace id, metric) pairs already scored in a project."""
    query = sa.select(online_scores.c.trace_id, online_scores.c.metric).where(
        online_scores.c.project_id == project)
    if metrics:
        query = query.where(online_scores.c.metric.in_(sorted(metrics)))
    with store.engine.connect() as conn:
        return {(str(t), str(m)) for t, m in conn.execute(query)}


def record_alert(store: Store, project: str, rule: str, episode_start: datetime,
                 payload: dict[str, Any]) -> str | None:
    """Store a fired alert once per rule and episode.

    Returns:
        The new alert's id, or ``None`` when this episode's alert is already stored
        (deduplicated: it is not delivered again).
    """
    alert_id = new_id()
    try:
        with connect.write_transaction(store.engine) as conn:
            conn.execute(alerts.insert().values(
                id=alert_id, project_id=project, rule=rule, episode_start=to_utc(episode_start),
                fired_at=datetime.now(UTC), payload=clean_json(payload), attempts=0))
    except sa.exc.IntegrityError:
        return None
    return alert_id


def mark_delivery(store: Store, alert_id: str, *, delivered: bool, attempts: int,
                  error: str | None = None) -> None:
    """Record a delivery attempt's outcome for an alert."""
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if delivered:
        values["delivered_at"] = datetime.now(UTC)
    with connect.write_transaction(store.engine) as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))


def list_alerts(store: Store, project: str | None = None) -> list[dict[str, Any]]:
    """Stored alerts, newest first, as dicts (the ``evalstack alerts`` rows)."""
    query = sa.select(alerts).order_by(alerts.c.fired_at.desc())
    if project is not None:
        query = query.where(alerts.c.project_id == project)
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def prune(store: Store, project: str, older_than: datetime) -> dict[str, int]:
    """Delete a project's traces that started before ``older_than``, with their spans and
    online scores, and its feedback and conversations from before then.

    Returns:
        Rows deleted per table.
    """
    cutoff = to_utc(older_than)
    old = sa.select(traces.c.trace_id).where(traces.c.project_id == project,
                                             traces.c.started_at < cutoff)
    counts: dict[str, int] = {}
    with connect.write_transaction(store.engine) as conn:
        for name, table in (("spans", spans), ("online_scores", online_scores)):
            counts[name] = conn.execute(table.delete().where(
                table.c.project_id == project, table.c.trace_id.in_(old))).rowcount
        counts["traces"] = conn.execute(traces.delete().where(
            traces.c.project_id == project, traces.c.started_at < cutoff)).rowcount
        counts["feedback"] = conn.execute(feedback.delete().where(
            feedback.c.project_id == project, feedback.c.at < cutoff)).rowcount
        counts["conversations"] = conn.execute(conversations.delete().where(
            conversations.c.project_id == project, conversations.c.last_seen < cutoff)
        ).rowcount
    return counts
