"""What the viewer's load-test pages show, as plain JSON-able data, and their charts.

``load_list`` feeds ``/load`` and ``/api/load``; ``load_view`` feeds ``/load/{id}`` and
``/api/load/{id}``, so each page and its JSON twin agree. ``load_page`` adds what only the
HTML page needs: the charts (``web.charts.load_charts``, escaped SVG) and the table's cells.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup


def load_row(test: Any) -> dict[str, Any]:
    """One load test as the list shows it."""
    s = test.settings
    at_knee = next((lv for lv in test.levels if lv.get("level") == test.knee), None)
    return {
        "id": test.id, "created_at": test.created_at.isoformat(), "task": test.task_name,
        "model": test.model, "metric": test.metric, "knee": test.knee,
        "levels": [lv.get("level") for lv in test.levels], "slo_ms": s.get("slo_ms"),
        "samples": max((int(lv.get("n") or 0) for lv in test.levels), default=0),
        "throughput_at_knee": None if at_knee is None else at_knee.get("throughput"),
    }


def load_list(store: Any, limit: int = 200) -> list[dict[str, Any]]:
    """Stored load tests, newest first."""
    from evalstack.store.loadtests import list_load_tests

    return [load_row(t) for t in list_load_tests(store, limit=limit)]


def load_view(store: Any, ref: str) -> dict[str, Any]:
    """One load test: its identity, settings, every level's numbers (each with its interval
    and n, as ``evalstack load --json`` prints them), the knee and the exclusions.

    Raises:
        UserError: no load test (or several) matches ``ref``.
    """
    from evalstack.store.loadtests import get_load_test

    test = get_load_test(store, ref)
    return {**test.to_dict(), "report": test.as_report()}


def load_page(view: dict[str, Any]) -> dict[str, Any]:
    """The HTML page's context: ``view`` plus the charts, table cells and verdict lines."""
    from evalstack.runner.load import LEVEL_COLUMNS, level_cells, verdict_lines
    from evalstack.web.charts import load_charts

    charts = load_charts(view["levels"], view["knee"], metric=view["metric"])
    return {
        **view,
        # the SVG is built with every text escaped (web.charts), so it is safe as markup
        "charts": {name: Markup(svg) for name, svg in charts.items()},  # noqa: S704
        "columns": LEVEL_COLUMNS,
        "rows": [level_cells(lv) for lv in view["levels"]],
        "verdict": verdict_lines(view["report"]),
    }
