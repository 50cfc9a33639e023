"""Careless and hostile files: Jinja and attribute-lookup templates, bytes that are not
UTF-8, a directory where a dataset belongs, a CSV quote that swallows the rest of the file,
task files that do not import, export paths that cannot be written, and model output full of
escape sequences exported to a terminal.

Each is refused with the file, the line or field, what was expected and the fix, never a
traceback; nothing stored before is lost. Every test runs the real CLI.
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError
from evalstack.solvers.templates import PromptTemplate

HOSTILE = "title \x1b]0;pwned\x07 clear \x1b[2J csi \x9b31m bidi \u202e end"


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def rows(store: Path) -> dict[str, int]:
    """Rows per table of a SQLite store."""
    with sqlite3.connect(store) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text('{"input": "a", "target": "a", "topic": "t"}\n'
                    '{"input": "b", "target": "b", "topic": "t"}\n')
    return path


@pytest.fixture
def store(tmp_path: Path, data: Path) -> Path:
    """A store holding one finished run, so a refusal can be seen to lose nothing."""
    path = tmp_path / "s.db"
    r = invoke("run", str(data), "-m", "mock/echo", "--store", str(path), "--json")
    assert r.exit_code == 0, r.output
    return path


def refused(store: Path, *args: str, code: int) -> str:
    """Run ``evalstack run ARGS`` against ``store``: it must exit ``code`` and store nothing."""
    before = rows(store)
    r = invoke("run", *args, "-m", "mock/echo", "--store", str(store))
    assert r.exit_code == code, r.output
    assert r.output.startswith("error: "), r.output
    assert rows(store) == before
    return r.output


def eval_file(tmp_path: Path, data: Path, body: str) -> Path:
    path = tmp_path / "e.yaml"
    path.write_text(f"name: e\ndataset: {data}\n{body}")
    return path


# --- templates ---------------------------------------------------------------------------


def test_a_jinja_template_is_refused_naming_the_eval_file_and_field(tmp_path, data, store):
    path = eval_file(tmp_path, data, 'template: "Q: {{ input }}\\nA:"\n')
    out = refused(store, str(path), code=2)
    assert f"{path}: field 'template'" in out
    assert ("'{{ input }}' is Jinja syntax; evalstack templates use single braces: {input}; "
            "write {{ and }} only for literal braces") in out


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{input.__class__.__mro__}", "looks up an attribute or an index"),
        ("{input[0]}", "looks up an attribute or an index"),
        ("{input!r}", "applies a conversion (!r)"),
        ("{input:>999999999}", "has a format spec (:>999999999)"),
        ("{input:{target.__class__}}", "has a format spec"),
        ("{0} {input}", "is a positional field"),
    ],
)
def test_template_fields_are_plain_names(tmp_path, data, store, template, problem):
    path = eval_file(tmp_path, data, f"template: {json.dumps(template)}\n")
    out = refused(store, str(path), code=2)
    assert f"{path}: field 'template'" in out
    assert problem in out and "fields are plain names" in out
    # the sample's own fields, metadata included
    assert "Available fields: input, target, topic." in out


def test_jinja_blocks_and_field_less_templates_are_refused(tmp_path, data, store):
    path = eval_file(tmp_path, data, 'template: "{% if x %}{input}{% endif %}"\n')
    assert "'{% if x %}' is a Jinja block" in refused(store, str(path), code=2)
    path = eval_file(tmp_path, data, 'template: "Answer the question."\n')
    assert "uses no field, so every sample would be sent the same prompt" in refused(
        store, str(path), code=2)


def test_literal_braces_around_a_non_field_still_work(tmp_path, data, store):
    path = eval_file(tmp_path, data, 'template: "Fill {{slot}}: {input}"\n')
    r = invoke("run", str(path), "-m", "mock/echo", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output


def test_the_python_api_checks_templates_too():
    with pytest.raises(ConfigError, match="looks up an attribute"):
        PromptTemplate("{input.__class__}")
    with pytest.raises(ConfigError, match="Jinja syntax"):
        PromptTemplate("Q: {{input}}")
    with pytest.raises(ConfigError, match="Few-shot template"):
        PromptTemplate("{input}", fewshot_template="{target!s}")


# --- bytes that are not UTF-8 --------------------------------------------------------------


def test_non_utf8_jsonl_names_line_column_offset_and_bytes(tmp_path, store):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"input": "a", "target": "a"}\n{"input": "caf\xe9", "target": "b"}\n')
    out = refused(store, str(path), code=3)
    assert f"{path}:2: column 15 (byte offset 44) is not UTF-8: bytes b'\\xe9'" in out
    assert "re-save it as UTF-8" in out
    assert "'{\"input\": \"café\", \"target\": \"b\"}'" in out  # the Windows-1252 reading
    assert "iconv -f WINDOWS-1252 -t UTF-8" in out


def test_non_utf8_csv_and_utf16_are_refused_too(tmp_path, store):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"input,target\nna\xefve,x\n")
    out = refused(store, str(path), code=3)
    assert f"{path}:2: column 3 (byte offset 15) is not UTF-8: bytes b'\\xef'" in out
    path = tmp_path / "wide.jsonl"
    path.write_bytes('{"input": "a", "target": "a"}\n'.encode("utf-16"))
    out = refused(store, str(path), code=3)
    assert f"{path}:1: the file starts with a UTF-16 byte-order mark" in out
    assert "iconv -f UTF-16 -t UTF-8" in out


def test_a_non_utf8_eval_file_names_its_line(tmp_path, data, store):
    path = tmp_path / "e.yaml"
    path.write_bytes(f"name: e\ndataset: {data}\ndescription: caf\xe9\n".encode("latin-1"))
    out = refused(store, str(path), code=2)
    assert f"{path}:3: column 17" in out and "is not UTF-8" in out


# --- a directory where a file belongs -------------------------------------------------------


def test_a_directory_as_the_dataset_says_so_and_lists_its_data_files(tmp_path, data, store):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "b.csv").write_text("input,target\nx,y\n")
    (folder / "a.jsonl").write_text('{"input": "x", "target": "y"}\n')
    (folder / "notes.txt").write_text("not data")
    out = refused(store, str(folder), code=2)
    assert f"{folder} is a directory, not a file" in out
    assert "It holds a.jsonl, b.csv: give one of them" in out and "notes.txt" not in out
    path = eval_file(tmp_path, folder, "")
    out = refused(store, str(path), code=3)
    assert f"{path}: field 'dataset': {folder} is a directory, not a file" in out
    assert "Expected a .jsonl or .csv dataset file" in out


def test_a_missing_eval_file_dataset_names_the_field_and_the_folder(tmp_path, store):
    path = tmp_path / "e.yaml"
    path.write_text("name: e\ndataset: nope.jsonl\n")
    out = refused(store, str(path), code=3)
    assert f"{path}: field 'dataset': dataset file not found: {tmp_path / 'nope.jsonl'}" in out
    assert f"resolved against the eval file's folder, {tmp_path}" in out


# --- CSV quotes -------------------------------------------------------------------------------


def test_an_unterminated_csv_quote_is_named_where_it_opened(tmp_path, store):
    path = tmp_path / "d.csv"
    path.write_text('input,target\na,a\n"b,b\nc,c\nd,d\n')
    out = refused(store, str(path), code=3)
    assert (f"{path}:3: the quote opened in field 'input' is never closed, so it swallowed "
            "lines 3-5, to the end of the file") in out
    assert "The row then lacks 'target'" in out and "missing field" not in out
    assert 'escape a literal quote as ""' in out


def test_a_quote_closed_lines_later_is_named_too(tmp_path, store):
    path = tmp_path / "d.csv"
    path.write_text('input,target\na,a\n"b,b\nc,c\nd,"d"\ne,e\n')
    out = refused(store, str(path), code=3)
    assert (f"{path}:3: the quote opened in field 'input' is not closed on line 3, so it "
            "swallowed lines 3-5, up to the next quote (on line 5)") in out


def test_a_quote_in_the_last_field_swallowing_the_file(tmp_path, store):
    path = tmp_path / "d.csv"
    path.write_text('input,target\na,"a\nb,b\n')
    out = refused(store, str(path), code=3)
    assert f"{path}:2: the quote opened in field 'target' is never closed" in out


def test_a_quote_swallowing_more_than_csv_holds_in_a_field(tmp_path, store):
    path = tmp_path / "d.csv"
    path.write_text('input,target\na,a\n"b,b\n' + "x,y\n" * 40_000)
    out = refused(store, str(path), code=3)
    assert f"{path}:3: the quote opened in field 'input' is never closed" in out
    assert "field larger than field limit" in out


def test_legitimate_multi_line_csv_fields_still_load(tmp_path, store):
    path = tmp_path / "d.csv"
    path.write_text('input,target\r\n"two\r\nlines, with a comma",x\r\n"say ""hi""",y\r\n')
    r = invoke("run", str(path), "-m", "mock/echo", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["tasks"][0]["samples"] == 2


# --- task files that do not import ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from evalstack import task\n\n@task\ndef t()\n    return None\n",
         ":4:8: SyntaxError: expected ':' ('def t()')"),
        ("import os\nimport no_such_module_xyz\n",
         ":2: ModuleNotFoundError: No module named 'no_such_module_xyz', while importing"),
        ("from evalstack import no_such_name_xyz\n",
         ":1: ImportError: cannot import name 'no_such_name_xyz'"),
        ("import json\n\nCONFIG = json.loads(open('config.json').read())\n",
         ":3: FileNotFoundError: [Errno 2] No such file or directory: 'config.json', while "
         "importing"),
        ("from evalstack import task\n\n@task\ndef t():\n    return {}['missing']\n",
         ":5: KeyError: 'missing', while building task 't'"),
    ],
)
def test_a_task_file_that_fails_gives_file_line_and_message(tmp_path, store, source, expected):
    path = tmp_path / "tasks.py"
    path.write_text(source)
    out = refused(store, str(path), code=2)
    assert f"error: {path}{expected}" in out
    assert out.count("\n") == 1  # one line, no frames


