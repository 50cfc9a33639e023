"""The run store: runs, their samples and the response cache in SQLite or PostgreSQL."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, get_args

import sqlalchemy as sa

from evalstack.core.errors import EvalstackError, StoreError, UserError
from evalstack.core.records import (
    BaselineRecord,
    LabelRecord,
    LeaseRecord,
    RunRecord,
    SampleRecord,
    ScoreRow,
)
from evalstack.core.results import RunStatus
from evalstack.core.text import clean_text
from evalstack.store import _rows, connect, problems
from evalstack.store._bulk import BulkInsert
from evalstack.store.tables import baselines, labels, response_cache, run_leases, runs, samples

_STATUSES = frozenset(get_args(RunStatus))
_CHUNK = 1000  # rows per query when streaming samples
# One statement, compiled once: the runner looks the cache up many times a second.
_CACHE_QUERY = sa.select(response_cache.c.key, response_cache.c.value).where(
    response_cache.c.key.in_(sa.bindparam("keys", expanding=True))
)
_KEYS_PER_QUERY = 500  # stays under every SQLite build's bound-parameter limit
_SAMPLE_KEY = ("run_id", "sample_id", "epoch")
_BASELINE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
BASELINE_PREFIX = "baseline:"  # ``resolve_run("baseline:prod")`` names a baseline explicitly


class Store:
    """Runs, samples and cached responses, in one SQLite file or a PostgreSQL database.

    The same code serves both. SQLite runs in WAL mode so that one thread (the runner) can
    write while others read. A ``Store`` is safe to share between threads: each call takes
    its own connection from the engine's pool.

    Examples:
        >>> store = Store.open("sqlite://")  # in memory; Store.open() uses the default file
        >>> store.list_runs()
        []
        >>> store.close()
    """

    def __init__(self, engine: sa.Engine, url: str) -> None:
        """Wrap an engine whose schema is already current; use ``Store.open`` instead."""
        self._engine = engine
        self._url = url
        self.url = connect.mask_url(url)
        self._sample_upsert: BulkInsert | None = None
        self._cache_insert: BulkInsert | None = None

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True) -> Store:
        """Open (and create or upgrade) a store.

        Args:
            url: a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``) or a
                plain file path for SQLite. ``None`` uses ``$EVALSTACK_STORE``, else the
                default file ``platformdirs.user_data_path("evalstack") / "evalstack.db"``
                (on Linux ``~/.local/share/evalstack/evalstack.db``).
            create: make the store if it does not exist. Commands that only read pass
                ``False``, so a mistyped path is an error rather than a new empty store.

        Raises:
            ConfigError: the URL is invalid or the database cannot be reached.
            StoreError: the store does not exist (with ``create`` false), the path is a
                directory or another application's database, or it can't be read or written.
            MissingDependencyError: a PostgreSQL URL without psycopg installed.
            UserError: the store's schema is newer than this evalstack.
        """
        resolved = connect.resolve_url(url)
        engine = connect.create_engine(resolved, create=create)
        masked = connect.mask_url(resolved)
        try:
            if not create and engine.dialect.name == "postgresql":
                with engine.connect() as conn:
                    if not connect.current_revisions(conn):
                        raise StoreError(
                            f"The database {masked!r} holds no evalstack store yet, and this "
                            "command only reads, so none was made. Check --store; `evalstack "
                            "run` creates the tables when it stores its first run."
                        )
            connect.upgrade_schema(engine, masked)
        except EvalstackError:
            engine.dispose()
            raise
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            engine.dispose()
            if problems.sqlite_path(resolved) is not None:
                raise problems.explain(exc, resolved, masked) from None
            raise connect.connect_error(exc, resolved) from None
        return cls(engine, resolved)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, for modules that add their own tables."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, record: RunRecord) -> None:
        """Insert a new run.

        Raises:
            ValueError: ``model_args`` holds a secret (a key in ``SECRET_ARG_NAMES``), or the
                status is not a known ``RunStatus``.
        """
        leaked = _rows.secret_keys(record.model_args)
        if leaked:
            raise ValueError(
                f"Refusing to store run {record.id}: model_args contains secret key(s) "
                f"{', '.join(leaked)}. Pass model_args through core.provider.public_args first."
            )
        _check_status(record.status)
        with connect.write_transaction(self._engine) as conn:
            conn.execute(runs.insert(), _rows.run_to_row(record))

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """The run with this id, or the only run whose id starts with this prefix.

        Raises:
            UserError: no run matches, or the prefix matches several runs.
        """
        key = run_id_or_prefix.strip()
        if not key:
            raise UserError("Expected a run id or id prefix, got an empty string.")
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == key)).mappings().first()
            if row is not None:
                return _rows.row_to_run(row)
            for prefix in dict.fromkeys((key, key.upper())):
                query = sa.select(runs).where(runs.c.id.startswith(prefix, autoescape=True))
                rows = conn.execute(query.order_by(runs.c.id.desc()).limit(6)).mappings().all()
                if len(rows) == 1:
                    return _rows.row_to_run(rows[0])
                if rows:
                    listing = "; ".join(
                        f"{r['id']} ({r['task_name']} on {r['model']})" for r in rows[:5]
                    )
                    more = " and more" if len(rows) > 5 else ""
                    raise UserError(
                        f"Run id prefix {key!r} is ambiguous: it matches {listing}{more}. "
                        "Give more characters of the id."
                    )
            recent = conn.execute(
                sa.select(runs.c.id).order_by(runs.c.created_at.desc()).limit(500)
            ).scalars()
            by_prefix = {rid[: len(key)].upper(): rid for rid in recent}
        close = difflib.get_close_matches(key.upper(), list(by_prefix), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(by_prefix[c]) for c in close)}?" if close else ""
        raise UserError(
            f"No run with id or id prefix {key!r} in the store {self.url!r}.{hint} "
            "See the stored runs with: evalstack runs"
        )

    def list_runs(
        self,
        limit: int | None = 50,
        task: str | None = None,
        model: str | None = None,
        status: str | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally filtered by task name, model and status."""
        query = sa.select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if task is not None:
            query = query.where(runs.c.task_name == task)
        if model is not None:
            query = query.where(runs.c.model == model)
        if status is not None:
            query = query.where(runs.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [_rows.row_to_run(r) for r in conn.execute(query).mappings()]

    def find_resumable(self, fingerprint: str) -> RunRecord | None:
        """The newest run with this fingerprint that has not completed, if any."""
        query = (
            sa.select(runs)
            .where(runs.c.fingerprint == fingerprint, runs.c.status != "completed")
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _rows.row_to_run(row)

    def set_status(
        self,
        run_id: str,
        status: str,
        *,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Set a run's status and ``updated_at``.

        ``error`` always replaces the stored error (so ``None`` clears it on resume);
        ``summary`` replaces the stored summary only when given.

        Raises:
            ValueError: unknown status.
            UserError: no run has this id.
        """
        _check_status(status)
        values: dict[str, Any] = {
            "status": status,
            "updated_at": datetime.now(UTC),
            "error": _rows.error_text(error),  # cleaned, secrets masked
        }
        if summary is not None:
            values["summary"] = summary
        with connect.write_transaction(self._engine) as conn:
            result = conn.execute(runs.update().where(runs.c.id == run_id).values(**values))
        if result.rowcount == 0:
            raise UserError(f"No run with id {run_id!r}. See the stored runs with: evalstack runs")

    # -- samples ---------------------------------------------------------------------------

    def write_samples(self, run_id: str, records: Sequence[SampleRecord]) -> None:
        """Store sample records in one transaction, replacing any with the same key.

        The key is (run_id, sample_id, epoch), so a retried sample replaces its errored row.
        Strings (JSON fields included) are cleaned with ``core.text.clean_text``; the run's
        ``updated_at`` is set to now.
        """
        if not records:
            return
        now = datetime.now(UTC)
        rows = [_rows.sample_to_row(run_id, r, now) for r in records]
        upsert = self._sample_upsert
        if upsert is None:
            upsert = self._sample_upsert = BulkInsert(
                _sample_upsert(self._engine.dialect), samples, self._engine.dialect)
        with connect.write_transaction(self._engine) as conn:
            upsert.execute(conn, rows)
            conn.execute(runs.update().where(runs.c.id == run_id).values(updated_at=now))

    def done_keys(self, run_id: str) -> set[tuple[str, int]]:
        """(sample_id, epoch) of every sample of the run stored without an error."""
        query = sa.select(samples.c.sample_id, samples.c.epoch).where(
            samples.c.run_id == run_id, samples.c.error.is_(None)
        )
        with self._engine.connect() as conn:
            return {(sid, epoch) for sid, epoch in conn.execute(query)}

    def iter_samples(self, run_id: str, *, errors: bool | None = None) -> Iterator[SampleRecord]:
        """Stream a run's samples ordered by (sample_id, epoch), a chunk at a time.

        Args:
            errors: ``True`` for errored samples only, ``False`` for successful ones only,
                ``None`` for all.
        """
        for row in self._iter_rows(run_id, list(samples.c), errors=errors):
            yield _rows.row_to_sample(row._mapping)

    def iter_scores(self, run_id: str) -> Iterator[ScoreRow]:
        """Stream what a summary needs of each sample, skipping the large text columns."""
        columns = [getattr(samples.c, name) for name in ScoreRow._fields]
        make = ScoreRow._make  # rows come as tuples in the order of ScoreRow's fields
        for row in self._iter_rows(run_id, columns):
            yield make(row)

    def _iter_rows(
        self, run_id: str, columns: list[Any], *, errors: bool | None = None
    ) -> Iterator[sa.Row[Any]]:
        # Keyset pagination: each chunk is a short query, so no connection or read snapshot is
        # held between chunks (an abandoned iterator leaks nothing and blocks no checkpoint).
        key = sa.tuple_(samples.c.sample_id, samples.c.epoch)
        base = sa.select(*columns).where(samples.c.run_id == run_id)
        if errors is True:
            base = base.where(samples.c.error.is_not(None))
        elif errors is False:
            base = base.where(samples.c.error.is_(None))
        base = base.order_by(samples.c.sample_id, samples.c.epoch).limit(_CHUNK)
        last: tuple[str, int] | None = None
        while True:
            query = base if last is None else base.where(key > sa.tuple_(*last))
            with self._engine.connect() as conn:
                chunk = conn.execute(query).all()
            yield from chunk
            if len(chunk) < _CHUNK:
                return
            last = (chunk[-1]._mapping["sample_id"], chunk[-1]._mapping["epoch"])

    def score_names(self, run_id: str) -> list[str]:
        """Every scorer name that appears in the run's samples, sorted."""
        names: set[str] = set()
        cols = [samples.c.sample_id, samples.c.epoch, samples.c.scores]
        for row in self._iter_rows(run_id, cols):
            names.update(row.scores or ())
        return sorted(names)

    def sample_page(
        self,
        run_id: str,
        *,
        after: tuple[str, int] | None = None,
        limit: int = 50,
        category: str | None = None,
        errors: bool | None = None,
    ) -> list[SampleRecord]:
        """One page of a run's samples ordered by (sample_id, epoch), after the key ``after``.

        Keyset pagination: the cost of a page does not grow with how far into the run it is.
        """
        key = sa.tuple_(samples.c.sample_id, samples.c.epoch)
        query = sa.select(*samples.c).where(samples.c.run_id == run_id)
        if category is not None:
            query = query.where(samples.c.category == category)
        if errors is True:
            query = query.where(samples.c.error.is_not(None))
        elif errors is False:
            query = query.where(samples.c.error.is_(None))
        if after is not None:
            query = query.where(key > sa.tuple_(*after))
        query = query.order_by(samples.c.sample_id, samples.c.epoch).limit(limit)
        with self._engine.connect() as conn:
            return [_rows.row_to_sample(r) for r in conn.execute(query).mappings()]

    def get_sample(self, run_id: str, sample_id: str, epoch: int = 1) -> SampleRecord | None:
        """One stored sample-epoch of a run, or ``None``."""
        query = sa.select(*samples.c).where(
            samples.c.run_id == run_id, samples.c.sample_id == sample_id,
            samples.c.epoch == epoch,
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _rows.row_to_sample(row)

    def count_samples(self, run_id: str) -> tuple[int, int]:
        """(stored sample-epochs, of which errored) for the run."""
        query = sa.select(sa.func.count(), sa.func.count(samples.c.error)).where(
            samples.c.run_id == run_id
        )
        with self._engine.connect() as conn:
            total, errored = conn.execute(query).one()
        return int(total), int(errored)

    # -- human labels ----------------------------------------------------------------------

    def add_label(self, label: LabelRecord) -> LabelRecord:
        """Store a human label (text is cleaned); returns it with its id."""
        comment = clean_text(label.comment) if label.comment is not None else None
        labeller = clean_text(label.labeller)
        row: dict[str, Any] = {
            "run_id": label.run_id, "sample_id": label.sample_id, "epoch": label.epoch,
            "kind": label.kind, "other_run_id": label.other_run_id,
            "preference": label.preference, "thumbs": label.thumbs,
            "ratings": dict(label.ratings) if label.ratings is not None else None,
            "comment": comment, "labeller": labeller, "created_at": label.created_at,
        }
        with connect.write_transaction(self._engine) as conn:
            key = conn.execute(sa.insert(labels).values(**row)).inserted_primary_key
        assert key is not None  # an INSERT of one row always has its primary key
        return dataclasses.replace(label, id=int(key[0]), comment=comment, labeller=labeller)

    def list_labels(self, run_id: str | None = None, kind: str | None = None
                    ) -> list[LabelRecord]:
        """Labels oldest first, of one run (as run A or B) and of one kind if given."""
        query = sa.select(labels).order_by(labels.c.id)
        if run_id is not None:
            query = query.where(sa.or_(labels.c.run_id == run_id,
                                       labels.c.other_run_id == run_id))
        if kind is not None:
            query = query.where(labels.c.kind == kind)
        with self._engine.connect() as conn:
            return [LabelRecord(**{**r, "created_at": _rows.to_utc(r["created_at"])})
                    for r in conn.execute(query).mappings()]

    def labelled_keys(self, run_id: str, labeller: str, kind: str = "rating",
                      other_run_id: str | None = None) -> set[tuple[str, int]]:
        """(sample_id, epoch) this labeller has already labelled in the run."""
        query = sa.select(labels.c.sample_id, labels.c.epoch).where(
            labels.c.run_id == run_id, labels.c.labeller == labeller, labels.c.kind == kind)
        if other_run_id is not None:
            query = query.where(labels.c.other_run_id == other_run_id)
        with self._engine.connect() as conn:
            return {(sid, ep) for sid, ep in conn.execute(query)}

    # -- baselines -------------------------------------------------------------------------

    def set_baseline(self, name: str, run_id: str, note: str | None = None) -> BaselineRecord:
        """Point the baseline ``name`` at a run, creating the name or moving it.

        Moving a name keeps its ``created_at`` and replaces its note (``None`` clears it).

        Args:
            name: 1-64 characters of letters, digits, ``.``, ``_`` and ``-``.
            run_id: the run's id or a unique prefix of it; the full id is stored.
            note: why this run is the baseline.

        Raises:
            UserError: the name is malformed, or no single run matches ``run_id``.
        """
        if not isinstance(name, str) or not _BASELINE_NAME.fullmatch(name):
            raise UserError(
                f"Invalid baseline name {name!r}: expected 1-64 characters of letters, digits, "
                "'.', '_' and '-', such as prod or release-1.4."
            )
        run = self.get_run(run_id)
        now = datetime.now(UTC)
        row = {"name": name, "run_id": run.id, "created_at": now, "updated_at": now,
               "note": None if note is None else clean_text(note)}
        with connect.write_transaction(self._engine) as conn:
            stmt = _dialect_insert(conn.dialect, baselines).values(**row)
            updates = {c: stmt.excluded[c] for c in ("run_id", "updated_at", "note")}
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=updates))
            stored = conn.execute(sa.select(baselines).where(baselines.c.name == name))
            return _row_to_baseline(stored.mappings().one())

    def get_baseline(self, name: str) -> BaselineRecord:
        """The baseline called ``name``.

        Raises:
            UserError: no baseline has this name; the message lists the known names and the
                closest ones.
        """
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(baselines).where(baselines.c.name == name.strip())
            ).mappings().first()
        if row is None:
            raise self._no_baseline(name.strip())
        return _row_to_baseline(row)

    def list_baselines(self) -> list[BaselineRecord]:
        """Every baseline, by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(baselines).order_by(baselines.c.name)).mappings()
            return [_row_to_baseline(r) for r in rows]

    def delete_baseline(self, name: str) -> None:
        """Remove the baseline ``name``; the run it pointed at is kept.

        Raises:
            UserError: no baseline has this name (with did-you-mean).
        """
        with connect.write_transaction(self._engine) as conn:
            result = conn.execute(baselines.delete().where(baselines.c.name == name.strip()))
        if result.rowcount == 0:
            raise self._no_baseline(name.strip())

    def resolve_run(self, ref: str) -> RunRecord:
        """The run that ``ref`` names: a run id, a baseline name, or a unique id prefix.

        An exact run id wins, then an exact baseline name, then an id prefix;
        ``baseline:NAME`` names a baseline explicitly.

        Raises:
            UserError: nothing matches (the message suggests close baseline names and run
                ids), or the prefix matches several runs.
        """
        key = ref.strip()
        if not key:
            raise UserError("Expected a run id, id prefix or baseline name, got an empty string.")
        if key.startswith(BASELINE_PREFIX):
            return self.get_run(self.get_baseline(key[len(BASELINE_PREFIX):]).run_id)
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == key)).mappings().first()
            if row is not None:
                return _rows.row_to_run(row)
            pinned = conn.execute(
                sa.select(baselines.c.run_id).where(baselines.c.name == key)
            ).scalar()
            prefixed = pinned is None and conn.execute(
                sa.select(runs.c.id).where(sa.or_(*(
                    runs.c.id.startswith(p, autoescape=True) for p in {key, key.upper()}
                ))).limit(1)
            ).first() is not None
        if pinned is not None or prefixed:
            return self.get_run(pinned or key)
        try:
            return self.get_run(key)
        except UserError as exc:  # no run matches: say that no baseline does either
            names = [b.name for b in self.list_baselines()]
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
            hint = f" Did you mean baseline {', '.join(repr(c) for c in close)}?" if close else ""
            known = f"Known baselines: {', '.join(names[:30])}." if names else (
                "No baselines are stored; pin one with: evalstack baseline set NAME RUN_ID")
            raise UserError(f"{exc}; nor is {key!r} a baseline name.{hint} {known}") from None

    def _no_baseline(self, name: str) -> UserError:
        names = [b.name for b in self.list_baselines()]
        if not names:
            return UserError(
                f"No baseline named {name!r}: the store {self.url!r} has no baselines yet. "
                "Pin a run with: evalstack baseline set NAME RUN_ID"
            )
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return UserError(
            f"No baseline named {name!r} in the store {self.url!r}.{hint} Known baselines: "
            f"{', '.join(names[:30])}{' and more' if len(names) > 30 else ''}. "
            "See them with: evalstack baseline list"
        )

    # -- run leases ------------------------------------------------------------------------

    def acquire_lease(self, lease: LeaseRecord, *, stale: Any = None) -> LeaseRecord | None:
        """Take the lease on ``lease.fingerprint`` unless another live holder has it.

        Args:
            lease: the would-be holder (its ``expires_at`` is when the lease lapses unless
                renewed).
            stale: ``stale(holder) -> bool``, whether an unexpired holder is known to be gone
                (its process died on this host); by default only expiry frees a lease.

        Returns:
            ``None`` when the lease is now ``lease``'s; otherwise the current holder.
        """
        row = dataclasses.asdict(lease)
        with connect.write_transaction(self._engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:f))"),
                             {"f": lease.fingerprint})
            found = conn.execute(
                sa.select(run_leases).where(run_leases.c.fingerprint == lease.fingerprint)
            ).mappings().first()
            if found is not None:
                holder = _row_to_lease(found)
                gone = holder.expires_at <= lease.acquired_at or (
                    stale is not None and stale(holder))
                if holder.owner != lease.owner and not gone:
                    return holder
                conn.execute(run_leases.delete().where(
                    run_leases.c.fingerprint == lease.fingerprint))
            conn.execute(run_leases.insert().values(**row))
        return None

    def renew_lease(self, fingerprint: str, owner: str, expires_at: datetime,
                    run_id: str | None = None) -> bool:
        """Extend a held lease (and record its run id); ``False`` if ``owner`` lost it."""
        values: dict[str, Any] = {"expires_at": expires_at}
        if run_id is not None:
            values["run_id"] = run_id
        with connect.write_transaction(self._engine) as conn:
            result = conn.execute(run_leases.update().where(
                run_leases.c.fingerprint == fingerprint, run_leases.c.owner == owner,
            ).values(**values))
        return bool(result.rowcount)

    def release_lease(self, fingerprint: str, owner: str) -> None:
        """Give up a lease; a no-op when ``owner`` no longer holds it."""
        with connect.write_transaction(self._engine) as conn:
            conn.execute(run_leases.delete().where(
                run_leases.c.fingerprint == fingerprint, run_leases.c.owner == owner))

    def list_leases(self) -> list[LeaseRecord]:
        """Every lease currently recorded (some may have lapsed)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(run_leases).order_by(run_leases.c.acquired_at))
            return [_row_to_lease(r) for r in rows.mappings()]

    # -- response cache --------------------------------------------------------------------

    def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The cached values for whichever of ``keys`` are present."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        with self._engine.connect() as conn:
            for i in range(0, len(unique), _KEYS_PER_QUERY):
                part = unique[i : i + _KEYS_PER_QUERY]
                for key, value in conn.execute(_CACHE_QUERY, {"keys": part}):
                    found[key] = value
        return found

    def cache_has_prefix(self, prefix: str) -> bool:
        """Whether any cached key starts with ``prefix`` (an index range scan)."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        query = sa.select(response_cache.c.key).where(
            response_cache.c.key >= prefix, response_cache.c.key < upper
        ).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None

    def cache_put_many(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store cached values; a key that is already present keeps its first value."""
        if not items:
            return
        now = datetime.now(UTC)
        rows = [{"key": k, "value": v, "created_at": now} for k, v in items]
        insert = self._cache_insert
        if insert is None:
            dialect = self._engine.dialect
            insert = self._cache_insert = BulkInsert(
                _dialect_insert(dialect, response_cache).on_conflict_do_nothing(),
                response_cache, dialect)
        with connect.write_transaction(self._engine) as conn:
            insert.execute(conn, rows)


