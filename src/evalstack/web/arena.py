"""The arena in the viewer: leaderboards of stored battles, and a blind-vote queue fed by
active choice.

- ``/arena``: every arena with its number of battles.
- ``/arena/{name}``: the leaderboard (``analysis.arena.leaderboard``): ratings best first with
  the prompt-resampled 95% interval (thick bar) and the battle-resampling one (thin bar), rank
  ranges, W-L-T, flagged battles by reason, the verdict, and the predicted win-rate matrix as
  a heat map drawn in SVG attributes (the Content-Security-Policy forbids inline styles).
- ``/arena/{name}/vote?labeller=NAME``: the pair active choice ranks first
  (``analysis.arena.next_battles``) that still has a prompt both contestants' latest runs
  answered and this labeller has not voted on; the two answers (every turn) are shown in an
  order derived from the server's secret. The form names neither model nor run: it carries
  an HMAC tag of the pair, which the server matches against the arena's pairs when the vote
  comes back. Keys (``static/label.js``): ``1`` left, ``2`` right, ``t`` tie, ``b`` both
  bad. A vote is stored as a ``BattleRecord`` decided by the human.

JSON twins: ``/api/arena``, ``/api/arena/{name}`` (``Leaderboard.to_dict()``) and
``/api/arena/{name}/next``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from evalstack.core.errors import UserError
from evalstack.core.text import clean_text
from evalstack.store.battles import (
    BattleRecord,
    add_battles,
    battle_key,
    list_arenas,
    list_battles,
)
from evalstack.web.labels import _check_csrf, _labeller

#: Bootstrap samples behind the viewer's leaderboard (the CLI's default is 1000).
VIEWER_BOOT = 300
#: What the vote form's ``choice`` may be, and the outcome a non-positional one stores.
CHOICES = ("left", "right", "tie", "bad")
#: Battles per pair that active choice is asked to plan when the queue picks the next pair.
QUEUE_LOOKAHEAD = 8


def _natural(pid: str) -> tuple[int, str]:
    return (int(pid), "") if pid.isdigit() else (1 << 62, pid)


def _fill(p: float) -> tuple[str, str]:
    """A heat-map cell's colour for win rate ``p`` (blue above one half, red below) and a
    text colour that stays readable on it."""
    t = min(1.0, abs(p - 0.5) * 2.0)
    far = (31, 74, 168) if p >= 0.5 else (161, 25, 43)
    rgb = [round(255 + (c - 255) * t) for c in far]
    return "#" + "".join(f"{c:02x}" for c in rgb), ("#ffffff" if t > 0.55 else "#1d2430")


def heat_map(names: Sequence[str], win_rate: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The win-rate matrix laid out for the SVG in ``arena.html``: rows and columns in
    leaderboard order, labelled by rank; each cell the predicted chance that the row's
    contestant beats the column's."""
    cell_w, cell_h, left, top = 54, 26, 210, 24
    cells = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            x, y = left + j * cell_w, top + i * cell_h
            if i == j:
                cells.append({"x": x, "y": y, "fill": "#eef1f6", "ink": "#667", "text": "–",
                              "title": a, "diagonal": True})
                continue
            p = float(win_rate[a][b])
            fill, ink = _fill(p)
            cells.append({"x": x, "y": y, "fill": fill, "ink": ink, "text": f"{p:.2f}",
                          "title": f"{a} beats {b}: {p:.3f}", "diagonal": False})
    return {
        "cells": cells, "cell_w": cell_w, "cell_h": cell_h, "left": left, "top": top,
        "width": left + cell_w * len(names) + 2, "height": top + cell_h * len(names) + 2,
        "rows": [{"y": top + i * cell_h + cell_h / 2 + 4, "label": f"#{i + 1} {n}"[:30],
                  "title": n} for i, n in enumerate(names)],
        "cols": [{"x": left + j * cell_w + cell_w / 2, "label": f"#{j + 1}", "title": n}
                 for j, n in enumerate(names)],
    }


