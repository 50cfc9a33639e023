"""Export a run's samples as JSON Lines, CSV or Parquet, streaming from the store.

A file gets the data exactly as stored. Written to a terminal (``terminal=True``), control
characters a terminal would act on are shown instead: ``\\x1b`` for ESC in CSV (as
``core.text.visible`` writes them), ``\\u001b``-style escapes in JSON Lines (still valid JSON).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from evalstack.core.errors import ConfigError, MissingDependencyError, StoreError
from evalstack.core.records import RunRecord, SampleRecord
from evalstack.store._rows import SAMPLE_FIELDS

if TYPE_CHECKING:
    from evalstack.store.sqlstore import Store

ExportFormat = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
PARQUET_ROW_GROUP = 10_000
# Fields written as JSON text in the flat (CSV, Parquet) formats when they are not plain text.
_NESTED = ("input", "target", "metadata", "choices")
# What ``json.dumps(ensure_ascii=False)`` leaves raw that a terminal acts on: DEL, the C1
# controls (U+009B is a CSI on its own), bidirectional overrides and isolates, lone
# surrogates. The C0 controls are escaped by ``json.dumps`` already.
_JSON_HIDDEN = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def check_output_path(out: str | os.PathLike[str], *, what: str = "output file",
                      suffix: str = "") -> Path:
    """Refuse, before anything is written, an output path evalstack cannot write a file at.

    Args:
        out: the path given with ``-o``.
        what: what the file is, for the message (``"export file"``, ``"report"``).
        suffix: the file's usual suffix, for the example path (``".csv"``).

    Returns:
        The path.

    Raises:
        StoreError: the path is a directory, its folder does not exist or is a file, or the
            file or its folder is not writable. The message names the path, the cause and
            the fix.
    """
    path = Path(out)
    if path.is_dir():
        raise StoreError(
            f"Cannot write the {what} {path}: it is a directory. Expected a file path, such "
            f"as {path / ('results' + suffix)}. Nothing was written."
        )
    parent = path.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise StoreError(
            f"Cannot write the {what} {path}: {existing} is a file, not a folder. Give a path "
            f"in an existing folder. Nothing was written."
        )
    if existing != parent:
        raise StoreError(
            f"Cannot write the {what} {path}: the folder {parent} does not exist. Create it "
            f"first (mkdir -p {parent}), or give a path in an existing folder. Nothing was "
            f"written."
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"Cannot write the {what} {path}: the file is read-only. Make it writable (chmod "
            f"u+w {path}) or give another path. Nothing was written."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"Cannot write the {what} {path}: the folder {parent} is not writable. Give a path "
            f"in a folder you can write to. Nothing was written."
        )
    return path


def export_run(store: Store, run_id: str, fmt: ExportFormat, out: str | os.PathLike[str],
               *, terminal: bool = False) -> int:
    """Write every sample of a run to ``out`` and return the number of rows written.

    JSONL has one object per sample with ``run_id``, ``task``, ``model`` and every
    ``SampleRecord`` field. CSV and Parquet are flat: one ``score.<name>`` column per scorer
    (the score's value), nested fields as JSON strings, and the full ``scores`` as JSON.

    Args:
        store: the store holding the run.
        run_id: a run id or unique id prefix.
        fmt: ``"jsonl"``, ``"csv"`` or ``"parquet"``.
        out: a file path, or ``"-"`` for standard output. A file is written whole or not at
            all (through a temporary file beside it).
        terminal: standard output is a terminal: show control characters from the data
            escaped rather than send them (a file or pipe gets the exact data).

    Raises:
        ConfigError: unknown format.
        MissingDependencyError: Parquet without pyarrow installed.
        StoreError: ``out`` cannot be written (a directory, a missing folder, read-only).
        UserError: unknown or ambiguous run id.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MissingDependencyError("pyarrow", "parquet", "Parquet export") from None
    run = store.get_run(run_id)
    to_stdout = str(out) == "-"
    if not to_stdout:
        check_output_path(out, what="export file", suffix=f".{fmt}")
    shown = terminal and to_stdout
    samples = store.iter_samples(run.id)
    if fmt == "jsonl":
        with _open_out(out, binary=False) as fh:
            return _write_jsonl(run, samples, _JsonTerminal(fh) if shown else fh)
    score_names = store.score_names(run.id)
    if fmt == "csv":
        with _open_out(out, binary=False) as fh:
            return _write_csv(run, samples, score_names, _CsvTerminal(fh) if shown else fh,
                              lineterminator="\n" if shown else "\r\n")
    with _open_out(out, binary=True) as fh:
        return _write_parquet(run, samples, score_names, fh)


class _CsvTerminal:
    """A text stream that shows control characters (``\\x1b``) instead of writing them."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from evalstack.core.text import visible

        return self._stream.write(visible(text))


class _JsonTerminal(_CsvTerminal):
    """JSON Lines for a terminal: what ``json.dumps`` leaves raw becomes a ``\\uNNNN`` escape."""

    def write(self, text: str) -> int:
        return self._stream.write(_JSON_HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


_WRITE_CAUSES = {
    errno.ENOSPC: "the disk is full; free space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded; free space or write elsewhere",
    errno.EACCES: "permission denied; give a path you can write to",
    errno.EPERM: "permission denied; give a path you can write to",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EISDIR: "it is a directory; give a file path",
    errno.ENOENT: "its folder does not exist; create it first",
    errno.ENOTDIR: "part of the path is a file, not a folder",
}


@contextmanager
def _open_out(out: str | os.PathLike[str], *, binary: bool) -> Iterator[IO[Any]]:
    if str(out) == "-":
        stream: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    path = Path(out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = "wb" if binary else "w"
    kwargs: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
    try:
        try:
            fh = open(tmp, mode, **kwargs)  # noqa: SIM115 - closed below, then renamed
        except OSError as exc:
            raise _write_error(path, exc) from None
        with fh:
            yield fh
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _write_error(path, exc) from None
    except OSError as exc:  # a write failing midway (disk full, ...)
        raise _write_error(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def _write_error(path: Path, exc: OSError) -> StoreError:
    cause = _WRITE_CAUSES.get(exc.errno or 0, exc.strerror or str(exc))
    return StoreError(
        f"Cannot write the export file {path}: {cause} ({exc.strerror or exc}). Nothing was "
        f"written; the run is still in the store."
    )


def _base(run: RunRecord) -> dict[str, Any]:
    return {"run_id": run.id, "task": run.task_name, "model": run.model}


def _write_jsonl(run: RunRecord, samples: Iterator[SampleRecord], fh: Any) -> int:
    base, n = _base(run), 0
    for record in samples:
        obj = {**base, **{name: getattr(record, name) for name in SAMPLE_FIELDS}}
        fh.write(json.dumps(obj, ensure_ascii=False))
        fh.write("\n")
        n += 1
    return n


def _score_value(score: Any) -> float | None:
    value = score.get("value") if isinstance(score, dict) else score
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def _flat_columns(score_names: list[str]) -> list[str]:
    fields = [name for name in SAMPLE_FIELDS if name != "scores"]
    return ["run_id", "task", "model", *fields, *(f"score.{n}" for n in score_names), "scores"]


def _flat_row(base: dict[str, Any], record: SampleRecord, score_names: list[str]) -> dict[str, Any]:
    row = {**base, **{name: getattr(record, name) for name in SAMPLE_FIELDS}}
    for name in _NESTED:
        value = row[name]
        if value is not None and not isinstance(value, str):
            row[name] = json.dumps(value, ensure_ascii=False)
    for name in score_names:
        row[f"score.{name}"] = _score_value(record.scores.get(name))
    row["scores"] = json.dumps(record.scores, ensure_ascii=False)
    return row


def _write_csv(
    run: RunRecord, samples: Iterator[SampleRecord], score_names: list[str], fh: Any,
    *, lineterminator: str = "\r\n",
) -> int:
    writer = csv.DictWriter(fh, fieldnames=_flat_columns(score_names),
                            lineterminator=lineterminator)
    writer.writeheader()
    base, n = _base(run), 0
    for record in samples:
        writer.writerow(_flat_row(base, record, score_names))
        n += 1
    return n


def _parquet_schema(score_names: list[str]) -> Any:
    import pyarrow as pa

    types: dict[str, Callable[[], Any]] = {
        "epoch": pa.int64,
        "output_truncated": pa.bool_,
        "latency_ms": pa.float64,
        "input_tokens": pa.int64,
        "output_tokens": pa.int64,
        "cost_usd": pa.float64,
        "attempts": pa.int64,
        "cached": pa.bool_,
        "judge_input_tokens": pa.int64,
        "judge_output_tokens": pa.int64,
        "judge_cost_usd": pa.float64,
    }
    fields = []
    for name in _flat_columns(score_names):
        maker = pa.float64 if name.startswith("score.") else types.get(name, pa.string)
        fields.append(pa.field(name, maker()))
    return pa.schema(fields)


def _write_parquet(
    run: RunRecord, samples: Iterator[SampleRecord], score_names: list[str], fh: IO[bytes]
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema(score_names)
    base, n, batch = _base(run), 0, []
    with pq.ParquetWriter(fh, schema) as writer:
        for record in samples:
            batch.append(_flat_row(base, record, score_names))
            if len(batch) >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n, batch = n + len(batch), []
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n
