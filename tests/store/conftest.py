"""Fixtures for the store tests: a store on SQLite, and on PostgreSQL when one is configured.

Set ``EVALSTACK_TEST_POSTGRES_URL`` (``postgresql+psycopg://user:pass@127.0.0.1/db``) to run
every store test on PostgreSQL too; each test then gets its own schema, dropped afterwards.
Without it, only ``test_store_postgres.py`` reports a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_helpers import PG_ENV, make_run, postgres_schema_url

from evalstack.core.records import RunRecord
from evalstack.store import Store

BACKENDS = ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for a new, empty store."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
    else:
        yield from postgres_schema_url(os.environ[PG_ENV])


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as s:
        yield s


@pytest.fixture
def run_factory(store: Store) -> Callable[..., RunRecord]:
    """Create a run in the store and return its record."""

    def create(**overrides: Any) -> RunRecord:
        record = make_run(**overrides)
        store.create_run(record)
        return record

    return create
