"""Production metrics and alerts over the store: the wiring of ``production.metrics`` and
``production.alerts`` to a project's stored conversations and feedback.

``metric_series`` computes every defined metric (per day or week, each window with its
interval and n) from what the store holds. ``stored_pairs`` pairs human reviews of traces
with their automated scores, for the weekly agreement of ``production.agreement``.
``check_alerts`` evaluates the alert rules on
those series and fires each new episode's alert once: stored (deduplicated by rule and
episode start), then posted to the webhook (``production.webhook``). Running it again, on a
schedule or by hand, finds the stored episodes and sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from evalstack.production.agreement import LabelledPair
from evalstack.production.alerts import AlertRule, evaluate_rules
from evalstack.production.metrics import (
    Conversation,
    MetricDefinition,
    MetricSeries,
    compute_metric,
)
from evalstack.production.store import iter_feedback, list_alerts
from evalstack.production.webhook import Delivery, fire
from evalstack.store import Store
from evalstack.store._rows import to_utc
from evalstack.store.tables import conversations, online_scores


def stored_conversations(store: Store, project: str, *, since: datetime | None = None
                         ) -> list[Conversation]:
    """A project's conversations, oldest first."""
    query = sa.select(conversations).where(conversations.c.project_id == project).order_by(
        conversations.c.first_seen)
    if since is not None:
        query = query.where(conversations.c.first_seen >= to_utc(since))
    with store.engine.connect() as conn:
        return [Conversation(r["conversation_id"], r["user_id"], to_utc(r["first_seen"]),
                             int(r["turns"])) for r in conn.execute(query).mappings()]


def metric_series(store: Store, project: str, definitions: Sequence[MetricDefinition], *,
                  since: datetime | None = None, until: datetime | None = None
                  ) -> dict[str, MetricSeries]:
    """Each rate or mean metric's series, from the stored data (retention is separate)."""
    events = list(iter_feedback(store, project, since=since))
    convs = stored_conversations(store, project, since=since)
    return {d.name: compute_metric(d, events, convs, start=since, end=until)
            for d in definitions if d.kind != "retention"}


async def check_alerts(store: Store, project: str, definitions: Sequence[MetricDefinition],
                       rules: Sequence[AlertRule], *, webhook: str | None,
                       since: datetime | None = None, until: datetime | None = None,
                       **delivery: Any) -> list[Delivery]:
    """Evaluate the rules and fire every new episode's alert (stored once, posted once)."""
    wanted = {r.metric for r in rules}
    missing = sorted(wanted - {d.name for d in definitions})
    if missing:
        from evalstack.core.errors import ConfigError

        raise ConfigError(f"Alert rules name metric(s) {', '.join(missing)} that the metric "
                          f"definitions do not define; defined: "
                          f"{', '.join(d.name for d in definitions) or 'none'}.")
    series = metric_series(store, project, [d for d in definitions if d.name in wanted],
                           since=since, until=until)
    seen = {(a["rule"], to_utc(a["episode_start"])) for a in list_alerts(store, project)}
    out = []
    for alert in evaluate_rules(rules, series, seen=seen):
        payload = {"rule": alert.rule, "metric": alert.metric,
                   "window_start": alert.window_start.isoformat(),
                   "episode_start": alert.episode_start.isoformat(), "estimate": alert.value,
                   "ci_low": alert.ci_low, "ci_high": alert.ci_high, "n": alert.n,
                   "message": alert.message}
        out.append(await fire(store, project, alert.rule, alert.episode_start, payload,
                              webhook, **delivery))
    return out


def stored_pairs(store: Store, project: str, metric: str, *, review: str = "review",
                 threshold: float = 0.5) -> list[LabelledPair]:
    """Human reviews (feedback events named ``review`` on a trace: ``value`` 1 good, 0 bad,
    or a ``label``) paired with the trace's automated ``metric`` score, thresholded at
    ``threshold`` (a score at or above it is "good")."""
    with store.engine.connect() as conn:
        scores = {t: v for t, v in conn.execute(
            sa.select(online_scores.c.trace_id, online_scores.c.value).where(
                online_scores.c.project_id == project, online_scores.c.metric == metric,
                online_scores.c.value.is_not(None)))}
    pairs = []
    for event in iter_feedback(store, project, names=[review]):
        if event.trace_id is None or event.trace_id not in scores:
            continue
        human: str | None = event.label
        if event.value is not None:
            human = "good" if event.value >= 0.5 else "bad"
        if human is None:
            continue
        automated = "good" if scores[event.trace_id] >= threshold else "bad"
        pairs.append(LabelledPair(event.trace_id, event.at, human, automated))
    return pairs
