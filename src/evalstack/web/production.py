"""The viewer's production pages: a project's dashboard and one trace, with their JSON twins.

- ``/production``: the projects ``evalstack serve`` stores traces for;
- ``/production/{project}?days=30``: per UTC day over the last ``days`` days, the trace
  volume (exact Poisson interval), the thumbs-up rate (per thumbs event), resolution and
  escalation rates (per conversation started that day; Wilson intervals), the mean online
  score of each metric (percentile bootstrap), the total cost and the latency p95
  (order-statistic interval), drawn as server-side SVG (``web.charts``); then the newest
  traces, a page at a time (``before`` is the last trace id of the previous page);
- ``/traces/{project}/{trace_id}``: one trace: its spans as a tree, its input and output
  messages, its online scores, the feedback and human reviews (labels) on it, and its
  attributes.

``{project}`` is a project's id or name. Every JSON twin under ``/api`` is the page's data as
it is; the HTML autoescapes every text (trace content is the app's users' text, untrusted).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from evalstack.core.errors import UserError
from evalstack.production.metrics import Event, MetricDefinition, compute_metric
from evalstack.production.store import iter_feedback
from evalstack.stats.result import StatResult
from evalstack.stats.windows import window_at, window_index, windowed_mean
from evalstack.store._rows import to_utc
from evalstack.store.tables import feedback, online_scores, projects, spans, traces
from evalstack.web.charts import Point, Series, line_chart

#: The feedback metrics every dashboard shows (``production.metrics`` definitions).
FEEDBACK_METRICS = (
    MetricDefinition(name="thumbs_up_rate", kind="rate", event="thumbs", success="up",
                     per="event"),
    MetricDefinition(name="resolution_rate", kind="rate", event="resolved"),
    MetricDefinition(name="escalation_rate", kind="rate", event="escalated"),
)
REVIEW = "review"  # feedback events of this name are human labels of a trace
MAX_DAYS = 366
_PREVIEW = 120


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).isoformat()


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _stat(result: StatResult) -> dict[str, Any]:
    return {"estimate": _finite(result.estimate), "ci_low": _finite(result.ci_low),
            "ci_high": _finite(result.ci_high), "n": result.n, "method": result.method}


# -- projects --------------------------------------------------------------------------------


def project_list(store: Any) -> list[dict[str, Any]]:
    """Every project, by name, with its trace count and newest trace's start."""
    counts = (sa.select(traces.c.project_id, sa.func.count().label("n"),
                        sa.func.max(traces.c.started_at).label("last"))
              .group_by(traces.c.project_id).subquery())
    query = (sa.select(projects.c.id, projects.c.name, projects.c.created_at, counts.c.n,
                       counts.c.last)
             .select_from(projects.outerjoin(counts, counts.c.project_id == projects.c.id))
             .order_by(projects.c.name))
    with store.engine.connect() as conn:
        return [{"id": r.id, "name": r.name, "created_at": _iso(r.created_at),
                 "traces": int(r.n or 0), "last_trace_at": _iso(r.last)}
                for r in conn.execute(query)]


def resolve_project(store: Any, ref: str) -> dict[str, str]:
    """A project by id or name, as ``{"id", "name"}``.

    Raises:
        UserError: no project has this id or name.
    """
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(projects.c.id, projects.c.name).where(
            sa.or_(projects.c.id == ref, projects.c.name == ref))
            .order_by((projects.c.id == ref).desc())).first()
        if row is None:
            known = [n for (n,) in conn.execute(
                sa.select(projects.c.name).order_by(projects.c.name).limit(20))]
    if row is None:
        raise UserError(f"No project with id or name {ref[:80]!r} in the store; known "
                        f"projects: {', '.join(known) or 'none'} (see /production).")
    return {"id": str(row.id), "name": str(row.name)}


# -- the dashboard ---------------------------------------------------------------------------


def _thumbs(events: Sequence[Any]) -> list[Event]:
    """Feedback as metric events, a thumbs given only as a value (1 up, 0 down) labelled."""
    out = []
    for e in events:
        label = e.label
        if e.name == "thumbs" and label is None and e.value is not None:
            label = "up" if e.value >= 0.5 else "down"
        out.append(Event(e.name, e.at, e.conversation_id, e.user_id, e.value, label,
                         e.trace_id))
    return out


