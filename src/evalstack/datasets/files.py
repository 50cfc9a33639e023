"""File-backed datasets: JSONL and CSV, streamed from disk.

A file is read once up front to validate every record (so a malformed line is reported as
``file:line`` before any model request) and to hash its bytes; iterating reads it again, so a
50,000-line file is never held in memory as samples.

Text handling: a UTF-8 byte-order mark is dropped, invalid UTF-8 bytes become U+FFFD (and
``invalid_utf8`` is set), and NUL characters and lone surrogates are replaced.
"""

from __future__ import annotations

import abc
import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalstack.core.errors import DataError, EmptyDatasetError
from evalstack.core.types import Sample
from evalstack.datasets.record import FieldMap, record_to_sample


def _open_text(path: Path) -> io.TextIOWrapper:
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


class _FileDataset(abc.ABC):
    suffixes: tuple[str, ...] = ()

    def __init__(self, path: str | Path, *, fields: FieldMap = FieldMap(), name: str | None = None):
        self.path = Path(path)
        self.fields = fields
        self.name = name or self.path.stem
        if not self.path.is_file():
            raise DataError(
                f"Dataset file not found: {self.path}. Expected a path to a "
                f"{'/'.join(self.suffixes)} file."
            )
        self._len = 0
        self._hash = ""
        self.invalid_utf8 = False
        self._validate()

    @abc.abstractmethod
    def _records(self) -> Iterator[tuple[int, Any]]:
        """Yield (line number, parsed record) for each record in the file."""

    def _validate(self) -> None:
        h = hashlib.sha256()
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                if not self.invalid_utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        self.invalid_utf8 = True
        self._hash = h.hexdigest()
        seen: dict[str, int] = {}
        count = 0
        for line, record in self._records():
            sample = record_to_sample(
                record, path=str(self.path), line=line, index=count, fields=self.fields
            )
            if sample.id in seen:
                raise DataError(
                    f"{self.path}:{line}: duplicate sample id {sample.id!r} (first seen on line "
                    f"{seen[sample.id]}). Ids must be unique so results can be matched and resumed."
                )
            seen[sample.id] = line
            count += 1
        self._len = count

    def __iter__(self) -> Iterator[Sample]:
        for index, (line, record) in enumerate(self._records()):
            yield record_to_sample(
                record, path=str(self.path), line=line, index=index, fields=self.fields
            )

    def __len__(self) -> int:
        return self._len

    def fingerprint(self) -> str:
        return self._hash


def jsonl_records(path: Path, example: str, error: type[Exception] = DataError
                  ) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for each non-blank line of a JSON Lines file.

    A BOM is dropped. Invalid JSON raises ``error`` naming the file, line and column, then
    ``example`` (what a line should look like).
    """
    with _open_text(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            text = raw.lstrip("\ufeff").strip()
            if not text:
                continue
            try:
                yield lineno, json.loads(text)
            except json.JSONDecodeError as exc:
                raise error(
                    f"{path}:{lineno}: invalid JSON at column {exc.colno}: {exc.msg}. Each "
                    f"line must be one JSON object, {example}"
                ) from None


class JsonlDataset(_FileDataset):
    """One JSON object per line: ``{"input": ..., "target": ..., "id"?, "choices"?, ...}``.

    Blank lines are skipped. Extra fields become sample metadata (``category`` groups results).
    """

    suffixes = (".jsonl", ".ndjson")

    def _records(self) -> Iterator[tuple[int, Any]]:
        return jsonl_records(self.path, 'e.g. {"input": "2+2=", "target": "4"}. No model '
                             "request was made.")


class CsvDataset(_FileDataset):
    """A CSV file with a header row naming the fields (``input``, ``target``, ...)."""

    suffixes = (".csv",)

    def _records(self) -> Iterator[tuple[int, Any]]:
        with _open_text(self.path) as fh:
            reader = csv.DictReader(fh)
            try:
                for row in reader:
                    cleaned = {k: v for k, v in row.items() if k is not None and v != ""}
                    yield reader.line_num, cleaned
            except csv.Error as exc:
                raise DataError(f"{self.path}:{reader.line_num}: malformed CSV: {exc}.") from None


def load_dataset(path: str | Path, *, fields: FieldMap = FieldMap()) -> _FileDataset:
    """Open a JSONL or CSV dataset by its suffix; an empty one raises ``EmptyDatasetError``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in JsonlDataset.suffixes:
        ds: _FileDataset = JsonlDataset(p, fields=fields)
    elif suffix in CsvDataset.suffixes:
        ds = CsvDataset(p, fields=fields)
    else:
        raise DataError(
            f"Cannot read {p}: expected a .jsonl or .csv file, received a {suffix or 'suffix-less'}"
            f" file."
        )
    if len(ds) == 0:
        raise EmptyDatasetError(f"Dataset {p} has no samples: nothing to evaluate.")
    return ds
