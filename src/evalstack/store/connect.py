"""Opening a store's database: where it is, how SQLite is tuned, and schema upgrades."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from evalstack.core.errors import ConfigError, MissingDependencyError, UserError
from evalstack.store._rows import clean_json
from evalstack.store.tables import VERSION_TABLE

ENV_VAR = "EVALSTACK_STORE"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Execution option that makes a SQLite transaction take the write lock at BEGIN (see below).
WRITE_OPTION = "evalstack_write"
# How long a write waits for another process's lock before it fails with a message.
BUSY_ENV_VAR = "EVALSTACK_BUSY_TIMEOUT"
_DEFAULT_BUSY_TIMEOUT_S = 30.0
# Any constant works; it only has to be the same for every evalstack process.
_PG_MIGRATION_LOCK = 0x6576616C


def busy_timeout() -> float:
    """Seconds a SQLite write waits for a lock: ``$EVALSTACK_BUSY_TIMEOUT``, else 30."""
    text = os.environ.get(BUSY_ENV_VAR, "").strip()
    if not text:
        return _DEFAULT_BUSY_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise ConfigError(
            f"${BUSY_ENV_VAR} is {text!r}; expected seconds to wait for a locked store, a "
            "number between 0 and 86400 (default 30)."
        )
    return value


def default_store_path() -> Path:
    """The default SQLite file: ``platformdirs.user_data_path("evalstack") / "evalstack.db"``."""
    import platformdirs

    return platformdirs.user_data_path("evalstack") / "evalstack.db"


def resolve_url(url: str | None) -> str:
    """The store URL to use: the argument, else ``$EVALSTACK_STORE``, else the default file.

    A bare filesystem path (no ``://``) is taken as a SQLite file; ``:memory:`` is an
    in-memory SQLite database (one shared connection: for tests and examples only).
    """
    if url is None or not url.strip():
        url = os.environ.get(ENV_VAR, "").strip() or None
    if url is None:
        return f"sqlite:///{default_store_path()}"
    if url == ":memory:":
        return "sqlite://"
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: mask by pattern instead
        return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engine(url: str, *, create: bool = True) -> sa.Engine:
    """An engine for ``url``; raises ``ConfigError`` or ``MissingDependencyError`` when unusable.

    A SQLite file is checked first without being changed (``problems.check_sqlite_file``):
    with ``create`` false a missing file is refused rather than made, and a file that is not
    an evalstack store is never touched (not even its journal mode).
    """
    masked = mask_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"Invalid store URL {masked!r}: {exc}. Expected a file path or a URL such as "
            "sqlite:///path/to/evalstack.db or postgresql+psycopg://user:pass@host/db."
        ) from None

    kwargs: dict[str, Any] = {"json_serializer": _json_dumps}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if _is_memory(parsed):
            # One shared connection, or every thread would see its own empty database.
            kwargs["poolclass"] = sa.StaticPool
        else:
            from evalstack.store.problems import check_sqlite_file

            path = Path(parsed.database or "").expanduser()
            check_sqlite_file(path, create=create)
            folder = path.parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot create the folder {str(folder)!r} for the store {masked!r}: "
                    f"{exc.strerror}. Choose a writable path with --store or ${ENV_VAR}."
                ) from None
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout()}
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ImportError as exc:
        if backend == "postgresql":
            raise MissingDependencyError("psycopg", "postgres", "A PostgreSQL store") from None
        raise ConfigError(f"Cannot open store {masked!r}: {exc}.") from None
    except Exception as exc:
        raise ConfigError(
            f"Cannot open store {masked!r}: {exc}. Supported stores are SQLite (a file path "
            "or sqlite:///...) and PostgreSQL (postgresql+psycopg://...)."
        ) from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_dumps(value: Any) -> str:
    # Every JSON column passes through here, so this is where JSON text is made safe to store;
    # the walk over the value happens only when the quick serialization shows it is needed.
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError):  # NaN, infinity or a type JSON does not know
        text = None
    if text is not None and "\\u0000" not in text:
        if text.isascii():
            return text
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:  # a lone surrogate
            pass
    return _ENCODER.encode(clean_json(value))


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so that BEGIN is ours (see _sqlite_on_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout() * 1000)}")
        _ensure_wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()


def _ensure_wal(cur: Any) -> None:
    # WAL mode persists in the file, so it is only switched on once. The switch takes an
    # exclusive lock without consulting the busy handler: when several connections open a new
    # file at once, the losers get "database is locked" at once, so they wait and look again.
    import sqlite3

    deadline = time.monotonic() + busy_timeout()
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for the write lock (SQLite
    # fails it at once with "database is locked"); writers therefore lock at BEGIN, where the
    # busy timeout applies. Readers stay deferred and never block the writer under WAL.
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside a write transaction, committed on success."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        yield conn


@cache
def packaged_revisions() -> tuple[str, ...]:
    """Revision ids of the packaged migrations, oldest first; the last one is the head.

    Migration files are named ``NNNN_<slug>.py`` with revision id ``NNNN`` in one linear
    chain (a test checks this against Alembic's own view), so the head is known without
    importing Alembic, which would cost more than the rest of opening a store.
    """
    files = (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    return tuple(sorted(path.name[:4] for path in files))


def current_revisions(conn: sa.Connection) -> tuple[str, ...]:
    """The revisions recorded in the store's Alembic version table (empty for a new store)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return ()
    return tuple(conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def _check_not_newer(current: tuple[str, ...], masked: str) -> None:
    known = packaged_revisions()
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise UserError(
            f"The store {masked!r} has schema revision {', '.join(unknown)}, newer than this "
            f"evalstack knows (up to {known[-1]}). Upgrade evalstack: pip install -U evalstack"
        )


def upgrade_schema(engine: sa.Engine, masked_url: str) -> None:
    """Bring the schema to the packaged head; cheap when it is already there.

    Raises:
        UserError: the store was written by a newer evalstack.
    """
    with engine.connect() as conn:
        current = current_revisions(conn)
        conn.rollback()
    if current == packaged_revisions()[-1:]:
        return
    _check_not_newer(current, masked_url)
    if not current and _create_fresh(engine):
        return

    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Two processes opening a new database at once must not both create the tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        # Re-read under the lock: another process may have upgraded meanwhile.
        _check_not_newer(current_revisions(conn), masked_url)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _create_fresh(engine: sa.Engine) -> bool:
    """Build an empty database at head directly, as Alembic's docs recommend ("create_all,
    then stamp head"), skipping Alembic's import and its step-by-step migrations.

    Returns False, and leaves the database alone, when it is not empty of evalstack tables
    (a half-made store is left to Alembic). A test checks that the result equals a store built
    by the migrations.
    """
    from evalstack.store.tables import metadata

    version = sa.Table(
        VERSION_TABLE, sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        inspector = sa.inspect(conn)
        if inspector.has_table(VERSION_TABLE) or any(
            inspector.has_table(name) for name in metadata.tables
        ):
            return False
        metadata.create_all(conn)
        version.create(conn)
        conn.execute(version.insert().values(version_num=packaged_revisions()[-1]))
    return True


def connect_error(exc: BaseException, url: str) -> ConfigError:
    """A ``ConfigError`` for a database that could not be reached, password masked."""
    parsed_password = None
    try:
        parsed_password = make_url(url).password
    except Exception:
        pass
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else ""
    if parsed_password:
        reason = reason.replace(str(parsed_password), "***")
    return ConfigError(
        f"Cannot open the evalstack store at {mask_url(url)!r}: {reason}. Check that the "
        f"database is reachable and the URL is right (set it with --store or ${ENV_VAR})."
    )