def _dialect_insert(dialect: sa.Dialect, table: sa.Table) -> Any:
    """``INSERT`` of the dialect's own kind (PostgreSQL's or SQLite's), for ``ON CONFLICT``."""
    if dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _sample_upsert(dialect: sa.Dialect) -> Any:
    """Insert a sample, replacing the row with the same (run_id, sample_id, epoch)."""
    stmt = _dialect_insert(dialect, samples)
    updates = {c.name: stmt.excluded[c.name] for c in samples.c if c.name not in _SAMPLE_KEY}
    return stmt.on_conflict_do_update(index_elements=list(_SAMPLE_KEY), set_=updates)


def _row_to_baseline(row: sa.RowMapping) -> BaselineRecord:
    return BaselineRecord(
        name=row["name"], run_id=row["run_id"], created_at=_rows.to_utc(row["created_at"]),
        updated_at=_rows.to_utc(row["updated_at"]), note=row["note"],
    )


def _row_to_lease(row: sa.RowMapping) -> LeaseRecord:
    return LeaseRecord(**{**row, "acquired_at": _rows.to_utc(row["acquired_at"]),
                          "expires_at": _rows.to_utc(row["expires_at"])})


_PLAIN = frozenset({"open", "close", "engine", "dialect"})


def _guarded(fn: Any) -> Any:
    """``fn`` with database and file-system failures worded by ``problems.explain``."""
    import functools
    import inspect

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(self: Store, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(self, *args, **kwargs)
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                if not problems.is_store_failure(exc):
                    raise
                raise problems.explain(exc, self._url, self.url) from None
        return gen

    @functools.wraps(fn)
    def call(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            if not problems.is_store_failure(exc):
                raise
            raise problems.explain(exc, self._url, self.url) from None
    return call


for _name, _fn in list(vars(Store).items()):
    if not _name.startswith("_") and _name not in _PLAIN and callable(_fn):
        setattr(Store, _name, _guarded(_fn))


def _check_status(status: str) -> None:
    if status not in _STATUSES:
        raise ValueError(f"Unknown run status {status!r}; expected one of {sorted(_STATUSES)}.")