def test_a_syntax_error_in_a_module_the_task_file_imports(tmp_path, store):
    (tmp_path / "helper_bad.py").write_text("def f(:\n    pass\n")
    path = tmp_path / "tasks.py"
    path.write_text("from evalstack import task\nimport helper_bad\n")
    out = refused(store, str(path), code=2)
    assert f"{tmp_path / 'helper_bad.py'}:1:7: SyntaxError: invalid syntax" in out
    assert f"It is imported by {path}:2" in out


def test_an_eval_file_with_a_yaml_syntax_error_names_line_and_column(tmp_path, data, store):
    path = tmp_path / "e.yaml"
    path.write_text(f"name: e\ndataset: {data}\ntemplate: Q: {{input}}\n")
    out = refused(store, str(path), code=2)
    assert f"{path}:3:12: invalid YAML: mapping values are not allowed here" in out


# --- export paths --------------------------------------------------------------------------


@pytest.fixture
def run_id(store: Path) -> str:
    r = invoke("runs", "--store", str(store), "--json")
    return json.loads(r.output.splitlines()[0])["run_id"]


def export_refused(store: Path, run_id: str, *args: str) -> str:
    before = rows(store)
    r = invoke("export", run_id, "--store", str(store), *args)
    assert r.exit_code == 7, r.output
    assert r.output.startswith("error: Cannot write the export file "), r.output
    assert rows(store) == before
    assert invoke("show", run_id, "--store", str(store)).exit_code == 0
    return r.output


