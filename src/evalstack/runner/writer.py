"""Streams finished samples and cache entries to the store from one background thread.

Writes are batched (``write_batch`` rows or ``flush_seconds``, whichever comes first) so the
event loop never waits on the database, and a crash loses at most the last unflushed batch,
which a resumed run simply asks for again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from evalstack.core.records import SampleRecord

_STOP = object()


class SampleSink(Protocol):
    def write_samples(self, run_id: str, records: list[SampleRecord]) -> None: ...

    def cache_put_many(self, items: list[tuple[str, dict[str, Any]]]) -> None: ...


class BatchWriter:
    """A queue drained by a daemon thread into the store."""

    def __init__(self, store: SampleSink, run_id: str, *, batch: int, interval: float,
                 secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.run_id = run_id
        self.batch = batch
        self.interval = interval
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)
        self.error: BaseException | None = None
        self.written = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="evalstack-writer", daemon=True)
        self._thread.start()

    def add_sample(self, record: SampleRecord) -> None:
        self._queue.put(("s", record))

    def add_cache(self, key: str, value: dict[str, Any]) -> None:
        self._queue.put(("c", (key, value)))

    def close(self) -> None:
        """Flush everything and stop; re-raises a write error from the thread."""
        self._queue.put(_STOP)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _redact(self, record: SampleRecord) -> SampleRecord:
        from dataclasses import replace

        changes = {}
        for name in ("output", "error"):
            value = getattr(record, name)
            if value and any(s in value for s in self.secrets):
                for s in self.secrets:
                    value = value.replace(s, "[REDACTED]")
                changes[name] = value
        return replace(record, **changes) if changes else record

    def _flush(self, samples: list[SampleRecord], cache: list[tuple[str, dict[str, Any]]]) -> None:
        if cache:
            self.store.cache_put_many(cache)
        if samples:
            if self.secrets:
                samples = [self._redact(r) for r in samples]
            self.store.write_samples(self.run_id, samples)
            self.written += len(samples)

    def _loop(self) -> None:
        samples: list[SampleRecord] = []
        cache: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + self.interval
        stopping = False
        while not stopping:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
                if item is _STOP:
                    stopping = True
                elif item[0] == "s":
                    samples.append(item[1])
                else:
                    cache.append(item[1])
            except queue.Empty:
                pass
            now = time.monotonic()
            if stopping or len(samples) + len(cache) >= self.batch or now >= deadline:
                if self.error is None:
                    try:
                        self._flush(samples, cache)
                    except BaseException as exc:  # surfaced by close() in the main thread
                        self.error = exc
                samples, cache = [], []
                deadline = now + self.interval
