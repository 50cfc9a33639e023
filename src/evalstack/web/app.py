"""The viewer: a server-rendered web app over the store, with a JSON twin for every page.

``create_app(store_url)`` builds it; ``evalstack view`` serves it with uvicorn. HTML pages
live at ``/runs``...; their JSON twins at ``/api/runs``..., described by the OpenAPI document
at ``/api/openapi.json``. Templates autoescape everything, so model output and dataset text
always render as text, and the Content-Security-Policy (``security.py``) forbids inline
scripts in any case. The interactive API docs page is left out: it loads its scripts from
another site, which the viewer never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import asynccontextmanager
from datetime import date
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from evalstack.core.errors import UserError
from evalstack.web import data
from evalstack.web import load as load_pages
from evalstack.web.arena import add_arena_routes
from evalstack.web.labels import add_label_routes
from evalstack.web.production import add_production_routes
from evalstack.web.review import add_review_routes
from evalstack.web.security import Guard, allowed_hosts

_HERE = resources.files("evalstack.web")
STATUSES = ("running", "completed", "failed", "interrupted")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(_HERE.joinpath("templates")))
    templates.env.autoescape = True  # every template, whatever its name
    templates.env.filters["num"] = _num
    templates.env.filters["x"] = _x
    return templates


def _x(value: Any, width: float = 200.0) -> str:
    """A value in [0, 1] as an x coordinate in an SVG of ``width`` (clamped)."""
    if value is None:
        return "0"
    return f"{max(0.0, min(1.0, float(value))) * width:.1f}"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{float(value):.{digits}f}"


def _date(name: str, text: str | None) -> date | None:
    """A form date (``YYYY-MM-DD``); an empty field means no filter."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{name} must be a date such as 2026-12-01; received "
                                 f"{text[:40]!r}.") from None


