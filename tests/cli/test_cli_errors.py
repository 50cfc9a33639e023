"""Every bad input gets a clear message and an exit code, never a traceback."""

import json

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from tests.runner import counting_pipeline

PIPELINE = "python/tests.runner.counting_pipeline:answer"


@pytest.fixture(autouse=True)
def _reset():
    counting_pipeline.reset()


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args))
    # a user error is one line on stderr, never a traceback
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _write(path, text: str | bytes):
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_malformed_jsonl_names_file_line_and_makes_no_request(tmp_path):
    p = _write(tmp_path / "bad.jsonl", '{"input": "a", "target": "a"}\n{"input": oops}\n')
    r = run_cli("run", p, "-m", PIPELINE)
    assert r.exit_code == 3
    assert f"error: {p}:2: invalid JSON" in r.output
    assert sum(counting_pipeline.CALLS.values()) == 0


def test_missing_field_caught_before_first_request(tmp_path):
    p = _write(tmp_path / "d.jsonl", '{"input": "a", "target": "a"}\n{"question": "b"}\n')
    r = run_cli("run", p, "-m", PIPELINE)
    assert r.exit_code == 3
    assert f"{p}:2: missing field 'input'" in r.output
    assert "Fields present: 'question'" in r.output
    assert sum(counting_pipeline.CALLS.values()) == 0


def test_mistyped_field(tmp_path):
    p = _write(tmp_path / "d.jsonl", '{"input": {"x": 1}, "target": "a"}\n')
    r = run_cli("run", p, "-m", PIPELINE)
    assert r.exit_code == 3
    assert "field 'input' must be a string" in r.output


def test_template_field_missing_is_caught_before_first_request(tmp_path):
    data = _write(tmp_path / "d.jsonl", '{"input": "a", "target": "a"}\n')
    evalfile = tmp_path / "e.yaml"
    evalfile.write_text(f"name: e\ndataset: {data}\ntemplate: '{{subject}}: {{input}}'\n")
    r = run_cli("run", str(evalfile), "-m", PIPELINE)
    assert r.exit_code == 2
    assert "uses {subject}" in r.output
    assert sum(counting_pipeline.CALLS.values()) == 0


def test_eval_file_unknown_key_is_an_error(tmp_path):
    data = _write(tmp_path / "d.jsonl", '{"input": "a", "target": "a"}\n')
    evalfile = tmp_path / "e.yaml"
    evalfile.write_text(f"name: e\ndataset: {data}\ntemplat: '{{input}}'\n")
    r = run_cli("run", str(evalfile), "-m", PIPELINE)
    assert r.exit_code == 2
    assert "field templat: Extra inputs are not permitted" in r.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "demo_mmlx", "-m", "mock/echo"],
         "Unknown task 'demo_mmlx'. Did you mean 'demo_mmlu'"),
        (["run", "demo_unit", "-m", "opnai/gpt-4o"],
         "Unknown provider 'opnai'. Did you mean 'openai'"),
        (["run", "demo_unit", "-m", "mock/echo", "--scorer", "exact_mach"],
         "Unknown scorer 'exact_mach'. Did you mean 'exact_match'"),
        (["run", "demo_unit", "-m", "mock/ecko"], "Did you mean mock/echo"),
        (["run", "demo_unit", "-m", "gpt-4o"], "must be provider/model"),
        (["rnu"], "Did you mean 'run'"),
    ],
)
def test_unknown_names_get_did_you_mean(args, expected):
    r = run_cli(*args)
    assert r.exit_code == 2
    assert expected in r.output


def test_empty_dataset_exits_cleanly(tmp_path):
    p = _write(tmp_path / "empty.jsonl", "\n  \n")
    r = run_cli("run", p, "-m", PIPELINE)
    assert r.exit_code == 4
    assert "has no samples" in r.output


def test_bom_nul_and_surrogates_run_and_store(tmp_path):
    # invalid UTF-8 bytes are refused now (tests/cli/test_hostile_files.py), not replaced
    raw = (b"\xef\xbb\xbf" + json.dumps({"input": "nul\u0000here", "target": "x"}).encode()
           + b"\n" + b'{"input": "fine", "target": "\\udc80"}\n')
    p = _write(tmp_path / "weird.jsonl", raw)
    r = run_cli("run", p, "-m", "mock/echo", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["tasks"][0]["samples"] == 2 and out["tasks"][0]["errors"] == 0
    r = run_cli("export", out["run_id"])
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert rows[0]["input"] == "nul\ufffdhere"


def test_ten_megabyte_output_is_capped_and_flagged(tmp_path):
    p = _write(tmp_path / "d.jsonl", '{"input": "a", "target": "a"}\n')
    r = run_cli("run", p, "-m", "mock/constant", "-M", "text=" + "z" * 10_000_000, "--json")
    assert r.exit_code == 0
    out = json.loads(r.output)
    assert out["tasks"][0]["errors"] == 0
    assert out["tasks"][0]["truncated_outputs"] == 1


def test_bad_option_value():
    r = run_cli("run", "demo_unit", "-m", "mock/echo", "--error-budget", "2")
    assert r.exit_code == 2
    assert "--error-budget" in r.output


def test_unknown_run_id():
    from evalstack.store import Store

    Store.open().close()
    r = run_cli("show", "nope")
    assert r.exit_code == 2
    assert "evalstack runs" in r.output
