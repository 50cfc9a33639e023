"""Human review of production traces: a weekly sample to label, and the labels stored as
feedback.

Each ISO week (UTC, Monday 00:00 to the next Monday), ``review_sample`` picks, among the
week's traces that have an online score on a metric, the ``lowest`` lowest-scoring (where
the automated eval most likely fails, ties broken by trace id) plus ``random`` others chosen
by a hash of the seed, the week and the trace id: the same store gives the same sample every
time, on every machine, with no state kept. The random part is what makes the agreement
measured on the sample say something about all traffic, not only about the worst of it.

A person's verdict is a feedback event named ``review`` (``value`` 1.0 good, 0.0 bad,
``label`` ``good``/``bad``, and ``metadata`` ``{labeller, note, queue}``), exactly what
``monitor.stored_pairs`` pairs with the automated scores for ``evalstack agreement``.

Examples:
    >>> from datetime import UTC, date, datetime
    >>> from evalstack.production.store import OnlineScore, create_project, save_scores
    >>> from evalstack.production.traces import Interaction, log_interactions
    >>> from evalstack.store import Store
    >>> with Store.open("sqlite://") as store:
    ...     pid, _ = create_project(store, "bot")
    ...     at = datetime(2026, 11, 3, tzinfo=UTC)
    ...     ids = log_interactions(store, pid, [Interaction("q", "a", at, trace_id=f"{i:032x}")
    ...                                         for i in range(3)])
    ...     _ = save_scores(store, pid, [OnlineScore(t, "llm_judge", "all", v, at)
    ...                                  for t, v in zip(ids, [0.9, 0.1, 0.5])])
    ...     sample = review_sample(store, pid, "llm_judge", date(2026, 11, 2), lowest=1,
    ...                            random=1)
    ...     _ = record_review(store, pid, sample[0], good=False, labeller="ana")
    ...     sample[0] == ids[1], len(sample), reviewed(store, pid, "ana") == {ids[1]}
    (True, 2, True)
"""

from __future__ import annotations

import difflib
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from evalstack.core.errors import UserError
from evalstack.production.store import FeedbackEvent, add_feedback, iter_feedback
from evalstack.production.traces import TraceRow
from evalstack.store import Store
from evalstack.store._rows import to_utc
from evalstack.store.tables import online_scores, traces

__all__ = ["REVIEW", "ReviewQueue", "get_trace", "record_review", "review_metrics",
           "review_queue", "review_sample", "reviewed", "week_bounds"]

#: The feedback event name of a person's review (what ``stored_pairs`` reads).
REVIEW = "review"
MAX_NOTE_CHARS = 2000


def week_bounds(day: date | datetime) -> tuple[datetime, datetime]:
    """The ISO week (UTC) holding ``day``: its Monday 00:00 and the next Monday 00:00.

    A naive datetime is taken to be UTC.

    Examples:
        >>> [d.isoformat() for d in week_bounds(date(2026, 12, 9))]
        ['2026-12-07T00:00:00+00:00', '2026-12-14T00:00:00+00:00']
    """
    if isinstance(day, datetime):
        day = to_utc(day).date()
    monday = datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=UTC)
    return monday, monday + timedelta(days=7)


def review_metrics(store: Store, project: str) -> list[str]:
    """The metrics with online scores in the project, sorted."""
    with store.engine.connect() as conn:
        return sorted(str(m) for (m,) in conn.execute(
            sa.select(online_scores.c.metric).where(online_scores.c.project_id == project)
            .distinct()))


def _unknown_metric(store: Store, project: str, metric: str) -> UserError:
    known = review_metrics(store, project)
    close = difflib.get_close_matches(metric, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return UserError(f"No online scores on metric {metric[:80]!r} in this project; scored "
                     f"metrics: {', '.join(known) or 'none'}.{hint} Reviews are sampled from "
                     "scored traces (evalstack serve --score ...).")


def _rank(seed: int, monday: datetime, trace_id: str, purpose: str) -> str:
    text = f"{purpose}\0{seed}\0{monday.date().isoformat()}\0{trace_id}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def review_sample(store: Store, project: str, metric: str, week_start: date | datetime, *,
                  lowest: int = 25, random: int = 25, seed: int = 0) -> list[str]:
    """The week's traces to review: the lowest-scoring, then a deterministic random rest.

    Args:
        store: the open store.
        project: the project's id.
        metric: the online score the traces are ranked by (e.g. ``llm_judge``).
        week_start: any day of the ISO week (UTC; normally its Monday); traces that started
            in ``week_bounds(week_start)`` are eligible if they have a finite ``metric``
            score.
        lowest: how many of the lowest-scoring traces, lowest first (ties by trace id).
        random: how many of the other eligible traces, ranked by SHA-256 of
            ``(seed, week, trace id)``: deterministic, and independent of the scores.
        seed: another seed gives another random part.

    Returns:
        Trace ids without duplicates: the lowest ``lowest`` in score order, then up to
        ``random`` others in hash order (fewer when the week has fewer traces).

    Raises:
        UserError: ``lowest`` or ``random`` is negative, or the project has no scores on
            ``metric`` at all (the message lists the scored metrics).
    """
    if lowest < 0 or random < 0:
        raise UserError(f"lowest and random must be 0 or more; received {lowest} and "
                        f"{random}.")
    start, end = week_bounds(week_start)
    s, t = online_scores.c, traces.c
    query = (sa.select(s.trace_id, s.value)
             .select_from(online_scores.join(traces, sa.and_(
                 t.project_id == s.project_id, t.trace_id == s.trace_id)))
             .where(s.project_id == project, s.metric == metric, s.value.is_not(None),
                    t.started_at >= start, t.started_at < end))
    with store.engine.connect() as conn:
        rows = [(float(v), str(tid)) for tid, v in conn.execute(query)]
        if not rows and conn.execute(sa.select(s.trace_id).where(
                s.project_id == project, s.metric == metric).limit(1)).first() is None:
            raise _unknown_metric(store, project, metric)
    eligible = sorted((v, tid) for v, tid in rows if math.isfinite(v))
    low = [tid for _, tid in eligible[:lowest]]
    rest = sorted((tid for _, tid in eligible[lowest:]),
                  key=lambda tid: _rank(seed, start, tid, "sample"))
    return low + rest[:random]


