"""Export a run's samples as JSON Lines, CSV or Parquet, streaming from the store."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from evalstack.core.errors import ConfigError, MissingDependencyError
from evalstack.core.records import RunRecord, SampleRecord
from evalstack.store._rows import SAMPLE_FIELDS

if TYPE_CHECKING:
    from evalstack.store.sqlstore import Store

ExportFormat = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
PARQUET_ROW_GROUP = 10_000
# Fields written as JSON text in the flat (CSV, Parquet) formats when they are not plain text.
_NESTED = ("input", "target", "metadata", "choices")


def export_run(store: Store, run_id: str, fmt: ExportFormat, out: str | os.PathLike[str]) -> int:
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

    Raises:
        ConfigError: unknown format.
        MissingDependencyError: Parquet without pyarrow installed.
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
    samples = store.iter_samples(run.id)
    if fmt == "jsonl":
        with _open_out(out, binary=False) as fh:
            return _write_jsonl(run, samples, fh)
    score_names = store.score_names(run.id)
    if fmt == "csv":
        with _open_out(out, binary=False) as fh:
            return _write_csv(run, samples, score_names, fh)
    with _open_out(out, binary=True) as fh:
        return _write_parquet(run, samples, score_names, fh)


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
        with open(tmp, mode, **kwargs) as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _base(run: RunRecord) -> dict[str, Any]:
    return {"run_id": run.id, "task": run.task_name, "model": run.model}


def _write_jsonl(run: RunRecord, samples: Iterator[SampleRecord], fh: IO[str]) -> int:
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
    run: RunRecord, samples: Iterator[SampleRecord], score_names: list[str], fh: IO[str]
) -> int:
    writer = csv.DictWriter(fh, fieldnames=_flat_columns(score_names))
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
