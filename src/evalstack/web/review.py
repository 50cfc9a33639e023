"""The viewer's review queue for production traces (``production.review``).

- ``/review/{project}?metric=llm_judge&week=YYYY-MM-DD&labeller=NAME``: the next trace of the
  week's sample (the lowest-scoring and a deterministic random rest) that this labeller has
  not reviewed: its question and answer, never its score (a shown score anchors the
  reviewer), progress, and Good / Bad buttons with an optional note. Without a labeller, a
  form asks for one.
- ``POST /review/{project}``: stores the verdict as a ``review`` feedback event and
  redirects (303) to the next trace. The form carries the viewer's CSRF token, checked as
  the label queue checks it (``web.labels``), on top of the Origin check of
  ``security.Guard``.
- ``/api/review/{project}?...``: the page's data as JSON (no score either).

``{project}`` is a project's id or name; ``week`` is any day of the ISO week (UTC), by
default the current one. Every text is autoescaped: trace content is untrusted.
"""

from __future__ import annotations

import shlex
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from evalstack.core.errors import UserError
from evalstack.production.review import (
    MAX_NOTE_CHARS,
    record_review,
    review_queue,
    reviewed,
    week_bounds,
)
from evalstack.web.labels import _check_csrf, _labeller
from evalstack.web.production import resolve_project

DEFAULT_METRIC = "llm_judge"


def _week(text: str | None) -> date:
    if not text:
        return week_bounds(datetime.now(UTC))[0].date()
    try:
        return week_bounds(date.fromisoformat(text))[0].date()
    except ValueError:
        raise HTTPException(400, f"week must be a date such as 2026-12-07 (any day of the "
                                 f"ISO week); received {text[:40]!r}.") from None


def review_view(store: Any, ref: str, metric: str, week: date, labeller: str
                ) -> dict[str, Any]:
    """The queue page's data: the project, the week, progress and the next trace (no score).

    Raises:
        UserError: an unknown project or metric.
    """
    project = resolve_project(store, ref)
    queue = review_queue(store, project["id"], metric, week, labeller)
    trace = queue.next
    command = (f"evalstack agreement --project {shlex.quote(project['name'])} "
               f"--metric {shlex.quote(metric)}")
    return {
        "project": project, "metric": metric, "labeller": labeller,
        "week_start": queue.week_start.date().isoformat(),
        "week_end": queue.week_end.date().isoformat(),
        "total": len(queue.sample), "reviewed": queue.done,
        "position": queue.done + 1 if trace is not None else queue.done,
        "done": trace is None,
        "trace": None if trace is None else {
            "trace_id": trace.trace_id, "started_at": trace.started_at.isoformat(),
            "question": trace.question, "answer": trace.answer},
        "agreement_command": command,
    }


def add_review_routes(app: FastAPI, templates: Jinja2Templates) -> None:
    """The review queue page, its JSON twin and the form handler (after
    ``add_label_routes``, which makes the CSRF token)."""

    def view(request: Request, project: str, metric: str, week: str | None,
             labeller: str) -> dict[str, Any]:
        try:
            return review_view(request.app.state.store, project, metric, _week(week),
                               _labeller(labeller))
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/review/{project}", tags=["production"],
             summary="The next trace of the week's review sample")
    def api_review(request: Request, project: str, labeller: str,
                   metric: str = Query(DEFAULT_METRIC, description="The online score the "
                                       "sample is drawn by."),
                   week: str | None = Query(None, description="Any day of the ISO week "
                                            "(UTC), YYYY-MM-DD; default this week.")
                   ) -> dict[str, Any]:
        """Progress (``reviewed`` of ``total``) and the next trace this labeller has not
        reviewed (``trace`` is null when done). The score is left out on purpose."""
        return view(request, project, metric, week, labeller)

    @app.get("/review/{project}", include_in_schema=False, response_class=HTMLResponse)
    def review_page(request: Request, project: str, metric: str = DEFAULT_METRIC,
                    week: str | None = None, labeller: str | None = None) -> Any:
        if not (labeller or "").strip():
            try:
                found = resolve_project(request.app.state.store, project)
            except UserError as exc:
                raise HTTPException(404, str(exc)) from None
            return templates.TemplateResponse(request, "review_start.html", {
                "project": found, "metric": metric, "week": _week(week).isoformat()})
        data = view(request, project, metric, week, labeller or "")
        return templates.TemplateResponse(request, "review.html",
                                          {**data, "csrf": request.app.state.csrf})

    @app.post("/review/{project}", include_in_schema=False)
    def save_review(request: Request, project: str, csrf: str = Form(""),
                    metric: str = Form(...), week: str = Form(...),
                    labeller: str = Form(...), trace_id: str = Form(...),
                    verdict: str = Form(...), note: str = Form("")) -> RedirectResponse:
        _check_csrf(request, csrf)
        name = _labeller(labeller)
        if verdict not in ("good", "bad"):
            raise HTTPException(400, f"verdict must be good or bad; received {verdict[:40]!r}.")
        if len(note) > MAX_NOTE_CHARS:
            raise HTTPException(400, f"A note is at most {MAX_NOTE_CHARS} characters.")
        store = request.app.state.store
        monday = _week(week)
        try:
            found = resolve_project(store, project)
            queue = review_queue(store, found["id"], metric, monday, name)
            if trace_id not in queue.sample:
                raise HTTPException(400, f"Trace {trace_id[:80]!r} is not in the review "
                                         f"sample of the week of {monday.isoformat()} on "
                                         f"{metric[:80]!r}; review from the queue page.")
            # a resubmitted form (back button, double click) stores nothing twice
            if trace_id not in reviewed(store, found["id"], name):
                record_review(store, found["id"], trace_id, verdict == "good", name, note)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None
        query = urlencode({"metric": metric, "week": monday.isoformat(), "labeller": name})
        return RedirectResponse(f"/review/{quote(found['id'], safe='')}?{query}",
                                status_code=303)


__all__ = ["add_review_routes", "review_view"]
