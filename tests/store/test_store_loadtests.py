"""Stored load tests: the ``load_tests`` table, its migration from an older store, and
reading tests back by id, prefix and recency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from store_helpers import make_run, upgrade_store_to

from evalstack.core.errors import UserError
from evalstack.store import Store, new_id
from evalstack.store import connect as store_connect
from evalstack.store.loadtests import (
    LoadTestRecord,
    get_load_test,
    list_load_tests,
    save_load_test,
)
from evalstack.store.tables import VERSION_TABLE

_T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _level(level: int, quality: float) -> dict[str, Any]:
    stat = {"estimate": quality, "ci_low": quality - 0.1, "ci_high": quality, "n": 8,
            "method": "wilson"}
    return {"level": level, "n": 8, "quality": stat, "excluded": [] if quality > 0.5 else
            ["quality -0.500 vs lowest level (p=0.01)"]}


def make_test(**overrides: Any) -> LoadTestRecord:
    values: dict[str, Any] = {
        "id": new_id(), "created_at": _T0, "task_name": "echo", "model": "openai/m",
        "model_args": {"base_url": "http://127.0.0.1:1/v1"}, "metric": "exact_match",
        "knee": 2, "settings": {"levels": [1, 2, 4], "slo_ms": 100.0, "alpha": 0.05},
        "levels": [_level(1, 1.0), _level(2, 1.0), _level(4, 0.5)],
        "package_version": "0.1.0", "git_revision": None,
    }
    values.update(overrides)
    return LoadTestRecord(**values)


def test_a_store_at_the_previous_revision_is_upgraded_with_its_runs_kept(
        store_url: str) -> None:
    upgrade_store_to(store_url, "0005", "load_tests")
    with Store.open(store_url) as store:  # the old store, then a run written by 0005's schema
        run = make_run()
        store.create_run(run)
    with Store.open(store_url) as store, store.engine.connect() as conn:
        assert sa.inspect(conn).has_table("load_tests")
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("load_tests")}
        assert indexes == {"ix_load_tests_created_at"}
        version = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        assert version == store_connect.packaged_revisions()[-1]
        assert [r.id for r in store.list_runs()] == [run.id]
        test = make_test()
        save_load_test(store, test)
        assert get_load_test(store, test.id) == test


def test_round_trip_newest_first_and_prefixes(store: Store) -> None:
    old = make_test(id="01JOLD" + "0" * 20, created_at=_T0, knee=None)
    new = make_test(id="01JNEW" + "0" * 20, created_at=_T0 + timedelta(minutes=5),
                    model="http/https://h/ask")
    for test in (old, new):
        save_load_test(store, test)
    assert [t.id for t in list_load_tests(store)] == [new.id, old.id]
    assert [t.id for t in list_load_tests(store, limit=1)] == [new.id]
    back = get_load_test(store, "01jold")  # a prefix, in any case
    assert back == old and back.knee is None
    assert back.excluded == {4: ["quality -0.500 vs lowest level (p=0.01)"]}
    assert back.to_dict()["created_at"] == _T0.isoformat()
    assert back.as_report()["results"] == old.levels
    with pytest.raises(UserError, match="ambiguous"):
        get_load_test(store, old.id[:2])
    with pytest.raises(UserError, match="No load test with id or id prefix 'nope'"):
        get_load_test(store, "nope")
    with pytest.raises(UserError, match="empty"):
        get_load_test(store, " ")


def test_secrets_are_dropped_and_text_made_safe_to_store(store: Store) -> None:
    hostile = "openai/<script>alert(1)</script>\x00\ud800"
    test = make_test(model=hostile, task_name="t\x00", model_args={
        "api_key": "sk-secret", "base_url": "http://user:hunter2@127.0.0.1/v1"},
        settings={"note": "a\x00b", "levels": [1]})
    save_load_test(store, test)
    back = get_load_test(store, test.id)
    assert "\x00" not in back.model and "\ud800" not in back.model
    assert back.model.startswith("openai/<script>")  # stored as given; pages escape it
    assert "\x00" not in back.task_name
    assert "api_key" not in back.model_args and "hunter2" not in str(back.model_args)
    assert "\x00" not in back.settings["note"]