def get_trace(store: Store, project: str, trace_id: str) -> TraceRow | None:
    """One stored trace of the project, or ``None``."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(traces).where(
            traces.c.project_id == project, traces.c.trace_id == trace_id)).mappings().first()
    if row is None:
        return None
    return TraceRow(row["trace_id"], to_utc(row["started_at"]), list(row["input"] or []),
                    list(row["output"] or []), row["model"], row["conversation_id"],
                    row["user_id"], row["latency_ms"], row["input_tokens"],
                    row["output_tokens"], row["cost_usd"], dict(row["metadata"] or {}))


def reviewed(store: Store, project: str, labeller: str) -> set[str]:
    """The trace ids this labeller has reviewed in the project (any queue, any time)."""
    return {e.trace_id for e in iter_feedback(store, project, names=[REVIEW])
            if e.trace_id is not None and e.metadata.get("labeller") == labeller}


def record_review(store: Store, project: str, trace_id: str, good: bool, labeller: str,
                  note: str | None = None, *, queue: str = "weekly",
                  at: datetime | None = None) -> str:
    """Store a person's verdict on a trace as a ``review`` feedback event.

    The event has ``value`` 1.0 (good) or 0.0 (bad), ``label`` ``good`` or ``bad``, and
    ``metadata`` ``{"labeller", "note", "queue"}``; ``at`` defaults to now (UTC).

    Returns:
        The new event's id.

    Raises:
        UserError: no labeller name, a note over ``MAX_NOTE_CHARS``, or a trace id the
            project does not hold (nothing is stored).
    """
    name = (labeller or "").strip()
    if not name or len(name) > 128:
        raise UserError("A review needs the labeller's name (1-128 characters); reviews are "
                        "stored with who made them.")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE_CHARS:
        raise UserError(f"A review note is at most {MAX_NOTE_CHARS} characters; received "
                        f"{len(text)}.")
    if get_trace(store, project, trace_id) is None:
        raise UserError(f"No trace {trace_id[:80]!r} in this project to review; review a "
                        "trace id the project stores (see its traces at /production).")
    event = FeedbackEvent(REVIEW, at or datetime.now(UTC), trace_id=trace_id,
                          value=1.0 if good else 0.0, label="good" if good else "bad",
                          metadata={"labeller": name, "note": text, "queue": queue})
    return add_feedback(store, project, [event])[0]


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    """A labeller's place in a week's review sample.

    Attributes:
        week_start / week_end: the ISO week (UTC).
        sample: the sample's trace ids in the order they are shown.
        done: how many of them this labeller has reviewed.
        next: the next trace to review, or ``None`` when all are done.
    """

    week_start: datetime
    week_end: datetime
    sample: tuple[str, ...]
    done: int
    next: TraceRow | None


def review_queue(store: Store, project: str, metric: str, week_start: date | datetime,
                 labeller: str, *, lowest: int = 25, random: int = 25, seed: int = 0
                 ) -> ReviewQueue:
    """The week's sample (``review_sample``) and the next trace this labeller has not
    reviewed.

    The sample is shown in a hashed order, not lowest first, so a trace's place in the queue
    does not hint at its score (no anchoring); the order is the same on every visit.

    Raises:
        UserError: as ``review_sample``.
    """
    start, end = week_bounds(week_start)
    ids = review_sample(store, project, metric, start, lowest=lowest, random=random,
                        seed=seed)
    order = tuple(sorted(ids, key=lambda tid: _rank(seed, start, tid, "order")))
    seen = reviewed(store, project, labeller.strip())
    pending = [tid for tid in order if tid not in seen]
    nxt = get_trace(store, project, pending[0]) if pending else None
    return ReviewQueue(start, end, order, len(order) - len(pending), nxt)
