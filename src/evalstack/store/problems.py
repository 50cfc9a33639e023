"""What went wrong with a store, in words: the one place that turns database and file-system
errors into messages naming the path, the cause and the fix.

Two kinds of check live here. Before a SQLite file is opened, ``check_sqlite_file`` looks at
it without changing it (no journal-mode switch, no table made): a missing file for a command
that only reads, a directory, a file that is not SQLite, or another application's database
are refused with a message. After a database call fails, ``explain`` turns the driver's error
(read-only, locked, disk full, I/O error, ...) into a ``StoreError`` without the SQL text or
the values that SQLAlchemy's own message would dump on the terminal.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from evalstack.core.errors import StoreError
from evalstack.store.tables import VERSION_TABLE, metadata

ENV_VAR = "EVALSTACK_STORE"
_SQLITE_HEADER = b"SQLite format 3\x00"
_RETRY_HINT = ("Finished samples are kept: run the same command again to resume.")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or ``None`` (in memory, or not SQLite).

    Examples:
        >>> sqlite_path("sqlite:////tmp/x.db")
        PosixPath('/tmp/x.db')
        >>> sqlite_path("sqlite://") is None, sqlite_path("postgresql://h/db") is None
        (True, True)
    """
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def check_sqlite_file(path: Path, *, create: bool) -> None:
    """Refuse, without touching it, a path that can't be (or must not become) a store.

    Args:
        path: the SQLite file.
        create: whether a missing file may be created (``False`` for commands that only read).

    Raises:
        StoreError: the path is a directory, is missing (when ``create`` is false), is in a
            folder that can't be written, is not a SQLite file, or is another application's
            SQLite database.
    """
    if path.is_dir():
        raise StoreError(
            f"The store path {str(path)!r} is a directory; expected a SQLite file such as "
            f"{str(path / 'evalstack.db')!r}. Pass that with --store (or ${ENV_VAR})."
        )
    if not path.exists():
        if not create:
            raise StoreError(_missing_message(path))
        folder = _existing_parent(path)
        if not folder.is_dir():
            raise StoreError(
                f"Cannot create the store {str(path)!r}: {str(folder)!r} is a file, not a "
                "folder. Choose another path with --store (or "
                f"${ENV_VAR})."
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"Cannot create the store {str(path)!r}: the folder {str(folder)!r} is not "
                "writable by this user. Choose a writable path with --store (or "
                f"${ENV_VAR}), or make the folder writable."
            )
        return
    # The file is read through SQLite only. A plain open() and close() of a file this process
    # already has open in SQLite drops the process's POSIX locks on it (fcntl locks belong to
    # the process, not the descriptor): another process closing its last connection then
    # takes the file for its own, checkpoints and deletes the write-ahead log under us, and
    # our later writes fail with "disk I/O error" or are lost.
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StoreError(
            f"Cannot read the store {str(path)!r}: {exc.strerror}. Check its permissions, or "
            "choose another path with --store."
        ) from None
    if size == 0:
        if not create:
            raise StoreError(
                f"The store {str(path)!r} is an empty file, not an evalstack store: no run "
                "was ever stored there. Check the path, or run `evalstack run` to fill it."
            )
        return
    tables = _table_names(path)
    ours = set(metadata.tables) | {VERSION_TABLE}
    if tables and VERSION_TABLE not in tables and not tables <= ours:
        listed = ", ".join(sorted(tables)[:8]) + (" ..." if len(tables) > 8 else "")
        raise StoreError(
            f"{str(path)!r} is another application's SQLite database (tables: {listed}), not "
            "an evalstack store; it was not changed. Choose another path with --store "
            f"(or ${ENV_VAR})."
        )


def _table_names(path: Path) -> set[str]:
    # Read-only and immutable=0: reads the schema without a journal-mode switch or a write.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error:
        return set()
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise StoreError(_not_sqlite_message(path)) from None
        if "malformed" in str(exc):
            raise StoreError(
                f"{str(path)!r} is not a usable SQLite database ({exc}). It was not changed. "
                "Restore it from a backup, or choose another path with --store."
            ) from None
        return set()  # locked or busy: the real open below says so
    finally:
        conn.close()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def _not_sqlite_message(path: Path) -> str:
    # Only for a file SQLite refused, so no connection of ours holds a lock on it.
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError:
        header = b""
    return (
        f"{str(path)!r} is not an evalstack store: it is not a SQLite database (it starts "
        f"with {header[:12]!r}). It was not changed. --store expects an evalstack store "
        "file (evalstack.db); choose another path."
    )


