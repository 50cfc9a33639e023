"""Record factories and a PostgreSQL scratch schema, shared by the store tests."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from evalstack.core.records import RunRecord, SampleRecord
from evalstack.store import new_id

PG_ENV = "EVALSTACK_TEST_POSTGRES_URL"

_T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
_counter = itertools.count(1)


def make_run(**overrides: Any) -> RunRecord:
    """A complete run record; each call gets a new id and a later creation time."""
    created = _T0 + timedelta(seconds=next(_counter))
    values: dict[str, Any] = {
        "id": new_id(),
        "created_at": created,
        "updated_at": created,
        "status": "running",
        "task_name": "demo",
        "task_version": 2,
        "task_spec": {"name": "demo", "scorers": [{"name": "exact_match", "args": {}}]},
        "model": "mock/echo",
        "model_args": {"temperature": 0.0, "headers": {"x-team": "evals"}},
        "dataset_name": "demo.jsonl",
        "dataset_hash": "ab" * 32,
        "dataset_size": 10,
        "epochs": 1,
        "limit": None,
        "fingerprint": "f" * 64,
        "config": {"max_concurrency": 4},
        "package_version": "0.1.0",
        "git_revision": None,
        "summary": None,
        "error": None,
    }
    values.update(overrides)
    return RunRecord(**values)


def make_sample(sample_id: str = "s1", epoch: int = 0, **overrides: Any) -> SampleRecord:
    """A successful sample record, with any field overridden."""
    values: dict[str, Any] = {
        "sample_id": sample_id,
        "epoch": epoch,
        "input": f"question {sample_id}",
        "target": "4",
        "output": "4",
        "scores": {"exact_match": {"value": 1.0, "kind": "binary", "answer": "4"}},
    }
    values.update(overrides)
    return SampleRecord(**values)


def postgres_schema_url(base: str) -> Iterator[str]:
    """Yield ``base`` pointed at a new schema, and drop the schema afterwards."""
    schema = f"evalstack_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def upgrade_store_to(store_url: str, revision: str, missing_table: str) -> None:
    """Build an empty store at an older migration ``revision``, checking it lacks a table."""
    from alembic import command
    from alembic.config import Config

    from evalstack.store import connect as store_connect

    engine = store_connect.create_engine(store_connect.resolve_url(store_url))
    try:
        with store_connect.write_transaction(engine) as conn:
            config = Config()
            config.set_main_option("script_location", str(store_connect.MIGRATIONS_DIR))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table(missing_table)
    finally:
        engine.dispose()