def test_export_into_a_missing_folder(tmp_path, store, run_id):
    target = tmp_path / "missing" / "dir" / "x.jsonl"
    out = export_refused(store, run_id, "-o", str(target))
    assert f"the folder {target.parent} does not exist" in out
    assert f"mkdir -p {target.parent}" in out
    assert not (tmp_path / "missing").exists()


def test_export_onto_a_directory(tmp_path, store, run_id):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    out = export_refused(store, run_id, "--format", "csv", "-o", str(folder))
    assert f"{folder}: it is a directory. Expected a file path, such as " \
           f"{folder / 'results.csv'}" in out
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "mine"


def test_export_under_a_file(tmp_path, store, run_id, data):
    out = export_refused(store, run_id, "-o", str(data / "x.jsonl"))
    assert f"{data} is a file, not a folder" in out


def test_export_onto_a_read_only_file(tmp_path, store, run_id, monkeypatch):
    import evalstack.store.export as export_module

    target = tmp_path / "old.jsonl"
    target.write_text("keep me\n")
    target.chmod(0o444)
    real_access = os.access
    # root may write anyway; answer as the file's mode bits do for everyone else
    monkeypatch.setattr(export_module.os, "access", lambda p, mode: (
        False if Path(p) == target and mode & os.W_OK else real_access(p, mode)))
    out = export_refused(store, run_id, "-o", str(target))
    assert f"{target}: the file is read-only. Make it writable (chmod u+w {target})" in out
    assert target.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".old")) == []


# --- export to a terminal -------------------------------------------------------------------


@pytest.fixture
def hostile_run(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "hostile.jsonl"
    data.write_text(json.dumps({"input": HOSTILE, "target": "x"}) + "\n")
    store = tmp_path / "h.db"
    r = invoke("run", str(data), "-m", "mock/echo", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    return store, json.loads(r.output)["run_id"]


def _export(store: Path, run_id: str, fmt: str, *, tty: bool) -> bytes:
    args = [sys.executable, "-m", "evalstack", "export", run_id, "--store", str(store),
            "--format", fmt]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    if not tty:
        done = subprocess.run(args, capture_output=True, env=env, timeout=120, check=True)
        return done.stdout
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    return out


RAW_CONTROLS = (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode())


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_a_terminal_shows_escape_sequences_instead_of_sending_them(hostile_run, fmt):
    store, run_id = hostile_run
    shown = _export(store, run_id, fmt, tty=True)
    assert not any(c in shown for c in RAW_CONTROLS), shown
    text = shown.decode("utf-8").replace("\r\n", "\n")  # the terminal's own newline mapping
    if fmt == "csv":
        assert r"title \x1b]0;pwned\x07 clear \x1b[2J csi \x9b31m bidi \u202e end" in text
    else:
        (row,) = [json.loads(line) for line in text.splitlines()]
        assert row["output"] == HOSTILE  # still valid JSON holding the exact text


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_a_pipe_keeps_the_exact_data(hostile_run, fmt):
    store, run_id = hostile_run
    piped = _export(store, run_id, fmt, tty=False)
    if fmt == "csv":
        assert HOSTILE.encode() in piped and b"\r\n" in piped
    else:
        assert json.loads(piped.splitlines()[0])["output"] == HOSTILE


def test_a_benchmark_mirror_file_that_is_not_utf8_names_its_line(tmp_path):
    import gzip

    from evalstack.core.errors import DataError
    from evalstack.datasets.sources import read_records

    path = tmp_path / "test.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b'{"q": "a"}\n{"q": "\xe9"}\n')
    with pytest.raises(DataError, match=r"test.jsonl.gz:2: column 8 \(byte offset 18\) is not "
                                        r"UTF-8"):
        list(read_records(path))
