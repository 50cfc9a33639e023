"""Named baselines: set, move, list, delete, and resolving a run by id, prefix or name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from store_helpers import make_run, make_sample

from evalstack.core.errors import UserError
from evalstack.core.records import BaselineRecord, RunRecord
from evalstack.core.text import clean_text
from evalstack.store import Store
from evalstack.store import connect as store_connect
from evalstack.store._rows import sample_to_row
from evalstack.store.tables import VERSION_TABLE
from evalstack.store.tables import samples as samples_table

RunFactory = Callable[..., RunRecord]


def test_set_get_and_list(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    record = store.set_baseline("prod", run.id[:20], note="v1.3 shipped")
    assert isinstance(record, BaselineRecord)
    assert (record.name, record.run_id, record.note) == ("prod", run.id, "v1.3 shipped")
    assert record.created_at.tzinfo == UTC
    assert record.updated_at == record.created_at
    assert store.get_baseline("prod") == record
    store.set_baseline("canary", run.id)
    assert [b.name for b in store.list_baselines()] == ["canary", "prod"]
    assert store.get_baseline("canary").note is None


def test_setting_again_moves_the_name_keeps_created_at_and_replaces_the_note(
    store: Store, run_factory: RunFactory
) -> None:
    old, new = run_factory(), run_factory()
    first = store.set_baseline("prod", old.id, note="old")
    moved = store.set_baseline("prod", new.id)
    assert moved.run_id == new.id and moved.note is None
    assert moved.created_at == first.created_at
    assert moved.updated_at >= first.updated_at
    assert moved.updated_at.tzinfo == UTC
    assert len(store.list_baselines()) == 1


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 65, "baseline:prod", "ünï"])
def test_a_malformed_name_is_refused_saying_what_is_expected(
    store: Store, run_factory: RunFactory, name: str
) -> None:
    run = run_factory()
    with pytest.raises(UserError, match="expected 1-64 characters of letters, digits"):
        store.set_baseline(name, run.id)
    assert store.list_baselines() == []


@pytest.mark.parametrize("name", ["p", "release-1.4", "A_b.c-9", "x" * 64])
def test_well_formed_names(store: Store, run_factory: RunFactory, name: str) -> None:
    assert store.set_baseline(name, run_factory().id).name == name


def test_the_run_must_exist(store: Store, run_factory: RunFactory) -> None:
    run_factory()
    with pytest.raises(UserError, match="No run with id or id prefix 'nope'"):
        store.set_baseline("prod", "nope")
    assert store.list_baselines() == []


def test_an_unknown_baseline_lists_the_known_names_with_did_you_mean(
    store: Store, run_factory: RunFactory
) -> None:
    with pytest.raises(UserError, match="has no baselines yet.*evalstack baseline set"):
        store.get_baseline("prod")
    run = run_factory()
    store.set_baseline("prod", run.id)
    store.set_baseline("staging", run.id)
    with pytest.raises(UserError) as info:
        store.get_baseline("prd")
    message = str(info.value)
    assert "No baseline named 'prd'" in message
    assert "Did you mean 'prod'?" in message
    assert "Known baselines: prod, staging." in message


def test_delete(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    store.set_baseline("prod", run.id)
    store.delete_baseline("prod")
    assert store.list_baselines() == []
    assert store.get_run(run.id) == run  # the run is kept
    with pytest.raises(UserError, match="No baseline named 'prod'"):
        store.delete_baseline("prod")


def test_a_pinned_run_cannot_be_deleted_under_its_baseline(
    store: Store, run_factory: RunFactory
) -> None:
    from evalstack.store.tables import runs

    run = run_factory()
    store.set_baseline("prod", run.id)
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(runs.delete().where(runs.c.id == run.id))
    assert store.get_baseline("prod").run_id == run.id


def test_resolve_run_by_id_prefix_and_name(store: Store, run_factory: RunFactory) -> None:
    a = run_factory(id="01AAAAAAAAAAAAAAAAAAAAAAAA")
    b = run_factory(id="01BBBBBBBBBBBBBBBBBBBBBBBB")
    store.set_baseline("prod", a.id)
    assert store.resolve_run(b.id) == b
    assert store.resolve_run(f"  {b.id.lower()}  ") == b
    assert store.resolve_run("prod") == a
    assert store.resolve_run("baseline:prod") == a
    # a baseline named like a prefix of another run's id: the exact name wins
    store.set_baseline(b.id[:24], a.id)
    assert store.resolve_run(b.id[:24]) == a
    assert store.resolve_run(b.id[:25]) == b  # a prefix that is no baseline name
    # an exact run id wins over a baseline of the same name
    store.set_baseline(b.id, a.id)
    assert store.resolve_run(b.id) == b
    assert store.resolve_run(f"baseline:{b.id}") == a


def test_resolve_run_errors(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    store.set_baseline("prod", run.id)
    with pytest.raises(UserError, match="run id, id prefix or baseline name"):
        store.resolve_run("  ")
    with pytest.raises(UserError) as info:
        store.resolve_run("prdo")
    message = str(info.value)
    assert "No run with id or id prefix 'prdo'" in message
    assert "evalstack runs; nor is 'prdo' a baseline name. Did you mean baseline 'prod'?" in message
    assert "Known baselines: prod." in message
    with pytest.raises(UserError, match="No baseline named 'prdo'.*Did you mean 'prod'"):
        store.resolve_run("baseline:prdo")


def test_resolve_run_with_an_ambiguous_prefix_says_so(store: Store) -> None:
    first = make_run(id="01AAAAAAAAAAAAAAAAAAAAAAA1")
    second = make_run(id="01AAAAAAAAAAAAAAAAAAAAAAA2")
    store.create_run(first)
    store.create_run(second)
    with pytest.raises(UserError, match="ambiguous"):
        store.resolve_run("01AAAA")


def test_baseline_names_and_notes_are_cleaned_text(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    note = "a\x00b\ud800"
    assert store.set_baseline("prod", run.id, note=note).note == clean_text(note) != note


def _alembic_config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(store_connect.MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def test_a_store_at_0001_upgrades_to_baselines_and_keeps_its_runs(store_url: str) -> None:
    engine = store_connect.create_engine(store_connect.resolve_url(store_url))
    run = make_run()
    try:
        with store_connect.write_transaction(engine) as conn:
            command.upgrade(_alembic_config(conn), "0001")
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("baselines")
        # an old evalstack's store, with a run in it (Store() wraps the engine as it is)
        old = Store(engine, store_url)
        old.create_run(run)
        # the sample as 0001 stored it: without the columns later revisions added
        row = sample_to_row(run.id, make_sample("s1"), run.updated_at)
        with store_connect.write_transaction(engine) as conn:
            conn.execute(sa.insert(samples_table), [
                {k: v for k, v in row.items() if not k.startswith("judge_")}])
    finally:
        engine.dispose()
    with Store.open(store_url) as store:
        with store.engine.connect() as conn:
            version = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        assert version == store_connect.packaged_revisions()[-1]
        kept = store.get_run(run.id)  # write_samples moved its updated_at
        assert replace(kept, updated_at=run.updated_at) == run
        assert store.count_samples(run.id) == (1, 0)
        assert store.set_baseline("prod", run.id).run_id == run.id
        assert store.resolve_run("prod").id == run.id
    # and back down, one step at a time: 0003 drops only labels, 0002 only baselines
    engine = store_connect.create_engine(store_connect.resolve_url(store_url))
    try:
        for target, gone, kept in (("0002", "labels", "baselines"), ("0001", "baselines", "runs")):
            with store_connect.write_transaction(engine) as conn:
                command.downgrade(_alembic_config(conn), target)
            with engine.connect() as conn:
                tables = set(sa.inspect(conn).get_table_names())
            assert gone not in tables and {kept, "runs", "samples"} <= tables
    finally:
        engine.dispose()

