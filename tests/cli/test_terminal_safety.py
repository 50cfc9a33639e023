"""No escape sequence from data reaches the terminal: what data holds is shown, never obeyed.

Every printed field of the dataset (id, input, target, category, metadata, and the file name,
which becomes the task name) and the model's output carry an OSC (set the window title), CSIs
(clear the screen, red), bare control characters and the C1 CSI. Tables, notes and errors
must show them as ``\\x1b``...; JSON and exports must keep them exactly.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.table import Table
from rich.text import Text

from evalstack.cli.main import cli
from evalstack.cli.safe import SafeConsole, visible_text
from evalstack.core.text import visible
from evalstack.runner.progress import RichProgress

EVIL = "\x1b]0;title\x07 \x1b[2J \x1b[31m \x07\x08\r\x9b"
SHOWN = "\\x1b]0;title\\x07 \\x1b[2J \\x1b[31m \\x07\\x08\\x0d\\x9b"
# Characters that would act on the terminal; none of them may come from the data.
RAW = ("\x1b", "\x9b", "\x07", "\x08", "\r")
# What rich itself writes to a terminal: colours and styles (SGR) only, for printed tables.
SGR = re.compile(r"\x1b\[[0-9;]*m")
N = 6


def assert_shown_not_sent(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"{ch!r} reached the terminal: {text!r}"
    assert "\\x1b" in text, text


def invoke(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows = [{"id": f"s{i}{EVIL}", "input": f"q{i}{EVIL}", "target": f"q{i}{EVIL}",
             "category": f"c{i % 2}{EVIL}", "metadata": {"note": EVIL}} for i in range(N)]
    path = tmp_path / f"evil{EVIL}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "safety.db")


def _run(data: Path, store: str, *model: str) -> str:
    r = invoke("run", str(data), *model, "--scorer", "exact_match", "--store", store,
               "--no-cache", "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["run_id"]


@pytest.fixture
def runs(tmp_path: Path, data: Path, store: str) -> tuple[str, str]:
    """Run A echoes every input (all right); run B answers the second half wrongly."""
    a = _run(data, store, "-m", "mock/echo")
    replies = {f"q{i}{EVIL}": f"q{i}{EVIL}" if i < N // 2 else f"wrong{EVIL}" for i in range(N)}
    rp = tmp_path / "replies.json"
    rp.write_text(json.dumps(replies), encoding="utf-8")
    b = _run(data, store, "-m", "mock/scripted", "-M", f"replies={rp}")
    return a, b


# --- the pure function -----------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b", "\\x1b"),              # ESC: starts CSI, OSC, DCS...
    ("\x1b]0;t\x07", "\\x1b]0;t\\x07"),  # OSC set title, BEL-terminated
    ("\x1b[2J", "\\x1b[2J"),        # CSI clear screen
    ("\x00", "\\x00"),
    ("\x07", "\\x07"),
    ("\x08", "\\x08"),
    ("\r", "\\x0d"),
    ("\x0b\x0c", "\\x0b\\x0c"),
    ("\x7f", "\\x7f"),              # DEL
    ("\x9b", "\\x9b"),              # C1 CSI
    ("\x85\x9d", "\\x85\\x9d"),     # C1 NEL, OSC
    ("\u202e", "\\u202e"),          # right-to-left override
    ("\u2066x\u2069", "\\u2066x\\u2069"),  # isolates
    ("\ud800", "\\ud800"),          # lone surrogate: no encoding can print it
])
def test_visible_writes_out_each_class_of_control(raw, shown):
    assert visible(f"a{raw}b") == f"a{shown}b"
    assert visible(visible(raw)) == visible(raw)


def test_visible_keeps_layout_and_printable_text():
    text = "line 1\n\tline 2 \\x1b é 中文 👩‍💻 \u00a0 [bold]x[/bold] :smile:"
    assert visible(text) is text
    assert visible("a\nb\tc", layout=False) == "a\\x0ab\\x09c"


def test_visible_text_keeps_styles_in_place():
    text = Text("ab")
    text.append("\x1b[2J", style="red")
    text.append("cd", style="bold")
    shown = visible_text(text)
    assert shown.plain == "ab\\x1b[2Jcd"
    assert [(s.start, s.end, s.style) for s in shown.spans] == [(2, 9, "red"), (9, 11, "bold")]


def test_safe_console_shows_strings_text_tables_and_markup_as_text():
    out = io.StringIO()
    console = SafeConsole(file=out, width=200, force_terminal=True, color_system="truecolor")
    table = Table(title=f"title{EVIL}")
    table.add_column(f"header{EVIL}")
    table.add_row(f"str cell{EVIL}")
    table.add_row(Text(f"Text cell{EVIL}", style="green"))
    console.print(table)
    console.print(f"plain{EVIL} [link=https://example.com]x[/link] :smile:")
    console.print(Text(f"text{EVIL}"), style="bold")
    printed = SGR.sub("", out.getvalue())
    assert set(printed) & set(RAW) == set()
    assert printed.count(SHOWN) == 4, printed  # title, header, str cell, plain string
    # rich's Text drops BEL, BS and CR itself; the console shows the rest
    assert printed.count("\\x1b]0;title \\x1b[2J \\x1b[31m \\x9b") == 2, printed
    assert "[link=https://example.com]x[/link] :smile:" in printed


def test_progress_bar_description_is_shown_as_text():
    out = io.StringIO()
    bar = RichProgress(SafeConsole(file=out, force_terminal=True, width=200))
    bar.start(f"evil{EVIL}\nnext · mock/echo [bold]", total=2, completed=0)
    bar.advance(errors=0, cost=0.0)
    bar.finish()
    text = out.getvalue()
    assert "evil" + SHOWN + "\\x0anext · mock/echo [bold]" in SGR.sub("", text)
    # rich's own cursor controls (hide/show cursor, erase line, move up) are all it writes
    rest = re.sub(r"\x1b\[(\?25[lh]|2K|1A)", "", SGR.sub("", text))
    assert "\x1b" not in rest and "\x9b" not in rest and "\x07" not in rest


# --- the commands ----------------------------------------------------------------------------


def test_run_prints_data_and_outputs_as_text(data, store):
    r = invoke("run", str(data), "-m", "mock/echo", "--scorer", "exact_match", "--store", store)
    assert r.exit_code == 0, r.output
    assert_shown_not_sent(r.output)
    assert f"c0{SHOWN}" in r.output and f"evil{SHOWN}" in r.output


def test_show_compare_runs_print_data_as_text(runs, store):
    a, b = runs
    shown = invoke("show", a, "--store", store)
    assert shown.exit_code == 0, shown.output
    assert_shown_not_sent(shown.output)
    assert f"c1{SHOWN}" in shown.output and f"task: evil{SHOWN}" in shown.output

    compared = invoke("compare", a, b, "--store", store)
    assert compared.exit_code == 0, compared.output
    assert_shown_not_sent(compared.output)
    assert f"broken by B: s3{SHOWN}" in compared.output

    markdown = invoke("compare", a, b, "--store", store, "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert_shown_not_sent(markdown.output)

    listed = invoke("runs", "--store", store)
    assert listed.exit_code == 0, listed.output
    assert_shown_not_sent(listed.output)


def test_colour_terminal_gets_only_rich_colour_sequences(runs, store):
    a, b = runs
    for args in (("show", a), ("compare", a, b), ("runs",)):
        r = invoke(*args, "--store", store, env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
        assert r.exit_code == 0, r.output
        assert SGR.search(r.output), "rich did not take the output for a colour terminal"
        assert not set(SGR.sub("", r.output)) & set(RAW), r.output
        assert "\\x1b]0;title" in r.output


def test_error_quoting_data_is_shown_as_text(tmp_path, store):
    bad = tmp_path / f"bad{EVIL}.jsonl"
    bad.write_text('{"input": "a", "target": "b"}\n{"input": "\x1b[2J oops\n', encoding="utf-8")
    r = invoke("run", str(bad), "-m", "mock/echo", "--store", store)
    assert r.exit_code == 3
    assert_shown_not_sent(r.output)
    assert f"bad{SHOWN}.jsonl:2" in r.output

    good = tmp_path / "good.jsonl"
    good.write_text('{"input": "a", "target": "b"}\n', encoding="utf-8")
    for args in (("--scorer", f"nope{EVIL}"), ("-T", f"oops{EVIL}")):
        r = invoke("run", str(good), "-m", "mock/echo", "--store", store, *args)
        assert r.exit_code == 2, r.output
        assert_shown_not_sent(r.output)


def test_json_output_escapes_every_control_character(runs, data, store):
    a, b = runs
    r = invoke("run", str(data), "-m", "mock/echo", "--store", store, "--json")
    outputs = [r.stdout, invoke("show", a, "--store", store, "--json").stdout,
               invoke("compare", a, b, "--store", store, "--json").stdout,
               invoke("runs", "--store", store, "--json").stdout]
    for out in outputs:
        assert not set(out) & {*RAW, "\x9b"}, out
        assert "\\u001b" in out
    compared = json.loads(outputs[2])["comparisons"][0]
    assert [f["sample_id"] for f in compared["broken"]["exact_match"]] == [
        f"s{i}{EVIL}" for i in range(N // 2, N)]


def test_export_keeps_the_data_exactly(runs, store):
    a, _ = runs
    r = invoke("export", a, "--format", "jsonl", "--store", store)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == N
    first = min(rows, key=lambda row: row["sample_id"])
    assert first["sample_id"] == f"s0{EVIL}"
    assert first["task"] == f"evil{EVIL}"
    assert (first["input"], first["target"], first["output"]) == (f"q0{EVIL}",) * 3
    assert (first["category"], first["metadata"]["note"]) == (f"c0{EVIL}", EVIL)


def test_brackets_in_data_are_not_markup(tmp_path, store):
    """Rich markup in data would hide text or make rich write a hyperlink (OSC 8) itself."""
    tag = "[link=https://example.com]x[/link] [bold]b"
    data = tmp_path / "tags.jsonl"
    data.write_text(json.dumps({"input": "q", "target": "q", "category": tag}) + "\n",
                    encoding="utf-8")
    env = {"FORCE_COLOR": "1"}
    r = invoke("run", str(data), "-m", "mock/echo", "-M", f"text={tag}", "--store", store,
               "--json")
    run_id = json.loads(r.stdout)["run_id"]
    for args in (("show", run_id), ("runs",)):
        out = invoke(*args, "--store", store, env=env).output
        assert "\x1b]" not in out
    shown = SGR.sub("", invoke("show", run_id, "--store", store, env=env).output)
    assert f"│ {tag}" in shown and f"'text': '{tag}'" in shown


def test_a_usage_error_quoting_a_typed_argument_shows_its_escapes() -> None:
    from click.testing import CliRunner

    from evalstack.cli.main import cli

    result = CliRunner().invoke(cli, ["show", "a", "b\x1b[2J"])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\\x1b[2J" in result.output
