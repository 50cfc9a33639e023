"""The run lease: one live process writes a run; a second one with the same settings waits.

Without it, the same command started twice at once attaches both processes to one run and
every prompt is asked twice. The lease is a row in the store keyed by the run's fingerprint
(``Store.acquire_lease``), taken before the run is looked up or made, renewed by a background
thread while the run works, and deleted when it ends. A holder that dies without deleting it
is recognised at once on the same host (its pid is gone) and otherwise when the lease lapses
(``TTL_S`` after its last renewal).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from evalstack.core.errors import EvalstackError, RunBusyError
from evalstack.core.records import LeaseRecord

TTL_S = 60.0  # a lease lapses this long after its last renewal
RENEW_S = 15.0  # how often the holder renews it
POLL_S = 1.0  # how often a waiting process looks again
REMIND_S = 60.0  # how often a waiting process says it is still waiting


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _command_line() -> str:
    from evalstack.core.redact import redact_text

    text = " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]])
    return redact_text(text)[:500]


def describe(holder: LeaseRecord) -> str:
    """Who holds a lease, in words: pid, host, since when, the command and the run."""
    since = holder.acquired_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    run = f" writing run {holder.run_id}" if holder.run_id else ""
    command = f" ({holder.command})" if holder.command else ""
    return f"pid {holder.pid} on {holder.host}{command}{run}, since {since}"


class RunLease:
    """This process's claim on one run fingerprint in one store.

    Examples:
        >>> import asyncio
        >>> from evalstack.store import Store
        >>> with Store.open("sqlite://") as store:
        ...     lease = RunLease(store, "f" * 64)
        ...     asyncio.run(lease.acquire(wait=False))
        ...     other = RunLease(store, "f" * 64)
        ...     try:
        ...         asyncio.run(other.acquire(wait=False))
        ...     except RunBusyError:
        ...         print("busy")
        ...     lease.release()
        busy
    """

    def __init__(self, store: Any, fingerprint: str, *, label: str = "",
                 notify: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.fingerprint = fingerprint
        self.label = label
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.lost = False
        self._notify = notify or (lambda text: print(text, file=sys.stderr, flush=True))
        self._run_id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self) -> LeaseRecord:
        now = datetime.now(UTC)
        return LeaseRecord(
            fingerprint=self.fingerprint, run_id=self._run_id, owner=self.owner,
            host=self.host, pid=os.getpid(), command=_command_line(), acquired_at=now,
            expires_at=now + timedelta(seconds=TTL_S),
        )

    def _stale(self, holder: LeaseRecord) -> bool:
        return holder.host == self.host and not _pid_alive(holder.pid)

    async def acquire(self, *, wait: bool = True) -> None:
        """Take the lease, waiting (with a message on stderr) while another live process
        holds it; then keep it renewed until ``release``.

        Raises:
            RunBusyError: another process holds it and ``wait`` is false.
        """
        said = 0.0
        while True:
            holder = self.store.acquire_lease(self._record(), stale=self._stale)
            if holder is None:
                break
            what = f"{self.label} " if self.label else ""
            if not wait:
                raise RunBusyError(
                    f"The run {what}is being written by another process: {describe(holder)}. "
                    "Wait for it to finish and run the command again (its samples will be "
                    "reused), or run without --no-wait to wait here."
                )
            now = time.monotonic()
            if now - said >= REMIND_S:
                verb = "Waiting" if not said else "Still waiting"
                self._notify(
                    f"{verb}: the run {what}is being written by another process: "
                    f"{describe(holder)}. This one goes on when it finishes (Ctrl-C to stop; "
                    "--no-wait stops at once)."
                )
                said = now
            await asyncio.sleep(POLL_S)
        self._thread = threading.Thread(target=self._keep, name="evalstack-lease", daemon=True)
        self._thread.start()

    def attach(self, run_id: str) -> None:
        """Record which run the lease covers (shown to anyone who waits for it)."""
        self._run_id = run_id
        self._renew()

    def _renew(self) -> None:
        try:
            expires = datetime.now(UTC) + timedelta(seconds=TTL_S)
            if not self.store.renew_lease(self.fingerprint, self.owner, expires, self._run_id):
                self.lost = True
        except EvalstackError:  # a busy store: try again at the next renewal
            pass

    def _keep(self) -> None:
        while not self._stop.wait(RENEW_S):
            self._renew()

    def release(self) -> None:
        """Stop renewing and delete the lease (best effort: it lapses anyway)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.store.release_lease(self.fingerprint, self.owner)
        except EvalstackError:
            pass
