import json
from pathlib import Path

import pytest

from evalstack.core.errors import DataError, EmptyDatasetError
from evalstack.datasets.files import load_dataset
from evalstack.datasets.record import FieldMap


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def test_jsonl_streams_samples_with_ids_categories_and_choices(tmp_path):
    p = _write(tmp_path / "d.jsonl", "\n".join([
        json.dumps({"id": "a", "input": "2+2=", "target": "4", "category": "math"}),
        "",
        json.dumps({"input": "Pick", "choices": ["x", "y"], "target": "B", "extra": 1}),
    ]) + "\n")
    ds = load_dataset(p)
    samples = list(ds)
    assert len(ds) == 2
    assert [s.id for s in samples] == ["a", "1"]
    assert samples[0].category == "math"
    assert samples[1].choices == ("x", "y")
    assert samples[1].metadata["extra"] == 1
    assert len(ds.fingerprint()) == 64


def test_fingerprint_changes_with_content(tmp_path):
    a = load_dataset(_write(tmp_path / "a.jsonl", '{"input": "x", "target": "1"}\n'))
    b = load_dataset(_write(tmp_path / "b.jsonl", '{"input": "x", "target": "2"}\n'))
    assert a.fingerprint() != b.fingerprint()


def test_malformed_json_names_file_and_line(tmp_path):
    p = _write(tmp_path / "bad.jsonl", '{"input": "a", "target": "b"}\n{"input": "a", target}\n')
    with pytest.raises(DataError) as err:
        load_dataset(p)
    assert f"{p}:2" in str(err.value)
    assert "invalid JSON" in str(err.value)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"target": "x"}, "missing field 'input'"),
        ({"input": "x"}, "missing field 'target'"),
        ({"input": {"a": 1}, "target": "x"}, "field 'input' must be a string"),
        ({"input": [{"role": "robot", "content": "hi"}], "target": "x"}, "role must be one of"),
        ({"input": "x", "target": "y", "choices": "ab"}, "non-empty list"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_missing_or_mistyped_fields_are_named(tmp_path, row, expected):
    p = _write(tmp_path / "d.jsonl", json.dumps({"input": "ok", "target": "ok"}) + "\n"
               + json.dumps(row) + "\n")
    with pytest.raises(DataError) as err:
        load_dataset(p)
    assert f"{p}:2" in str(err.value)
    assert expected in str(err.value)


def test_duplicate_ids_are_rejected(tmp_path):
    p = _write(tmp_path / "d.jsonl", '{"id": 1, "input": "a", "target": "b"}\n'
               '{"id": 1, "input": "c", "target": "d"}\n')
    with pytest.raises(DataError, match="duplicate sample id '1'"):
        load_dataset(p)


def test_empty_dataset(tmp_path):
    with pytest.raises(EmptyDatasetError, match="no samples"):
        load_dataset(_write(tmp_path / "e.jsonl", "\n\n"))


def test_bom_nul_and_surrogates_are_cleaned(tmp_path):
    raw = (b"\xef\xbb\xbf" + json.dumps({"input": "caf\u00e9", "target": "a\u0000b"}).encode()
           + b"\n" + b'{"input": "fine", "target": "\\ud800x"}\n')
    ds = load_dataset(_write(tmp_path / "weird.jsonl", raw))
    a, b = list(ds)
    assert a.input == "caf\u00e9"
    assert a.target == "a\ufffdb"
    assert b.target == "\ufffdx"


def test_invalid_utf8_is_an_error_naming_line_column_and_bytes(tmp_path):
    # it used to become U+FFFD silently (with a flag nothing read)
    raw = b'{"input": "ok", "target": "a"}\n{"input": "bad \xff byte", "target": "b"}\n'
    p = _write(tmp_path / "weird.jsonl", raw)
    with pytest.raises(DataError) as err:
        load_dataset(p)
    message = str(err.value)
    assert f"{p}:2: column 16 (byte offset 46) is not UTF-8: bytes b'\\xff'" in message
    assert "re-save it as UTF-8" in message


def test_field_mapping_and_csv(tmp_path):
    p = _write(tmp_path / "d.csv", "question,answer,topic\nWhat?,Yes,t1\n")
    ds = load_dataset(p, fields=FieldMap(input="question", target="answer", category="topic"))
    (s,) = list(ds)
    assert (s.input, s.target, s.category) == ("What?", "Yes", "t1")


def test_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match="expected a .jsonl or .csv"):
        load_dataset(_write(tmp_path / "d.txt", "x"))
