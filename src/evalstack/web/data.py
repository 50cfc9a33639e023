"""What the viewer's pages show, as plain JSON-able data: one function per page.

The HTML pages and their JSON twins (``/api/...``) call the same function, so they always
agree. Nothing here renders HTML.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from evalstack.core.records import RunRecord


def run_row(run: RunRecord) -> dict[str, Any]:
    """One run as the runs page lists it: identity, status, counts and metrics with intervals."""
    summary = run.summary or {}
    metrics = {
        name: {k: m.get(k) for k in ("estimate", "ci_low", "ci_high", "n", "method")}
        for name, m in sorted((summary.get("metrics") or {}).items())
    }
    return {
        "id": run.id,
        "created_at": run.created_at.isoformat(),
        "status": run.status,
        "task": run.task_name,
        "task_version": run.task_version,
        "model": run.model,
        "samples": summary.get("samples"),
        "errors": summary.get("errors"),
        "cost_usd": summary.get("cost_usd"),
        "metrics": metrics,
    }


def list_runs(store: Any, *, task: str | None = None, model: str | None = None,
              status: str | None = None, since: date | None = None, sort: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
    """Runs newest first, filtered; ``sort`` names a metric to order by (best first, runs
    without it last)."""
    runs = store.list_runs(limit=None if since is not None else limit, task=task, model=model,
                           status=status)
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
        runs = [r for r in runs if r.created_at >= start][:limit]
    rows = [run_row(r) for r in runs]
    if sort:
        def key(row: dict[str, Any]) -> tuple[int, float]:
            value = (row["metrics"].get(sort) or {}).get("estimate")
            if value is None or not math.isfinite(value):
                return (1, 0.0)
            return (0, -float(value))

        rows.sort(key=key)
    return rows


def metric_names(rows: list[dict[str, Any]]) -> list[str]:
    """Every metric any listed run has, sorted."""
    return sorted({name for row in rows for name in row["metrics"]})
