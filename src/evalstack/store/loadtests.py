"""Stored load tests: what ``evalstack load`` measured, level by level, and its knee.

One row per load test in the ``load_tests`` table. The levels are the per-level summaries
``load --json`` prints (``runner.load.level_json``: every number with its interval and n),
kept as they were computed so the report and the viewer draw exactly what was printed.

Examples:
    >>> from datetime import UTC, datetime
    >>> from evalstack.store import Store
    >>> with Store.open("sqlite://") as store:
    ...     rec = LoadTestRecord(id="01J", created_at=datetime.now(UTC), task_name="t",
    ...                          model="mock/echo", model_args={}, metric="exact_match",
    ...                          knee=None, settings={}, levels=[], package_version="0")
    ...     save_load_test(store, rec)
    ...     [t.id for t in list_load_tests(store)], get_load_test(store, "01").model
    (['01J'], 'mock/echo')
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa

from evalstack.core.errors import UserError
from evalstack.core.provider import public_args
from evalstack.core.redact import redact_text, redact_value
from evalstack.core.text import clean_text
from evalstack.store import connect, problems
from evalstack.store._rows import to_utc
from evalstack.store.tables import load_tests

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class LoadTestRecord:
    """One stored load test.

    Attributes:
        id: a time-sortable id (``store.new_id``).
        task_name / model: the task and the target (model spec) it was sent to.
        model_args: the target's arguments, secrets dropped (``core.provider.public_args``).
        metric: the score compared across levels.
        knee: the chosen level, or ``None`` when no level qualified.
        settings: ``levels``, ``samples``, ``seconds_limit``, ``slo_ms``, ``alpha``,
            ``timeout``, ``max_retries``, ``retry_time``, ``seed``, ``task_version``.
        levels: one ``runner.load.level_json`` object per level, lowest first.
    """

    id: str
    created_at: datetime
    task_name: str
    model: str
    model_args: dict[str, Any]
    metric: str
    knee: int | None
    settings: dict[str, Any]
    levels: list[dict[str, Any]]
    package_version: str
    git_revision: str | None = None

    @property
    def excluded(self) -> dict[int, list[str]]:
        """Why each level other than the knee could not be it (levels with no reason left out)."""
        return {int(lv["level"]): list(lv["excluded"]) for lv in self.levels
                if isinstance(lv, dict) and lv.get("excluded")}

    def as_report(self) -> dict[str, Any]:
        """The load test in the shape ``evalstack load --json`` prints it."""
        s = self.settings
        return {
            "load_test_id": self.id, "task": self.task_name, "model": self.model,
            "metric": self.metric, "slo_ms": s.get("slo_ms"), "alpha": s.get("alpha", 0.05),
            "seconds_limit": s.get("seconds_limit"),
            "levels": s.get("levels") or [lv.get("level") for lv in self.levels],
            "knee": self.knee, "excluded": {str(k): v for k, v in self.excluded.items()},
            "results": self.levels,
        }

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able data (``created_at`` as ISO 8601)."""
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["excluded"] = {str(k): v for k, v in self.excluded.items()}
        return out


def _guarded(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn(store, ...)`` with database failures worded by ``problems.explain``."""

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            store = args[0]
            if not problems.is_store_failure(exc):
                raise
            raise problems.explain(exc, store._url, store.url) from None  # type: ignore[attr-defined]

    return call


def _to_row(record: LoadTestRecord) -> dict[str, Any]:
    # JSON columns are cleaned by the engine's serializer (connect._json_dumps).
    return {
        "id": record.id, "created_at": to_utc(record.created_at),
        "task_name": clean_text(record.task_name), "model": clean_text(redact_text(record.model)),
        "model_args": redact_value(public_args(record.model_args)),
        "metric": clean_text(record.metric), "knee": record.knee,
        "settings": redact_value(record.settings), "levels": record.levels,
        "package_version": clean_text(record.package_version),
        "git_revision": None if record.git_revision is None else clean_text(record.git_revision),
    }


def _from_row(row: sa.RowMapping) -> LoadTestRecord:
    return LoadTestRecord(
        id=row["id"], created_at=to_utc(row["created_at"]), task_name=row["task_name"],
        model=row["model"], model_args=dict(row["model_args"] or {}), metric=row["metric"],
        knee=row["knee"], settings=dict(row["settings"] or {}),
        levels=list(row["levels"] or []),
        package_version=row["package_version"], git_revision=row["git_revision"],
    )


@_guarded
def save_load_test(store: Any, record: LoadTestRecord) -> None:
    """Insert a load test (strings cleaned, secrets in the target's arguments dropped)."""
    with connect.write_transaction(store.engine) as conn:
        conn.execute(load_tests.insert(), _to_row(record))


@_guarded
def list_load_tests(store: Any, limit: int | None = 200) -> list[LoadTestRecord]:
    """Load tests, newest first."""
    query = sa.select(load_tests).order_by(load_tests.c.created_at.desc(),
                                           load_tests.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(query).mappings()]


@_guarded
def get_load_test(store: Any, ref: str) -> LoadTestRecord:
    """The load test with this id, or the only one whose id starts with this prefix.

    Raises:
        UserError: none matches, or the prefix matches several.
    """
    key = ref.strip()
    if not key:
        raise UserError("Expected a load test id or id prefix, got an empty string.")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(load_tests).where(load_tests.c.id == key)).mappings().first()
        if row is not None:
            return _from_row(row)
        for prefix in dict.fromkeys((key, key.upper())):
            query = sa.select(load_tests).where(
                load_tests.c.id.startswith(prefix, autoescape=True))
            rows = conn.execute(query.order_by(load_tests.c.id.desc()).limit(6)).mappings().all()
            if len(rows) == 1:
                return _from_row(rows[0])
            if rows:
                listing = "; ".join(f"{r['id']} ({r['task_name']} on {r['model']})"
                                    for r in rows[:5])
                raise UserError(f"Load test id prefix {key!r} is ambiguous: it matches "
                                f"{listing}. Give more characters of the id.")
    raise UserError(f"No load test with id or id prefix {key!r} in the store {store.url!r}. "
                    "Stored load tests are listed in the viewer (evalstack view, then Load) "
                    "and at /api/load; `evalstack load` stores one each time it runs.")
