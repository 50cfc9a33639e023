import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from store_helpers import make_sample

from evalstack.core.errors import ConfigError, MissingDependencyError, UserError
from evalstack.core.records import RunRecord, SampleRecord
from evalstack.store import Store, export_run
from evalstack.store import export as export_module

RunFactory = Callable[..., RunRecord]


def _records() -> list[SampleRecord]:
    return [
        make_sample(
            "a",
            input=[{"role": "user", "content": "2+2?"}],
            target=["4", "four"],
            scores={"exact_match": {"value": 1.0, "kind": "binary"}, "f1": {"value": 0.5}},
            metadata={"k": [1, 2]},
            choices=["3", "4"],
            latency_ms=3.5,
            input_tokens=4,
            output_tokens=1,
            cost_usd=0.25,
            category="math",
        ),
        make_sample("b", output='x,"y"\nz', scores={"exact_match": {"value": 0.0}}),
        make_sample("c", output="", scores={}, error="timeout\x00", attempts=3),
    ]


@pytest.fixture
def run(store: Store, run_factory: RunFactory) -> RunRecord:
    record = run_factory(task_name="arith", model="mock/echo")
    store.write_samples(record.id, _records())
    return record


def test_jsonl_has_one_object_per_sample_with_every_field(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / "out.jsonl"
    assert export_run(store, run.id, "jsonl", out) == 3
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["sample_id"] for r in rows] == ["a", "b", "c"]
    stored = list(store.iter_samples(run.id))
    for row, record in zip(rows, stored, strict=True):
        assert (row["run_id"], row["task"], row["model"]) == (run.id, "arith", "mock/echo")
        assert (
            SampleRecord(**{k: v for k, v in row.items() if k not in ("run_id", "task", "model")})
            == record
        )
    assert rows[2]["error"] == "timeout\ufffd"
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_csv_is_flat_with_one_column_per_score(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    assert export_run(store, run.id[:12], "csv", out) == 3
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = reader.fieldnames
    assert header is not None
    assert header[:8] == [
        "run_id",
        "task",
        "model",
        "sample_id",
        "epoch",
        "input",
        "target",
        "output",
    ]
    assert header[-3:] == ["score.exact_match", "score.f1", "scores"]
    a, b, c = rows
    assert (a["score.exact_match"], a["score.f1"]) == ("1.0", "0.5")
    assert (b["score.exact_match"], b["score.f1"]) == ("0.0", "")
    assert (c["score.exact_match"], c["error"], c["attempts"]) == ("", "timeout\ufffd", "3")
    assert json.loads(a["input"]) == [{"role": "user", "content": "2+2?"}]
    assert json.loads(a["target"]) == ["4", "four"]
    assert json.loads(a["metadata"]) == {"k": [1, 2]}
    assert json.loads(a["choices"]) == ["3", "4"]
    assert json.loads(a["scores"])["f1"] == {"value": 0.5}
    assert b["input"] == "question b" and b["target"] == "4"
    assert b["output"] == 'x,"y"\nz'


def test_parquet_is_written_in_row_groups_and_reads_back(
    store: Store, run_factory: RunFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(export_module, "PARQUET_ROW_GROUP", 4)
    run = run_factory()
    records = [
        make_sample(
            f"s{i:02d}", scores={"em": {"value": float(i % 2)}}, latency_ms=None if i else 1.0
        )
        for i in range(10)
    ]
    store.write_samples(run.id, records)
    out = tmp_path / "out.parquet"
    assert export_run(store, run.id, "parquet", out) == 10
    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_row_groups == 3
    table = parquet.read()
    assert table.num_rows == 10
    assert str(table.schema.field("score.em").type) == "double"
    assert str(table.schema.field("epoch").type) == "int64"
    assert str(table.schema.field("cached").type) == "bool"
    assert table.column("score.em").to_pylist() == [float(i % 2) for i in range(10)]
    assert table.column("sample_id").to_pylist() == [f"s{i:02d}" for i in range(10)]
    assert table.column("latency_ms").to_pylist() == [1.0] + [None] * 9
    assert set(table.column("run_id").to_pylist()) == {run.id}


def test_parquet_of_a_run_without_samples_has_the_schema(
    store: Store, run_factory: RunFactory, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    run = run_factory()
    out = tmp_path / "empty.parquet"
    assert export_run(store, run.id, "parquet", out) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert "sample_id" in table.schema.names


def test_jsonl_and_csv_to_stdout(
    store: Store, run: RunRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export_run(store, run.id, "jsonl", "-") == 3
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["sample_id"] for line in lines] == ["a", "b", "c"]
    assert export_run(store, run.id, "csv", "-") == 3
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["sample_id"] for r in rows] == ["a", "b", "c"]


def test_parquet_to_stdout(
    store: Store, run: RunRecord, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    assert export_run(store, run.id, "parquet", "-") == 3
    data = capsysbinary.readouterr().out
    assert pq.read_table(io.BytesIO(data)).num_rows == 3


def test_parquet_without_pyarrow_names_the_extra(
    store: Store, run: RunRecord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"evalstack\[parquet\]"):
        export_run(store, run.id, "parquet", tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_unknown_format_and_unknown_run_are_user_errors(
    store: Store, run: RunRecord, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(ConfigError, match="jsonl, csv, parquet"):
        export_run(store, run.id, "xlsx", folder / "x")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="evalstack runs"):
        export_run(store, "01NOSUCH", "jsonl", folder / "x.jsonl")
    assert list(folder.iterdir()) == []