def _series_points(days: Sequence[datetime], stats: Mapping[int, dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """One entry per day: the day and its stat (``estimate`` ``None`` when no data)."""
    empty = {"estimate": None, "ci_low": None, "ci_high": None, "n": 0, "method": None}
    return [{"day": d.date().isoformat(), **stats.get(window_index(d), empty)} for d in days]


def dashboard_view(store: Any, ref: str, *, days: int = 30, before: str | None = None,
                   limit: int = 50, now: datetime | None = None) -> dict[str, Any]:
    """A project's dashboard: per day over the last ``days`` UTC days (today included), the
    volume, feedback metrics, online scores, cost and latency p95, each with its interval
    and n; and one page of its newest traces.

    Raises:
        UserError: the project is unknown, or ``before`` is not one of its traces.
    """
    from evalstack.production.monitor import stored_conversations  # aiohttp, via webhooks
    from evalstack.runner.load import percentile, throughput

    project = resolve_project(store, ref)
    pid = project["id"]
    today = window_index(now or datetime.now(UTC))
    day_starts = [window_at(i) for i in range(today - days + 1, today + 1)]
    since, until = day_starts[0], window_at(today + 1)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(traces.c.started_at, traces.c.cost_usd,
                                      traces.c.latency_ms).where(
            traces.c.project_id == pid, traces.c.started_at >= since,
            traces.c.started_at < until)).all()
        scores = conn.execute(
            sa.select(online_scores.c.metric, online_scores.c.value,
                      sa.func.coalesce(traces.c.started_at, online_scores.c.scored_at))
            .select_from(online_scores.outerjoin(traces, sa.and_(
                traces.c.project_id == online_scores.c.project_id,
                traces.c.trace_id == online_scores.c.trace_id)))
            .where(online_scores.c.project_id == pid, online_scores.c.value.is_not(None),
                   sa.func.coalesce(traces.c.started_at, online_scores.c.scored_at) >= since,
                   sa.func.coalesce(traces.c.started_at, online_scores.c.scored_at) < until)
        ).all()
    per_day: dict[int, list[Any]] = {}
    for r in rows:
        per_day.setdefault(window_index(to_utc(r.started_at)), []).append(r)
    volume, cost, latency = {}, {}, {}
    for index in range(today - days + 1, today + 1):
        group = per_day.get(index, [])
        # the exact Poisson interval of a count (Garwood 1936), as a rate per one "second"
        volume[index] = _stat(throughput(len(group), 1.0))
        costs = [float(r.cost_usd) for r in group if r.cost_usd is not None]
        cost[index] = {"estimate": sum(costs) if costs else None, "ci_low": None,
                       "ci_high": None, "n": len(costs), "method": "sum"}
        lat = [float(r.latency_ms) for r in group if r.latency_ms is not None]
        latency[index] = _stat(percentile(lat, 0.95))

    events = _thumbs(list(iter_feedback(store, pid, since=since)))
    convs = stored_conversations(store, pid, since=since)
    feedback_series = {}
    for d in FEEDBACK_METRICS:
        series = compute_metric(d, events, convs, start=since, end=until)
        feedback_series[d.name] = _series_points(
            day_starts, {window_index(p.start): _stat(p.result) for p in series.points})

    by_metric: dict[str, list[tuple[datetime, float]]] = {}
    for metric, value, at in scores:
        if value is not None and math.isfinite(value):
            by_metric.setdefault(str(metric), []).append((to_utc(at), float(value)))
    score_series = {}
    for metric, pairs in sorted(by_metric.items()):
        stats = windowed_mean([a for a, _ in pairs], [v for _, v in pairs], "day",
                              n_resamples=1000, start=since, end=until)
        score_series[metric] = _series_points(
            day_starts, {window_index(w.start): _stat(w.result) for w in stats if w.result.n})

    recent, more = recent_traces(store, pid, before=before, limit=limit)
    return {
        "project": project, "days": days, "since": since.isoformat(),
        "until": until.isoformat(),
        "volume": _series_points(day_starts, volume),
        "feedback": feedback_series,
        "scores": score_series,
        "cost_usd": _series_points(day_starts, cost),
        "latency_p95_ms": _series_points(day_starts, latency),
        "traces": recent,
        "next": {"before": recent[-1]["trace_id"]} if more and recent else None,
    }


def _preview(messages: Any) -> str:
    """The last user message (else the last message) on one line, cut short."""
    found = [m for m in messages or [] if isinstance(m, dict)]
    users = [m for m in found if m.get("role") == "user"] or found
    text = " ".join(str(users[-1].get("content", "")).split()) if users else ""
    return text if len(text) <= _PREVIEW else text[:_PREVIEW - 1] + "…"


def recent_traces(store: Any, project_id: str, *, before: str | None = None, limit: int = 50
                  ) -> tuple[list[dict[str, Any]], bool]:
    """A page of the project's traces, newest first, after trace ``before``; and whether
    more follow.

    Raises:
        UserError: ``before`` is not a trace of the project.
    """
    t = traces.c
    query = sa.select(t.trace_id, t.started_at, t.model, t.conversation_id, t.user_id,
                      t.latency_ms, t.input_tokens, t.output_tokens, t.cost_usd,
                      t.input).where(t.project_id == project_id)
    with store.engine.connect() as conn:
        if before:
            at = conn.execute(sa.select(t.started_at).where(
                t.project_id == project_id, t.trace_id == before)).scalar()
            if at is None:
                raise UserError(f"No trace {before[:80]!r} in this project to page after; "
                                "follow the page's Next link.")
            query = query.where(sa.or_(t.started_at < at, sa.and_(
                t.started_at == at, t.trace_id < before)))
        found = conn.execute(query.order_by(t.started_at.desc(), t.trace_id.desc())
                             .limit(limit + 1)).all()
    rows = [{"trace_id": r.trace_id, "started_at": _iso(r.started_at), "model": r.model,
             "conversation_id": r.conversation_id, "user_id": r.user_id,
             "latency_ms": r.latency_ms, "input_tokens": r.input_tokens,
             "output_tokens": r.output_tokens, "cost_usd": r.cost_usd,
             "question": _preview(r.input)} for r in found[:limit]]
    return rows, len(found) > limit


def _chart_points(points: Sequence[Mapping[str, Any]]) -> list[Point]:
    out = []
    for x, p in enumerate(points, start=1):
        note = ""
        if p["estimate"] is not None:
            note = f"{p['day']}: {p['estimate']:.4g}"
            if p["ci_low"] is not None and p["ci_high"] is not None:
                note += f" [{p['ci_low']:.4g}, {p['ci_high']:.4g}]"
            note += f", n={p['n']}"
        out.append(Point(float(x), p["estimate"], p["ci_low"], p["ci_high"], note=note))
    return out


def dashboard_page(view: dict[str, Any]) -> dict[str, Any]:
    """The HTML page's context: ``view`` plus its charts (escaped SVG, ``web.charts``)."""
    days = view["volume"]
    x_label = (f"day (1 = {days[0]['day']}, {len(days)} = {days[-1]['day']}, UTC)"
               if days else "day")

    def chart(series: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], title: str,
              y_label: str, css: str, unit: bool = False) -> Markup:
        svg = line_chart([Series(name, _chart_points(points)) for name, points in series],
                         title=title, x_label=x_label, y_label=y_label,
                         y_range=(0.0, 1.0) if unit else None, css_class=f"chart {css}")
        return Markup(svg)  # noqa: S704 - every text in it is escaped by web.charts

    charts = {
        "volume": chart([("traces", view["volume"])], "trace volume per day (95% interval)",
                        "traces", "volume"),
        **{f"feedback-{name}": chart([(name, points)], f"{name} (95% Wilson interval)", name,
                                     f"feedback {name}", unit=True)
           for name, points in view["feedback"].items()},
        **{f"score-{name}": chart([(name, points)], f"online score {name} (mean, 95% "
                                  "interval)", name, "score")
           for name, points in view["scores"].items()},
        "cost": chart([("cost", view["cost_usd"])], "total cost per day", "USD", "cost"),
        "latency": chart([("p95", view["latency_p95_ms"])], "latency p95 per day (95% "
                         "interval)", "ms", "latency"),
    }
    return {**view, "charts": charts}