def _bars(rows: Sequence[Any]) -> list[dict[str, float]]:
    """Each row's rating and both intervals as fractions of one shared axis."""
    lows = [min(r.ci_low, r.battle_ci_low, r.rating) for r in rows]
    highs = [max(r.ci_high, r.battle_ci_high, r.rating) for r in rows]
    lo, hi = min(lows), max(highs)
    pad = max((hi - lo) * 0.05, 1.0)
    lo, hi = lo - pad, hi + pad

    def f(v: float) -> float:
        return float((v - lo) / (hi - lo))

    return [{"estimate": f(r.rating), "ci_low": f(r.ci_low), "ci_high": f(r.ci_high),
             "b_low": f(r.battle_ci_low), "b_high": f(r.battle_ci_high)} for r in rows]


@dataclass(frozen=True, slots=True)
class _Offer:
    """The battle the queue offers: contestants ``a`` and ``b`` on one prompt."""

    a: str
    b: str
    run_a: str
    run_b: str
    prompt_id: str
    answer_a: Any
    answer_b: Any


def latest_runs(battles: Sequence[BattleRecord]) -> dict[str, str]:
    """Each contestant's latest run (run ids are time-sortable) among its stored battles."""
    out: dict[str, str] = {}
    for r in battles:
        for name, run in ((r.model_a, r.run_a), (r.model_b, r.run_b)):
            if run and (name not in out or run > out[name]):
                out[name] = run
    return out


class _Answers:
    """The contestants' answers by prompt id, read from the store once per request."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.cache: dict[str, dict[str, Any]] = {}

    def __call__(self, run_id: str) -> dict[str, Any]:
        if run_id not in self.cache:
            from evalstack.runner.arena import collect_answers

            self.cache[run_id] = collect_answers(self.store, run_id)
        return self.cache[run_id]


def _voted(battles: Sequence[BattleRecord], labeller: str) -> set[tuple[frozenset[str], str]]:
    name = clean_text(labeller)
    return {(frozenset((r.model_a, r.model_b)), r.prompt_id) for r in battles
            if r.decided_by == "human" and r.labeller == name}


def _by_share(picks: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Distinct pairs, the one active choice picks most often first (then first picked).

    A labeller gives one vote at a time, so the queue wants the pair that most of the next
    battles would go to. Taking the first pick instead would sometimes offer one of
    ``next_pairs``'s few uniformly random exploration pairs, and, as its seed is fixed, the
    same one on every call.
    """
    count: Counter[frozenset[str]] = Counter(frozenset(p) for p in picks)
    first: dict[frozenset[str], tuple[int, tuple[str, str]]] = {}
    for i, p in enumerate(picks):
        first.setdefault(frozenset(p), (i, p))
    ranked = sorted(first, key=lambda key: (-count[key], first[key][0]))
    return [first[key][1] for key in ranked]


def next_offer(store: Any, battles: Sequence[BattleRecord], labeller: str) -> _Offer | None:
    """The pair active choice picks most often (``_by_share``) that has a prompt both latest
    runs answered and this labeller has not voted on, and that prompt (the first in natural
    order).

    Raises:
        UserError: fewer than two contestants have a stored run.
    """
    from evalstack.analysis.arena import next_battles

    runs = latest_runs(battles)
    names = sorted(runs)
    if len(names) < 2:
        raise UserError(f"The vote queue needs two contestants with stored runs (battles with "
                        f"run ids); this arena has {len(names)}. Run `evalstack arena run` "
                        f"to answer the prompts with each contestant first.")
    every = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    order = _by_share(next_battles(battles, names, min(QUEUE_LOOKAHEAD * len(every), 400)))
    seen = {frozenset(p) for p in order}
    order += [p for p in every if frozenset(p) not in seen]
    done = _voted(battles, labeller)
    answers = _Answers(store)
    for a, b in order:
        ans_a, ans_b = answers(runs[a]), answers(runs[b])
        pair = frozenset((a, b))
        for pid in sorted(set(ans_a) & set(ans_b), key=_natural):
            if (pair, pid) not in done:
                return _Offer(a, b, runs[a], runs[b], pid, ans_a[pid], ans_b[pid])
    return None


def _transcript(answer: Any) -> list[dict[str, str]]:
    """An answer's turns: each user turn and the contestant's reply to it."""
    return [{"user": u, "reply": r} for u, r in zip(answer.user_turns, answer.replies,
                                                    strict=False)]