def _missing_message(path: Path) -> str:
    from evalstack.store.connect import default_store_path

    near = ""
    if path.parent.is_dir():
        stores = sorted(p.name for p in path.parent.glob("*.db"))[:5]
        if stores:
            near = f" Stores in that folder: {', '.join(stores)}."
    default = default_store_path()
    hint = "" if path == default else f" The default store is {str(default)!r}."
    return (
        f"No evalstack store at {str(path)!r}: the file does not exist, and this command only "
        f"reads, so it was not created.{near}{hint} Check --store (or ${ENV_VAR}); "
        "`evalstack run` creates a store when it stores its first run."
    )


def _existing_parent(path: Path) -> Path:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def explain(exc: BaseException, url: str, masked: str) -> StoreError:
    """A ``StoreError`` saying what happened to the store at ``url`` and how to fix it.

    The driver's own message is kept to its first line; the SQL statement and its values
    (which hold model outputs) never reach the message.
    """
    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    low = reason.lower()
    path = sqlite_path(url)
    where = str(path) if path is not None else masked
    if "readonly" in low or "read-only" in low:
        return StoreError(
            f"The store {where!r} is read-only ({_why_read_only(path)}). Make it writable "
            f"(chmod u+w on the file and its folder), or pass another --store. {_RETRY_HINT}"
        )
    if "locked" in low or "busy" in low:
        held = holders(path) if path is not None else []
        who = (f" (processes that have it open: {'; '.join(held)})" if held
               else " (which one could not be identified)")
        from evalstack.store.connect import BUSY_ENV_VAR, busy_timeout

        return StoreError(
            f"The store {where!r} is locked by another process{who}. evalstack waited "
            f"{busy_timeout():g} s for it (${BUSY_ENV_VAR} sets how long). Let that process "
            "finish (or stop it), then run the same command again: finished samples are kept "
            "and the run resumes."
        )
    if "full" in low or "disk i/o" in low or isinstance(orig, OSError) and _is_no_space(orig):
        space = _free_space(path)
        cause = ("the disk is full" if "full" in low or space == "0 B" else
                 "a disk I/O error (the disk, a quota or a file-size limit refused the write)")
        free = f" ({space} free on its disk)" if space else ""
        return StoreError(
            f"Could not write to the store {where!r}: {cause}{free}. Free some space (or "
            f"move the store with --store), then run the same command again. {_RETRY_HINT}"
        )
    if "unable to open" in low and path is not None:
        if path.is_dir():
            return StoreError(f"The store path {where!r} is a directory; expected a SQLite "
                              "file. Pass a file path with --store.")
        folder = _existing_parent(path)
        return StoreError(
            f"Cannot open the store {where!r}: the folder {str(folder)!r} is missing or not "
            f"writable by this user. Choose a writable path with --store (or ${ENV_VAR})."
        )
    if "not a database" in low or "malformed" in low:
        return StoreError(
            f"The store {where!r} is damaged or not a SQLite database ({reason}). Restore it "
            "from a backup, or pass another --store."
        )
    return StoreError(
        f"The store {where!r} failed: {reason}. Check that it is reachable and writable "
        f"(--store or ${ENV_VAR}). {_RETRY_HINT}"
    )


def is_store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the database or the file system failing (locked, read-only, full,
    unreachable, damaged), which ``explain`` words, rather than a statement that broke a
    constraint, which is a caller's error and propagates as it is."""
    if isinstance(exc, OSError | sa.exc.OperationalError):
        return True
    return type(exc) is sa.exc.DatabaseError


def _why_read_only(path: Path | None) -> str:
    if path is None:
        return "the database refused a write"
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not os.access(path, os.W_OK):
        return f"the file's mode is {stat.filemode(mode)}"
    if not os.access(path.parent, os.W_OK):
        return f"its folder {str(path.parent)!r} is not writable"
    return "the file system or the database refused a write"


def _is_no_space(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _free_space(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        free: float = shutil.disk_usage(_existing_parent(path)).free
    except OSError:
        return ""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if free < 1024 or unit == "TB":
            return f"{free:.0f} {unit}" if unit == "B" else f"{free:.1f} {unit}"
        free /= 1024
    return ""


def holders(path: Path) -> list[str]:
    """Other processes that have the SQLite file (or its WAL) open, as ``pid N (command)``.

    Linux only (it reads ``/proc``); processes of other users that can't be inspected, and
    other systems, give an empty list.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    try:
        target = path.resolve()
    except OSError:
        return []
    names = {str(target), f"{target}-wal"}
    found: list[str] = []
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link in names:
                found.append(f"pid {entry.name} ({_command(entry)})")
                break
        if len(found) >= 3:
            break
    return found


def _command(entry: Path) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return "?"
    text = " ".join(" ".join(part.decode(errors="replace").split())
                    for part in raw.split(b"\0") if part)
    from evalstack.core.redact import redact_text

    text = redact_text(text)
    return text[:80] + ("..." if len(text) > 80 else "")
