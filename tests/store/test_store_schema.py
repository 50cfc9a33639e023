import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from evalstack.core.errors import ConfigError, MissingDependencyError, StoreError, UserError
from evalstack.store import Store
from evalstack.store import connect as store_connect
from evalstack.store.tables import VERSION_TABLE, metadata

SRC = Path(store_connect.__file__).parents[2]


def _alembic_config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(store_connect.MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def test_open_creates_the_schema_from_empty(store_url: str) -> None:
    with Store.open(store_url) as store, store.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert {"runs", "samples", "response_cache", VERSION_TABLE} <= tables
        version = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        assert list(version) == [store_connect.packaged_revisions()[-1]]
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("runs")}
        assert indexes == {
            "ix_runs_fingerprint",
            "ix_runs_created_at",
            "ix_runs_task_name",
            "ix_runs_model",
        }


def test_migration_head_matches_the_table_metadata(store_url: str) -> None:
    # Built step by step by the migrations alone, not by Store.open's fresh-store path.
    engine = store_connect.create_engine(store_connect.resolve_url(store_url))
    try:
        with store_connect.write_transaction(engine) as conn:
            command.upgrade(_alembic_config(conn), "head")
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(ctx, metadata) == []
            assert ctx.get_current_revision() == store_connect.packaged_revisions()[-1]
    finally:
        engine.dispose()


def test_a_fresh_store_is_built_without_alembic_and_alembic_agrees(store_url: str) -> None:
    code = (
        "import sys; from evalstack.store import Store\n"
        f"Store.open({store_url!r}).close()\n"
        "print('alembic' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False", done.stderr
    with Store.open(store_url) as store, store.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(ctx, metadata) == []
        assert ctx.get_current_revision() == store_connect.packaged_revisions()[-1]
    with Store.open(store_url) as store:
        with store_connect.write_transaction(store.engine) as conn:
            command.upgrade(_alembic_config(conn), "head")  # a no-op: already at head
            assert MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_revision() == store_connect.packaged_revisions()[-1]


def test_migrations_form_one_linear_chain_named_by_file() -> None:
    script = ScriptDirectory(str(store_connect.MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
    chain = [rev for rev in script.walk_revisions()][::-1]
    assert chain[0].down_revision is None
    for prev, rev in zip(chain, chain[1:], strict=False):
        assert rev.down_revision == prev.revision
    for rev in chain:
        assert Path(rev.path).name.startswith(f"{rev.revision}_")
    assert store_connect.packaged_revisions() == tuple(rev.revision for rev in chain)


def test_downgrade_to_base_and_reopen_recreates_the_schema(store_url: str) -> None:
    with Store.open(store_url) as store:
        with store_connect.write_transaction(store.engine) as conn:
            command.downgrade(_alembic_config(conn), "base")
        with store.engine.connect() as conn:
            assert not {"runs", "samples"} & set(sa.inspect(conn).get_table_names())
    with Store.open(store_url) as store:
        assert store.list_runs() == []


def test_opening_an_up_to_date_store_is_cheap(store_url: str) -> None:
    Store.open(store_url).close()
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        store = Store.open(store_url)
        timings.append(time.perf_counter() - start)
        store.close()
    assert min(timings) < 0.05, timings


def test_opening_an_up_to_date_store_does_not_import_alembic(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store.open(str(path)).close()
    code = (
        "import sys; from evalstack.store import Store; "
        f"Store.open({str(path)!r}).close(); print('alembic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert out.stdout.strip() == "False"


def test_a_store_from_a_newer_evalstack_is_refused(store_url: str) -> None:
    with Store.open(store_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(UserError, match="newer than this evalstack.*pip install -U evalstack"):
        Store.open(store_url)


def test_sqlite_connections_use_wal_and_the_agreed_pragmas(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "s.db")) as store, store.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("busy_timeout") == 30_000
        assert pragma("foreign_keys") == 1


def test_a_bare_path_becomes_a_sqlite_file_and_its_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.db"
    with Store.open(str(path)) as store:
        assert store.dialect == "sqlite"
        assert store.url == f"sqlite:///{path}"
    assert path.is_file()


def test_the_url_comes_from_the_environment_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-env.db"
    monkeypatch.setenv("EVALSTACK_STORE", str(path))
    with Store.open() as store:
        assert store.url == f"sqlite:///{path}"
    assert path.is_file()


def test_the_default_store_is_in_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("EVALSTACK_STORE", raising=False)
    expected = platformdirs.user_data_path("evalstack") / "evalstack.db"
    assert store_connect.resolve_url(None) == f"sqlite:///{expected}"
    assert store_connect.resolve_url("sqlite:///x.db") == "sqlite:///x.db"


def test_an_unreachable_database_is_a_config_error_with_the_password_masked() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://evals:hunter2@127.0.0.1:1/evals?connect_timeout=2"
    with pytest.raises(ConfigError) as info:
        Store.open(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert "evals:***@127.0.0.1:1/evals" in message


def test_postgresql_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDependencyError, match=r"evalstack\[postgres\]"):
        Store.open("postgresql+psycopg://evals:hunter2@127.0.0.1:1/evals")


def test_an_unknown_database_kind_is_a_config_error_with_the_password_masked() -> None:
    with pytest.raises(ConfigError) as info:
        Store.open("mongodb://evals:hunter2@127.0.0.1/evals")
    assert "hunter2" not in str(info.value)
    assert "evals:***@" in str(info.value)
    assert "postgresql+psycopg://" in str(info.value)


def test_a_store_in_an_unwritable_place_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        Store.open(str(blocker / "sub" / "s.db"))
