"""Human labelling in the viewer: a queue of samples to rate, and blind pairwise voting.

- ``/label?run=RUN&labeller=NAME``: the next sample this labeller has not rated: thumbs up or
  down, a 1-5 rating per rubric criterion, a comment. Keyboard: ``u``/``d`` thumbs, ``1``-``5``
  rate the next criterion, ``c`` comment, ``Ctrl+Enter`` save, ``s`` skip.
- ``/label/pairwise?a=RUN&b=RUN&labeller=NAME``: two outputs for one input, in an order
  the server derives from a secret (the page names no model and carries no hint of which is
  which); ``1``/``2`` prefer left/right, ``t`` tie.

Labels go to the store with the labeller's name and the time (``Store.add_label``), where
``evalstack judge validate`` can use them. Every form carries a CSRF token that the server
checks, on top of the Origin check in ``security.Guard``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from evalstack.core.errors import UserError
from evalstack.core.records import LabelRecord
from evalstack.scorers.judge.rubric import load_rubric
from evalstack.store.battles import BattleRecord, add_battles, battle_key


def _check_csrf(request: Request, given: str | None) -> None:
    expected = request.app.state.csrf
    if not given or not hmac.compare_digest(given, expected):
        raise HTTPException(403, "Forbidden: the form's CSRF token is missing or stale; "
                                 "reload the page and try again.")


def _labeller(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise HTTPException(400, "Give your name as labeller (1-128 characters): labels are "
                                 "stored with who made them.")
    return name


def _next_sample(store: Any, run_id: str, done: set[tuple[str, int]],
                 other: str | None = None) -> Any:
    """The first sample of the run (and of ``other``, if given) not in ``done``."""
    after: tuple[str, int] | None = None
    while True:
        page = store.sample_page(run_id, after=after, limit=200, errors=False)
        for record in page:
            key = (record.sample_id, record.epoch)
            if key in done:
                continue
            if other is not None:
                twin = store.get_sample(other, record.sample_id, record.epoch)
                if twin is None or twin.error is not None:
                    continue
                return record, twin
            return record, None
        if len(page) < 200:
            return None, None
        after = (page[-1].sample_id, page[-1].epoch)


def _vote_battle(store: Any, run_a: Any, run_b: Any, sample_id: str, epoch: int,
                 labeller: str, preference: str, label_id: int | None) -> BattleRecord:
    """A blind pairwise vote as a battle in the arena of run A's task, so the viewer's votes
    are rated with the judged and imported ones. The contestants are named by their model
    specs, as `evalstack arena run` names them (with the run id's tail when both runs are of
    one model)."""
    names = (run_a.model, run_b.model)
    if run_a.model == run_b.model:
        names = (f"{run_a.model}#{run_a.id[-6:]}", f"{run_b.model}#{run_b.id[-6:]}")
    sample_a = store.get_sample(run_a.id, sample_id, epoch)
    sample_b = store.get_sample(run_b.id, sample_id, epoch)

    def length(sample: Any) -> int | None:
        return None if sample is None or sample.output is None else len(sample.output)

    return BattleRecord(
        arena=run_a.task_name, prompt_id=sample_id, model_a=names[0], model_b=names[1],
        outcome=preference, decided_by="human",
        category=None if sample_a is None else sample_a.category,
        run_a=run_a.id, run_b=run_b.id, labeller=labeller, len_a=length(sample_a),
        len_b=length(sample_b), source="viewer",
        key=None if label_id is None else battle_key("viewer label", label_id),
    )


def add_label_routes(app: FastAPI, templates: Jinja2Templates) -> None:
    """The labelling pages, their JSON twins, and the form handlers."""
    app.state.csrf = secrets.token_urlsafe(32)
    app.state.order_key = secrets.token_bytes(32)

    def left_is_a(request: Request, a: str, b: str, sample_id: str, epoch: int) -> bool:
        digest = hmac.new(request.app.state.order_key, f"{a}\0{b}\0{sample_id}\0{epoch}".encode(),
                          hashlib.sha256).digest()
        return digest[0] % 2 == 0

    def rating_queue(request: Request, run: str, labeller: str, rubric: str) -> dict[str, Any]:
        store = request.app.state.store
        try:
            record = store.resolve_run(run)
            criteria = list(load_rubric(rubric).names)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None
        done = store.labelled_keys(record.id, labeller, "rating")
        sample, _ = _next_sample(store, record.id, done)
        total, errored = store.count_samples(record.id)
        return {
            "run": {"id": record.id, "task": record.task_name},
            "labeller": labeller, "rubric": rubric, "criteria": criteria,
            "labelled": len(done), "total": total - errored,
            "sample": None if sample is None else {
                "sample_id": sample.sample_id, "epoch": sample.epoch,
                "input": sample.input, "output": sample.output, "target": sample.target,
            },
        }

    @app.get("/api/label/next", tags=["labels"], summary="The next sample to rate")
    def api_next(request: Request, run: str, labeller: str,
                 rubric: str = Query("default", description="Rubric whose criteria to rate.")
                 ) -> dict[str, Any]:
        """The next sample of RUN this labeller has not rated (``sample`` is null when done)."""
        return rating_queue(request, run, _labeller(labeller), rubric)

    @app.get("/api/labels", tags=["labels"], summary="Stored human labels")
    def api_labels(request: Request, run: str | None = None,
                   kind: str | None = Query(None, description="rating or pairwise")
                   ) -> list[dict[str, Any]]:
        """Labels oldest first, with labeller and time."""
        rows = request.app.state.store.list_labels(run, kind)
        return [{**{k: getattr(r, k) for k in r.__slots__},
                 "created_at": r.created_at.isoformat()} for r in rows]

    @app.get("/label", include_in_schema=False, response_class=HTMLResponse)
    def label_page(request: Request, run: str | None = None, labeller: str | None = None,
                   rubric: str = "default") -> Any:
        if not run or not (labeller or "").strip():
            recent = request.app.state.store.list_runs(limit=50)
            return templates.TemplateResponse(request, "label_start.html",
                                              {"recent": recent, "labeller": labeller or ""})
        view = rating_queue(request, run, _labeller(labeller), rubric)
        return templates.TemplateResponse(request, "label.html",
                                          {**view, "csrf": request.app.state.csrf})

    @app.post("/label", include_in_schema=False)
    async def save_label(request: Request, csrf: str = Form(""), run: str = Form(...),
                         sample_id: str = Form(...), epoch: int = Form(...),
                         labeller: str = Form(...), rubric: str = Form("default"),
                         thumbs: str = Form(""), comment: str = Form(""),
                         skip: str = Form("")) -> RedirectResponse:
        _check_csrf(request, csrf)
        name = _labeller(labeller)
        store = request.app.state.store
        form = await request.form()
        if not skip:
            criteria = load_rubric(rubric).names
            ratings = {}
            for c in criteria:
                value = str(form.get(f"rating_{c}") or "")
                if value:
                    if value not in ("1", "2", "3", "4", "5"):
                        raise HTTPException(400, f"rating_{c} must be 1-5; received {value!r}.")
                    ratings[c] = int(value)
            if thumbs not in ("", "up", "down"):
                raise HTTPException(400, f"thumbs must be up or down; received {thumbs!r}.")
            run_id = store.resolve_run(run).id
            if store.get_sample(run_id, sample_id, epoch) is None:
                raise HTTPException(404, f"Run {run} has no sample {sample_id!r}.")
            store.add_label(LabelRecord(
                run_id=run_id, sample_id=sample_id, epoch=epoch,
                kind="rating", labeller=name, created_at=datetime.now(UTC),
                thumbs={"up": 1, "down": -1}.get(thumbs), ratings=ratings or None,
                comment=comment.strip() or None,
            ))
        query = urlencode({"run": run, "labeller": name, "rubric": rubric})
        return RedirectResponse(f"/label?{query}", status_code=303)

    def pairwise_queue(request: Request, a: str, b: str, labeller: str) -> dict[str, Any]:
        name = _labeller(labeller)
        store = request.app.state.store
        try:
            run_a, run_b = store.resolve_run(a), store.resolve_run(b)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None
        done = store.labelled_keys(run_a.id, name, "pairwise", other_run_id=run_b.id)
        sample_a, sample_b = _next_sample(store, run_a.id, done, other=run_b.id)
        view: dict[str, Any] = {"a": run_a.id, "b": run_b.id, "labeller": name,
                                "labelled": len(done), "sample": None}
        if sample_a is not None:
            left_a = left_is_a(request, run_a.id, run_b.id, sample_a.sample_id, sample_a.epoch)
            left, right = (sample_a, sample_b) if left_a else (sample_b, sample_a)
            view["sample"] = {"sample_id": sample_a.sample_id, "epoch": sample_a.epoch,
                              "input": sample_a.input, "left": left.output,
                              "right": right.output}
        return view

    @app.get("/api/label/pairwise/next", tags=["labels"],
             summary="The next pair to vote on, blind")
    def api_pairwise_next(request: Request, a: str, b: str, labeller: str) -> dict[str, Any]:
        """Two outputs for one input in an order that hides which run wrote which (``left``,
        ``right``); ``sample`` is null when every shared sample has this labeller's vote."""
        return pairwise_queue(request, a, b, labeller)

    @app.get("/label/pairwise", include_in_schema=False, response_class=HTMLResponse)
    def pairwise_page(request: Request, a: str, b: str, labeller: str) -> Any:
        view = pairwise_queue(request, a, b, labeller)
        return templates.TemplateResponse(request, "label_pairwise.html",
                                          {**view, "csrf": request.app.state.csrf})

    @app.post("/label/pairwise", include_in_schema=False)
    def save_preference(request: Request, csrf: str = Form(""), a: str = Form(...),
                        b: str = Form(...), sample_id: str = Form(...), epoch: int = Form(...),
                        labeller: str = Form(...), choice: str = Form(...)
                        ) -> RedirectResponse:
        _check_csrf(request, csrf)
        name = _labeller(labeller)
        if choice not in ("left", "right", "tie"):
            raise HTTPException(400, f"choice must be left, right or tie; received {choice!r}.")
        store = request.app.state.store
        run_a, run_b = store.resolve_run(a), store.resolve_run(b)
        if choice == "tie":
            preference = "tie"
        else:
            left_a = left_is_a(request, run_a.id, run_b.id, sample_id, epoch)
            preference = "a" if (choice == "left") == left_a else "b"
        label = store.add_label(LabelRecord(
            run_id=run_a.id, sample_id=sample_id, epoch=epoch, kind="pairwise", labeller=name,
            created_at=datetime.now(UTC), other_run_id=run_b.id, preference=preference,
        ))
        add_battles(store, [_vote_battle(store, run_a, run_b, sample_id, epoch, name,
                                         preference, label.id)])
        query = urlencode({"a": a, "b": b, "labeller": name})
        return RedirectResponse(f"/label/pairwise?{query}", status_code=303)