# -- one trace -------------------------------------------------------------------------------


def _span(row: Mapping[str, Any]) -> dict[str, Any]:
    genai = dict(row["genai"] or {})
    start, end = to_utc(row["started_at"]), row["ended_at"]
    return {
        "span_id": row["span_id"], "parent_span_id": row["parent_span_id"],
        "name": row["name"], "kind": row["kind"], "status": row["status"],
        "service": row["service"], "started_at": start.isoformat(), "ended_at": _iso(end),
        "duration_ms": None if end is None else (to_utc(end) - start).total_seconds() * 1000,
        "model": genai.get("response_model") or genai.get("request_model"),
        "operation": genai.get("operation"), "provider": genai.get("provider"),
        "input_tokens": genai.get("input_tokens"), "output_tokens": genai.get("output_tokens"),
        "input_messages": list(genai.get("input_messages") or []),
        "output_messages": list(genai.get("output_messages") or []),
        "attributes": dict(row["attributes"] or {}), "children": [],
    }


def span_tree(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Spans as a forest in start order: each span with its ``children`` and ``depth``; a span
    whose parent is not stored (or that sits in a cycle) becomes a root."""
    nodes = {r["span_id"]: _span(r) for r in rows}
    roots: list[dict[str, Any]] = []
    for node in nodes.values():
        parent = nodes.get(node["parent_span_id"] or "")
        (roots if parent is None or parent is node else parent["children"]).append(node)
    placed: set[str] = set()

    def walk(level: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
        kept = []
        for node in sorted(level, key=lambda n: (n["started_at"], n["span_id"])):
            if node["span_id"] in placed:
                continue
            placed.add(node["span_id"])
            node["depth"] = depth
            node["children"] = walk(node["children"], depth + 1)
            kept.append(node)
        return kept

    forest = walk(roots, 0)
    # a cycle of parents has no root: show its spans at the top rather than lose them
    forest += walk([n for k, n in nodes.items() if k not in placed], 0)
    return forest


def trace_view(store: Any, ref: str, trace_id: str) -> dict[str, Any]:
    """One trace: its facts and attributes, spans (a tree), messages, online scores, and the
    feedback and reviews on it.

    Raises:
        UserError: the project or the trace is unknown.
    """
    project = resolve_project(store, ref)
    pid = project["id"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(traces).where(traces.c.project_id == pid,
                                                   traces.c.trace_id == trace_id)
                           ).mappings().first()
        if row is None:
            raise UserError(f"No trace {trace_id[:80]!r} in project {project['name']!r}; "
                            "its traces are listed at /production/" + pid + ".")
        span_rows = conn.execute(sa.select(spans).where(
            spans.c.project_id == pid, spans.c.trace_id == trace_id)
            .order_by(spans.c.started_at)).mappings().all()
        score_rows = conn.execute(sa.select(online_scores).where(
            online_scores.c.project_id == pid, online_scores.c.trace_id == trace_id)
            .order_by(online_scores.c.metric)).mappings().all()
        events = conn.execute(sa.select(feedback).where(
            feedback.c.project_id == pid, feedback.c.trace_id == trace_id)
            .order_by(feedback.c.at, feedback.c.id)).mappings().all()
    given = [{"name": e["name"], "at": _iso(e["at"]), "value": e["value"],
              "label": e["label"], "user_id": e["user_id"],
              "conversation_id": e["conversation_id"],
              "metadata": dict(e["metadata"] or {})} for e in events]
    return {
        "project": project, "trace_id": row["trace_id"],
        "started_at": _iso(row["started_at"]), "ended_at": _iso(row["ended_at"]),
        "received_at": _iso(row["received_at"]), "model": row["model"],
        "conversation_id": row["conversation_id"], "user_id": row["user_id"],
        "latency_ms": row["latency_ms"], "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"], "cost_usd": row["cost_usd"],
        "input": list(row["input"] or []), "output": list(row["output"] or []),
        "attributes": dict(row["metadata"] or {}),
        "spans": span_tree(span_rows), "span_count": len(span_rows),
        "scores": [{"metric": s["metric"], "policy": s["policy"], "value": s["value"],
                    "error": s["error"], "cost_usd": s["cost_usd"],
                    "scored_at": _iso(s["scored_at"]), "metadata": dict(s["metadata"] or {})}
                   for s in score_rows],
        "labels": [e for e in given if e["name"] == REVIEW],
        "feedback": [e for e in given if e["name"] != REVIEW],
    }


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)


# -- routes ----------------------------------------------------------------------------------


def add_production_routes(app: FastAPI, templates: Jinja2Templates) -> None:
    """The production pages and their JSON twins."""
    # JSON as readable text (Jinja's ``tojson`` writes ``\u003c`` for ``<``); autoescaped
    templates.env.filters["pretty"] = _pretty

    def store(request: Request) -> Any:
        return request.app.state.store

    @app.get("/api/production", tags=["production"], summary="Projects with stored traces")
    def api_projects(request: Request) -> list[dict[str, Any]]:
        """Every project, with its number of traces and the newest one's start."""
        return project_list(store(request))

    @app.get("/production", include_in_schema=False, response_class=HTMLResponse)
    def projects_page(request: Request) -> Any:
        return templates.TemplateResponse(request, "production_projects.html",
                                          {"rows": project_list(store(request))})

    def dashboard_data(request: Request, project: str, days: int, before: str | None,
                       limit: int) -> dict[str, Any]:
        try:
            return dashboard_view(store(request), project, days=days, before=before or None,
                                  limit=limit)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/production/{project:path}", tags=["production"],
             summary="A project's production metrics per day, and its newest traces")
    def api_dashboard(request: Request, project: str,
                      days: int = Query(30, ge=1, le=MAX_DAYS, description="Days shown, "
                                        "today (UTC) included."),
                      before: str | None = Query(None, description="Traces after this trace "
                                                 "id (the previous page's last)."),
                      limit: int = Query(50, ge=1, le=500, description="Traces per page.")
                      ) -> dict[str, Any]:
        """Per UTC day: trace volume, thumbs-up, resolution and escalation rates, the mean
        online score of each metric, total cost and latency p95, each with its 95% interval
        and n (``estimate`` is null on a day without data); and a page of traces, newest
        first, ``next`` holding the parameters of the next page."""
        return dashboard_data(request, project, days, before, limit)

    @app.get("/production/{project:path}", include_in_schema=False, response_class=HTMLResponse)
    def dashboard(request: Request, project: str, days: int = Query(30, ge=1, le=MAX_DAYS),
                  before: str | None = None) -> Any:
        view = dashboard_page(dashboard_data(request, project, days, before, 50))
        return templates.TemplateResponse(request, "production.html", view)

    def trace_data(request: Request, project: str, trace_id: str) -> dict[str, Any]:
        try:
            return trace_view(store(request), project, trace_id)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/traces/{project}/{trace_id:path}", tags=["production"],
             summary="One production trace, whole")
    def api_trace(request: Request, project: str, trace_id: str) -> dict[str, Any]:
        """The trace's facts and attributes, its spans as a tree (``children``), its input
        and output messages, online scores, feedback, and human reviews (``labels``)."""
        return trace_data(request, project, trace_id)

    @app.get("/traces/{project}/{trace_id:path}", include_in_schema=False,
             response_class=HTMLResponse)
    def trace_page(request: Request, project: str, trace_id: str) -> Any:
        return templates.TemplateResponse(request, "trace.html",
                                          trace_data(request, project, trace_id))


__all__ = ["FEEDBACK_METRICS", "add_production_routes", "dashboard_page", "dashboard_view",
           "project_list", "recent_traces", "resolve_project", "span_tree", "trace_view"]
