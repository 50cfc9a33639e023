"""File-backed datasets: JSONL and CSV, streamed from disk.

A file is read once up front to validate every record (so a malformed line is reported as
``file:line`` before any model request) and to hash its bytes; iterating reads it again, so a
50,000-line file is never held in memory as samples.

Text handling: a UTF-8 byte-order mark is dropped, and NUL characters and lone surrogates are
replaced. Bytes that are not UTF-8 are an error naming the file, line, column, byte offset and
the bytes, never silently turned into U+FFFD. A CSV quote that is never closed (so it swallows
the lines after it) is reported at the line where it opened.
"""

from __future__ import annotations

import abc
import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from evalstack.core.errors import DataError, EmptyDatasetError
from evalstack.core.types import Sample
from evalstack.datasets.record import FieldMap, record_to_sample

DATA_SUFFIXES = (".jsonl", ".ndjson", ".csv")


def not_utf8(path: Path | str, lines: Iterable[bytes], error: type[Exception] = DataError
             ) -> None:
    """Raise ``error`` at the first line of ``lines`` (a file's raw lines) that is not UTF-8.

    The message names the file, the line, the column, the byte offset and the bad bytes, and
    says how to re-save the file as UTF-8.
    """
    offset = 0
    for lineno, raw in enumerate(lines, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(_utf8_message(path, lineno, raw, exc, offset)) from None
        offset += len(raw)


def _utf8_message(path: Path | str, lineno: int, raw: bytes, exc: UnicodeDecodeError,
                  offset: int) -> str:
    if offset == 0 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return (
            f"{path}:1: the file starts with a UTF-16 byte-order mark ({raw[:2]!r}): it is "
            f"UTF-16 text. Expected UTF-8; re-save it as UTF-8 (in most editors: Save As, "
            f"encoding UTF-8), or convert it with: iconv -f UTF-16 -t UTF-8 {path} > "
            f"{Path(path).with_suffix('.utf8' + Path(path).suffix)}. No model request was made."
        )
    column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
    bad = raw[exc.start: exc.end]
    guess = ""
    try:
        line = raw.decode("cp1252").rstrip("\r\n")
    except UnicodeDecodeError:
        pass
    else:
        start = max(0, column - 21)
        snippet = line[start: column + 20]
        guess = (f" Read as Windows-1252 (Latin-1) the text there is {snippet!r}: if that looks "
                 f"right, convert the file with: iconv -f WINDOWS-1252 -t UTF-8 {path} > "
                 f"{Path(path).with_suffix('.utf8' + Path(path).suffix)}.")
    return (
        f"{path}:{lineno}: column {column} (byte offset {offset + exc.start}) is not UTF-8: "
        f"bytes {bad!r} ({exc.reason}). Expected a UTF-8 text file; re-save it as UTF-8 (in "
        f"most editors: Save As, encoding UTF-8).{guess} No model request was made."
    )


def _text_lines(path: Path, error: type[Exception] = DataError) -> Iterator[str]:
    """The file's lines as UTF-8 text (a BOM dropped, newlines kept as written).

    Bytes that are not UTF-8 raise ``error`` naming the line, column and byte offset.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            yield from fh
    except UnicodeDecodeError as exc:
        with open(path, "rb") as raw:
            not_utf8(path, raw, error)
        # the line scan finds what the decoder found; this is only a safety net
        raise error(f"{path}: not UTF-8 text ({exc.reason}). Re-save it as UTF-8.") from None


def _open_text(path: Path) -> io.TextIOBase:
    """The file as text; bytes that are not UTF-8 raise ``DataError`` naming file:line."""
    with open(path, "rb") as fh:
        not_utf8(path, fh)
    return open(path, encoding="utf-8-sig", newline="")


def directory_message(path: Path, expected: str, suffixes: Iterable[str] = DATA_SUFFIXES) -> str:
    """``path is a directory, not a file. Expected ...; it holds a.jsonl, b.csv`` for errors."""
    wanted = tuple(suffixes)
    try:
        inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in wanted)
    except OSError:
        inside = []
    if inside:
        shown = ", ".join(p.name for p in inside[:5]) + (
            f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        hint = f" It holds {shown}: give one of them, e.g. {inside[0]}."
    else:
        hint = f" It holds no {'/'.join(wanted)} file."
    return f"{path} is a directory, not a file. Expected {expected}.{hint}"


class _FileDataset(abc.ABC):
    suffixes: tuple[str, ...] = ()

    def __init__(self, path: str | Path, *, fields: FieldMap = FieldMap(), name: str | None = None):
        self.path = Path(path)
        self.fields = fields
        self.name = name or self.path.stem
        expected = f"a path to a {'/'.join(self.suffixes)} file"
        if self.path.is_dir():
            raise DataError(directory_message(self.path, expected))
        if not self.path.is_file():
            raise DataError(f"Dataset file not found: {self.path}. Expected {expected}.")
        self._len = 0
        self._hash = ""
        self._validate()

    @abc.abstractmethod
    def _records(self) -> Iterator[tuple[int, Any]]:
        """Yield (line number, parsed record) for each record in the file."""

    def _validate(self) -> None:
        h = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
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

    A BOM is dropped. Bytes that are not UTF-8, or invalid JSON, raise ``error`` naming the
    file, line and column, then ``example`` (what a line should look like).
    """
    for lineno, raw in enumerate(_text_lines(path, error), start=1):
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


class _Lines:
    """An iterator of a file's lines that remembers which lines the current CSV row used."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.count = 0
        self.pending: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        self.pending.append(line)
        return line

    def take(self) -> tuple[int, list[str]]:
        """(first line number, raw lines) of the row just read; blank lines before it dropped."""
        lines, self.pending = self.pending, []
        first = self.count - len(lines) + 1
        while len(lines) > 1 and not lines[0].strip():
            lines, first = lines[1:], first + 1
        return first, lines


def _preview(text: str, limit: int = 60) -> str:
    text = text.rstrip("\r\n")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _swallowed(path: Path, header: list[str], first: int, last: int, lines: list[str],
               row: list[str] | None, cause: str) -> DataError:
    """The error for a quote opened on line ``first`` that ran on to line ``last``.

    ``cause`` is ``"eof"`` (never closed), ``"quote"`` (closed by a later line's quote) or the
    csv module's own complaint.
    """
    index = 0
    if row is not None:
        index = next((i for i, v in enumerate(row) if "\n" in v or "\r" in v), len(row) - 1)
    name = header[index] if 0 <= index < len(header) else f"column {index + 1}"
    if cause == "eof":
        what = f"is never closed, so it swallowed lines {first}-{last}, to the end of the file"
    elif cause == "quote":
        what = (f"is not closed on line {first}, so it swallowed lines {first}-{last}, up to "
                f"the next quote (on line {last})")
    else:
        what = f"is never closed, so it swallowed lines {first}-{last} ({cause})"
    missing = header[len(row):] if row is not None else []
    lacks = f" The row then lacks {', '.join(repr(m) for m in missing)}." if missing else ""
    return DataError(
        f"{path}:{first}: the quote opened in field {name!r} {what}.{lacks} Line {first} reads "
        f'{_preview(lines[0])}. Close the quote, or escape a literal quote as "" inside a '
        f"quoted field. No model request was made."
    )


def csv_records(path: Path, error: type[Exception] = DataError) -> Iterator[tuple[int, dict[str,
                                                                                       str]]]:
    """(line number, row) for each row of a CSV file with a header; empty cells are left out.

    Bytes that are not UTF-8, malformed CSV, and a quote that swallows the lines after it raise
    ``error`` naming the file and the line where the row (or the quote) starts.
    """
    lines = _Lines(_text_lines(path, error))
    reader = csv.reader(lines)
    header: list[str] | None = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first, raw = lines.take()
            if header is not None and lines.count > first:
                raise _swallowed(path, header, first, lines.count, raw, None,
                                 f"the csv reader stopped: {exc}") from None
            raise error(f"{path}:{first}: malformed CSV: {exc}. No model request was made."
                        ) from None
        first, raw = lines.take()
        if not row:
            continue
        if header is None:
            header = row
            continue
        if len(raw) > 1:
            _check_multiline(path, header, first, lines.count, raw, row)
        yield first, {k: v for k, v in zip(header, row, strict=False) if v != ""}


def _check_multiline(path: Path, header: list[str], first: int, last: int, raw: list[str],
                     row: list[str]) -> None:
    """A row over several lines is fine unless a quote swallowed the lines after it.

    The signs: csv reached the end of the file inside the quote, or the row lacks fields
    while its multi-line field holds more delimited lines (the rows it swallowed).
    """
    if _ends_inside_quote(raw):
        raise _swallowed(path, header, first, last, raw, row, "eof")
    if len(row) < len(header):
        tail = [line for v in row if "\n" in v or "\r" in v for line in v.splitlines()[1:]]
        if any("," in line for line in tail):
            raise _swallowed(path, header, first, last, raw, row, "quote")


def _ends_inside_quote(raw: list[str]) -> bool:
    try:
        list(csv.reader(raw, strict=True))
    except csv.Error as exc:
        return "end of data" in str(exc)
    return False


class CsvDataset(_FileDataset):
    """A CSV file with a header row naming the fields (``input``, ``target``, ...)."""

    suffixes = (".csv",)

    def _records(self) -> Iterator[tuple[int, Any]]:
        return csv_records(self.path)


def load_dataset(path: str | Path, *, fields: FieldMap = FieldMap()) -> _FileDataset:
    """Open a JSONL or CSV dataset by its suffix; an empty one raises ``EmptyDatasetError``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        raise DataError(directory_message(p, "a .jsonl or .csv dataset file"))
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
