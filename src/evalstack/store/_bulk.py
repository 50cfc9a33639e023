"""Bulk inserts compiled once, their rows bound without SQLAlchemy's per-row machinery.

A fast run writes a batch of samples (and of cache entries) several times a second. Executed
with a list of dicts, SQLAlchemy processes each row's parameters in Python (a bind-processor
look-up per value), which showed as the largest store cost in profiles. Here the statement is
compiled once per dialect and each row becomes a tuple in the compiled parameter order, with
the same type bind processors (the engine's JSON serializer, SQLite's datetime text)
applied only to the columns that have one; the tuples go to ``exec_driver_sql``, which
hands them to the DBAPI ``executemany`` as they are and still wraps its errors in
SQLAlchemy's exceptions.

Only dialects with positional parameters (SQLite's ``?``) take this path; the others execute
the statement with the rows as dicts (``BulkInsert.fast`` is false).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

Processor = Callable[[Any], Any]
_UNSET = object()


class BulkInsert:
    """One INSERT statement (an upsert too) over ``table``, compiled for ``dialect``."""

    def __init__(self, stmt: Any, table: sa.Table, dialect: sa.Dialect) -> None:
        self.stmt = stmt
        compiled = stmt.compile(dialect=dialect)
        names = compiled.positiontup
        self.fast = bool(dialect.positional and names)
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(names or ())
        # itemgetter of one name returns the value itself, so there is always a second one
        self._get = itemgetter(*self.names, self.names[0]) if self.names else None
        self._procs: list[tuple[int, Processor]] = []
        for i, name in enumerate(self.names):
            proc = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self._procs.append((i, proc))

    def params(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in the compiled order, bound as SQLAlchemy would bind them."""
        get = self._get
        assert get is not None, "a statement without parameters has no rows to bind"
        # The last value each processor saw, and what it made of it: a batch's rows share one
        # timestamp object. Only within this call, so a value changed later is bound anew.
        procs = [(i, proc, [_UNSET, None]) for i, proc in self._procs]
        out = []
        for row in rows:
            values = list(get(row))
            values.pop()  # the repeated first name
            for i, proc, last in procs:
                value = values[i]
                if value is not last[0]:
                    last[0], last[1] = value, proc(value)
                values[i] = last[1]
            out.append(tuple(values))
        return out

    def execute(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (dicts keyed by column name) on ``conn``."""
        if not rows:
            return
        if self.fast:
            conn.exec_driver_sql(self.sql, self.params(rows))
        else:
            conn.execute(self.stmt, list(rows))