def add_arena_routes(app: FastAPI, templates: Jinja2Templates) -> None:
    """The arena pages, their JSON twins and the vote handler (after ``add_label_routes``,
    whose CSRF token and order secret they share)."""

    def secret(request: Request) -> bytes:
        return bytes(request.app.state.order_key)

    def pair_tag(request: Request, arena: str, a: str, run_a: str, b: str, run_b: str) -> str:
        msg = f"arena-pair\0{arena}\0{a}\0{run_a}\0{b}\0{run_b}".encode()
        return hmac.new(secret(request), msg, hashlib.sha256).hexdigest()[:32]

    def left_is_a(request: Request, arena: str, a: str, b: str, prompt_id: str) -> bool:
        msg = f"arena-order\0{arena}\0{a}\0{b}\0{prompt_id}".encode()
        return hmac.new(secret(request), msg, hashlib.sha256).digest()[0] % 2 == 0

    def arenas(request: Request) -> list[dict[str, Any]]:
        return [{"arena": name, "battles": n}
                for name, n in list_arenas(request.app.state.store)]

    def battles_of(request: Request, name: str) -> list[BattleRecord]:
        found = list_battles(request.app.state.store, name)
        if not found:
            known = ", ".join(a["arena"] for a in arenas(request)[:20]) or "none yet"
            raise HTTPException(404, f"No arena named {name!r} has stored battles (arenas: "
                                     f"{known}). Add battles with `evalstack arena run` or "
                                     f"`evalstack arena import`.")
        return found

    def board(request: Request, name: str, boot: int) -> dict[str, Any]:
        from evalstack.analysis.arena import leaderboard

        found = battles_of(request, name)
        try:
            return leaderboard(found, arena=name, n_boot=boot).to_dict()
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get("/api/arena", tags=["arena"], summary="Arenas and their battle counts")
    def api_arenas(request: Request) -> list[dict[str, Any]]:
        """Every arena in the store with its number of battles, largest first."""
        return arenas(request)

    @app.get("/arena", include_in_schema=False, response_class=HTMLResponse)
    def arenas_page(request: Request) -> Any:
        return templates.TemplateResponse(request, "arena_list.html",
                                          {"arenas": arenas(request), "error": None})

    @app.get("/api/arena/{name}", tags=["arena"], summary="An arena's leaderboard")
    def api_board(request: Request, name: str,
                  boot: int = Query(VIEWER_BOOT, ge=10, le=5000,
                                    description="Bootstrap samples behind the intervals.")
                  ) -> dict[str, Any]:
        """What `evalstack arena leaderboard --json` prints: Bradley-Terry ratings with the
        prompt-resampled and the battle-resampled 95% intervals, rank ranges, W-L-T, the
        predicted win rates, flagged battles by reason and the verdict. A 409 when the
        battles cannot be rated (none decided, or groups that never meet)."""
        return board(request, name, boot)

    @app.get("/arena/{name}", include_in_schema=False, response_class=HTMLResponse)
    def board_page(request: Request, name: str, boot: int = Query(VIEWER_BOOT, ge=10,
                                                                   le=5000)) -> Any:
        try:
            view = board(request, name, boot)
        except HTTPException as exc:
            if exc.status_code == 404:
                return templates.TemplateResponse(
                    request, "arena_list.html", {"arenas": arenas(request),
                                                 "error": exc.detail}, status_code=404)
            return templates.TemplateResponse(
                request, "arena.html", {"arena": name, "error": exc.detail, "board": None},
                status_code=exc.status_code)
        from evalstack.analysis.arena import Row

        rows = [Row(**r) for r in view["rows"]]
        names = [r.name for r in rows]
        return templates.TemplateResponse(request, "arena.html", {
            "arena": name, "error": None, "board": view, "boot": boot,
            "bars": _bars(rows), "heat": heat_map(names, view["win_rate"]),
        })

    def offer_view(request: Request, name: str, labeller: str) -> dict[str, Any]:
        store = request.app.state.store
        found = battles_of(request, name)
        view: dict[str, Any] = {"arena": name, "labeller": labeller, "offer": None,
                                "error": None,
                                "voted": sum(1 for r in found if r.decided_by == "human"
                                             and r.labeller == clean_text(labeller))}
        try:
            offer = next_offer(store, found, labeller)
        except UserError as exc:
            view["error"] = str(exc)
            return view
        if offer is None:
            return view
        left, right = ((offer.answer_a, offer.answer_b)
                       if left_is_a(request, name, offer.a, offer.b, offer.prompt_id)
                       else (offer.answer_b, offer.answer_a))
        view["offer"] = {
            "pair": pair_tag(request, name, offer.a, offer.run_a, offer.b, offer.run_b),
            "prompt_id": offer.prompt_id, "category": offer.answer_a.category,
            "user_turns": list(offer.answer_a.user_turns),
            "left": _transcript(left), "right": _transcript(right),
        }
        return view

    @app.get("/api/arena/{name}/next", tags=["arena"], summary="The next blind vote")
    def api_next(request: Request, name: str, labeller: str) -> dict[str, Any]:
        """The battle the vote queue offers this labeller: the pair active choice ranks
        first that still has a prompt to vote on, blind. ``offer`` holds the prompt id,
        the user turns and the two answers as ``left``/``right`` in the hidden order, and
        ``pair``, an opaque tag to post back; it is null when nothing is left, and ``error``
        says why the queue cannot run (fewer than two contestants with runs)."""
        return offer_view(request, name, _labeller(labeller))

    @app.get("/arena/{name}/vote", include_in_schema=False, response_class=HTMLResponse)
    def vote_page(request: Request, name: str, labeller: str | None = None) -> Any:
        if not (labeller or "").strip():
            battles_of(request, name)
            return templates.TemplateResponse(request, "arena_vote.html", {
                "arena": name, "labeller": "", "offer": None, "error": None, "ask": True,
                "voted": 0})
        view = offer_view(request, name, _labeller(labeller))
        return templates.TemplateResponse(request, "arena_vote.html", {
            **view, "ask": False, "csrf": request.app.state.csrf})

    @app.post("/arena/{name}/vote", include_in_schema=False)
    def save_vote(request: Request, name: str, csrf: str = Form(""),
                  labeller: str = Form(...), pair: str = Form(...),
                  prompt_id: str = Form(...), choice: str = Form(...)) -> RedirectResponse:
        _check_csrf(request, csrf)
        who = _labeller(labeller)
        if choice not in CHOICES:
            raise HTTPException(400, f"choice must be one of {', '.join(CHOICES)}; received "
                                     f"{choice[:40]!r}.")
        store = request.app.state.store
        found = battles_of(request, name)
        runs = latest_runs(found)
        match = next(((a, b) for a in runs for b in runs if a != b and hmac.compare_digest(
            pair_tag(request, name, a, runs[a], b, runs[b]), pair)), None)
        if match is None:
            raise HTTPException(409, "This pair is no longer in the queue (a contestant has a "
                                     "newer run, or the viewer restarted); reload the vote "
                                     "page for the current pair.")
        a, b = match
        answers = _Answers(store)
        ans_a, ans_b = answers(runs[a]).get(prompt_id), answers(runs[b]).get(prompt_id)
        if ans_a is None or ans_b is None:
            raise HTTPException(404, f"Prompt {prompt_id[:80]!r} has no answer from both "
                                     f"contestants of this pair.")
        if choice in ("tie", "bad"):
            outcome = choice
        else:
            outcome = "a" if (choice == "left") == left_is_a(request, name, a, b,
                                                              prompt_id) else "b"
        add_battles(store, [BattleRecord(
            arena=name, prompt_id=prompt_id, model_a=a, model_b=b, outcome=outcome,
            decided_by="human", category=ans_a.category, run_a=runs[a], run_b=runs[b],
            labeller=who, len_a=sum(len(t) for t in ans_a.replies),
            len_b=sum(len(t) for t in ans_b.replies), source="viewer",
            key=battle_key("viewer vote", name, who, a, runs[a], b, runs[b], prompt_id),
        )])
        query = urlencode({"labeller": who})
        return RedirectResponse(f"/arena/{quote(name, safe='')}/vote?{query}",
                                status_code=303)
