"""Streams finished samples and cache entries to the store in batches.

Writes happen on the event loop's own thread, a batch at a time (``write_batch`` rows, or
whatever arrived within ``flush_seconds``). A background writer thread was tried first: under
a busy event loop it starved (SQLite releases the GIL for every row it steps, and each
re-acquisition waits out the interpreter's switch interval), fell tens of thousands of rows
behind and held them all in memory. Writing inline keeps memory flat, gives natural
backpressure, and a crash loses at most the last unflushed batch, which a resumed run simply
asks for again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

from evalstack.core.records import SampleRecord
from evalstack.core.redact import redact_text


class SampleSink(Protocol):
    def write_samples(self, run_id: str, records: list[SampleRecord]) -> None: ...

    def cache_put_many(self, items: list[tuple[str, dict[str, Any]]]) -> None: ...


class BatchWriter:
    """Collects records and writes them to the store in batches."""

    def __init__(self, store: SampleSink, run_id: str, *, batch: int, interval: float,
                 secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.run_id = run_id
        self.batch = batch
        self.interval = interval
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)
        self.written = 0
        self._samples: list[SampleRecord] = []
        self._cache: list[tuple[str, dict[str, Any]]] = []
        self._last = time.monotonic()

    def add_sample(self, record: SampleRecord) -> None:
        self._samples.append(record)
        if len(self._samples) >= self.batch or time.monotonic() - self._last >= self.interval:
            self.flush()

    def add_cache(self, key: str, value: dict[str, Any]) -> None:
        self._cache.append((key, value))

    def flush(self) -> None:
        """Write everything collected so far (cache entries first, then samples)."""
        cache, self._cache = self._cache, []
        samples, self._samples = self._samples, []
        self._last = time.monotonic()
        if cache:
            if self.secrets:  # a cached reply is the output a later run would store
                cache = [(key, self._blank(value)) for key, value in cache]
            self.store.cache_put_many(cache)
        if samples:
            samples = [self._redact(r) if self.secrets or r.error else r for r in samples]
            self.store.write_samples(self.run_id, samples)
            self.written += len(samples)

    def close(self) -> None:
        self.flush()

    def _blank(self, value: Any) -> Any:
        """``value`` (JSON) with every known secret value in its strings replaced."""
        if isinstance(value, str):
            for s in self.secrets:
                value = value.replace(s, "[REDACTED]")
            return value
        if isinstance(value, dict):
            return {k: self._blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._blank(v) for v in value]
        return value

    def _redact(self, record: SampleRecord) -> SampleRecord:
        """Known secret values out of the output and the error; and, in the error only,
        whatever ``core.redact`` recognises (a URL's password or ``?key=``, an ``sk-`` key).
        The output is the model's text, scored as it is, so only known values leave it."""
        changes = {}
        for name in ("output", "error"):
            value = getattr(record, name)
            if value and any(s in value for s in self.secrets):
                for s in self.secrets:
                    value = value.replace(s, "[REDACTED]")
                changes[name] = value
        error = changes.get("error", record.error)
        if error:
            masked = redact_text(error)
            if masked != error:
                changes["error"] = masked
        return replace(record, **changes) if changes else record