def create_app(store_url: str | None = None, *, host: str = "127.0.0.1", port: int = 8765,
               token: str | None = None, allow_hosts: Sequence[str] = ()) -> Any:
    """The viewer as an ASGI app, guarded (``security.Guard``).

    Args:
        store_url: the store to read (default: the configured store).
        host / port: the address it will be served at; the Host check accepts the names this
            machine is reached by there (``security.allowed_hosts``).
        token: the access token, required when ``host`` is not loopback.
        allow_hosts: more accepted Host names, e.g. a reverse proxy's (``--allow-host``).
    """
    from evalstack.store import Store

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.store = Store.open(store_url, create=False)
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="evalstack viewer", version="1", lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=str(_HERE.joinpath("static"))), name="static")
    templates = _templates()

    def runs_data(request: Request, task: str | None, model: str | None, status: str | None,
                  since: str | None, sort: str | None) -> list[dict[str, Any]]:
        return data.list_runs(request.app.state.store, task=task or None, model=model or None,
                              status=status or None, since=_date("since", since),
                              sort=sort or None)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/runs", status_code=303)

    @app.get("/api/runs", tags=["runs"], summary="Runs, newest first, filtered and sorted")
    def api_runs(request: Request,
                 task: str | None = Query(None, description="Only runs of this task."),
                 model: str | None = Query(None, description="Only runs of this model."),
                 status: str | None = Query(None, description="running, completed, ..."),
                 since: str | None = Query(None, description="Runs created on or after this "
                                           "date (YYYY-MM-DD)."),
                 sort: str | None = Query(None, description="A metric to sort by, best first.")
                 ) -> list[dict[str, Any]]:
        """The runs page as JSON: each run with its metrics' estimates and 95% intervals."""
        return runs_data(request, task, model, status, since, sort)

    @app.get("/runs", include_in_schema=False, response_class=HTMLResponse)
    def runs_page(request: Request, task: str | None = None, model: str | None = None,
                  status: str | None = None, since: str | None = None,
                  sort: str | None = None) -> Any:
        rows = runs_data(request, task, model, status, since, sort)
        return templates.TemplateResponse(request, "runs.html", {
            "rows": rows, "metrics": data.metric_names(rows), "statuses": STATUSES,
            "filters": {"task": task or "", "model": model or "", "status": status or "",
                        "since": since or "", "sort": sort or ""},
        })

    def run_data(request: Request, run_id: str, after_id: str | None, after_epoch: int | None,
                 category: str | None, errors: str | None, limit: int,
                 score: str | None = None) -> dict[str, Any]:
        after = (after_id, after_epoch if after_epoch is not None else 0) if after_id else None
        only = {"only": True, "none": False}.get(errors or "")
        try:
            rule = data.score_filter(score)
        except ValueError as exc:
            raise HTTPException(400, f"score: {exc}.") from None
        try:
            return data.run_view(request.app.state.store, run_id, after=after, limit=limit,
                                 category=category or None, errors=only, score=rule)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/runs/{run_id}", tags=["runs"], summary="One run and a page of its samples")
    def api_run(request: Request, run_id: str,
                after_id: str | None = Query(None, description="Page after this sample id."),
                after_epoch: int | None = Query(None, description="... and this epoch."),
                category: str | None = Query(None, description="Only this category."),
                errors: str | None = Query(None, description="'only' or 'none'."),
                score: str | None = Query(None, description="e.g. exact_match<1 or "
                                                            "llm_judge>=0.75"),
                limit: int = Query(50, ge=1, le=500, description="Samples per page.")
                ) -> dict[str, Any]:
        """The run page as JSON: spec, metrics and categories with intervals, latency, cost,
        and one page of samples; ``next`` holds the parameters of the next page."""
        return run_data(request, run_id, after_id, after_epoch, category, errors, limit, score)

    @app.get("/runs/{run_id}", include_in_schema=False, response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, after_id: str | None = None,
                 after_epoch: int | None = None, category: str | None = None,
                 errors: str | None = None, score: str | None = None) -> Any:
        view = run_data(request, run_id, after_id, after_epoch, category, errors, 50, score)
        return templates.TemplateResponse(request, "run.html", {
            **view, "filters": {"category": category or "", "errors": errors or "",
                                "score": score or ""},
        })

    def sample_data(request: Request, run_id: str, sample_id: str, epoch: int
                    ) -> dict[str, Any]:
        try:
            return data.sample_view(request.app.state.store, run_id, sample_id, epoch)
        except (UserError, LookupError) as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/runs/{run_id}/sample", tags=["samples"], summary="One sample, whole")
    def api_sample(request: Request, run_id: str,
                   id: str = Query(..., description="The sample id."),  # noqa: A002
                   epoch: int = Query(1, ge=1, description="The epoch (1-based).")
                   ) -> dict[str, Any]:
        """Prompt, messages, output, target, every score with its explanation (a judge's
        rationale), latency, tokens, attempts and errors."""
        return sample_data(request, run_id, id, epoch)

    @app.get("/runs/{run_id}/sample", include_in_schema=False, response_class=HTMLResponse)
    def sample_page(request: Request, run_id: str, id: str, epoch: int = 1) -> Any:  # noqa: A002
        view = sample_data(request, run_id, id, epoch)
        return templates.TemplateResponse(request, "sample.html", view)

    def compare_data(request: Request, runs: list[str], allow_mismatch: bool,
                     allow_judge_mismatch: bool) -> dict[str, Any]:
        try:
            return data.compare_view(request.app.state.store, runs,
                                     allow_mismatch=allow_mismatch,
                                     allow_judge_mismatch=allow_judge_mismatch)
        except UserError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/api/compare", tags=["compare"], summary="Paired comparison of runs")
    def api_compare(request: Request,
                    runs: list[str] = Query(..., description="Two or more run ids; each is "
                                                             "compared with the first."),
                    allow_mismatch: bool = Query(False, description="Match runs of different "
                                                                    "tasks or data by id."),
                    allow_judge_mismatch: bool = Query(False, description="Compare judged "
                                                       "metrics even if the judges differ.")
                    ) -> dict[str, Any]:
        """What `evalstack compare` reports: deltas with intervals and paired tests, per
        category (Holm-corrected), flipped samples, and a verdict."""
        return compare_data(request, runs, allow_mismatch, allow_judge_mismatch)

    @app.get("/compare", include_in_schema=False, response_class=HTMLResponse)
    def compare_page(request: Request, runs: list[str] = Query(default=[]),
                     allow_mismatch: bool = False, allow_judge_mismatch: bool = False) -> Any:
        chosen = [r for r in runs if r]
        view = compare_data(request, chosen, allow_mismatch, allow_judge_mismatch) \
            if len(chosen) >= 2 else {"runs": chosen, "comparisons": []}
        recent = data.list_runs(request.app.state.store, limit=50)
        return templates.TemplateResponse(request, "compare.html", {**view, "recent": recent})

    @app.get("/api/compare/sample", tags=["compare"], summary="One sample in two runs")
    def api_side_by_side(request: Request, a: str, b: str,
                         id: str = Query(..., description="The sample id."),  # noqa: A002
                         epoch: int = Query(1, ge=1)) -> dict[str, Any]:
        """Both runs' exchange for one sample, to look at a flip."""
        try:
            return data.side_by_side(request.app.state.store, a, b, id, epoch)
        except (UserError, LookupError) as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/compare/sample", include_in_schema=False, response_class=HTMLResponse)
    def side_by_side_page(request: Request, a: str, b: str, id: str,  # noqa: A002
                          epoch: int = 1) -> Any:
        view = api_side_by_side(request, a, b, id, epoch)
        return templates.TemplateResponse(request, "side_by_side.html", view)

    @app.get("/api/load", tags=["load"], summary="Load tests, newest first")
    def api_load_tests(request: Request) -> list[dict[str, Any]]:
        """Every stored `evalstack load`: task, target, levels, samples, SLO and the knee."""
        return load_pages.load_list(request.app.state.store)

    @app.get("/load", include_in_schema=False, response_class=HTMLResponse)
    def load_tests_page(request: Request) -> Any:
        rows = load_pages.load_list(request.app.state.store)
        return templates.TemplateResponse(request, "load_tests.html", {"rows": rows})

    def load_test_data(request: Request, test_id: str) -> dict[str, Any]:
        try:
            return load_pages.load_view(request.app.state.store, test_id)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/load/{test_id}", tags=["load"], summary="One load test, level by level")
    def api_load_test(request: Request, test_id: str) -> dict[str, Any]:
        """Per level: throughput, latency p50/p95/p99, error and timeout rates, quality and
        its paired difference with the lowest level, each with its 95% interval and n; the
        knee and why the other levels were excluded; the settings. ``report`` is the test in
        the shape `evalstack load --json` printed it."""
        return load_test_data(request, test_id)

    @app.get("/load/{test_id}", include_in_schema=False, response_class=HTMLResponse)
    def load_test_page(request: Request, test_id: str) -> Any:
        view = load_pages.load_page(load_test_data(request, test_id))
        return templates.TemplateResponse(request, "load_test.html", view)

    add_label_routes(app, templates)
    add_arena_routes(app, templates)  # after the labels: shares their CSRF token and secret
    add_production_routes(app, templates)
    add_review_routes(app, templates)
    return Guard(app, allowed_hosts(host, port, allow_hosts), token)
