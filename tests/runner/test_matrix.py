"""Suite files (run matrices): the schema, its errors with file:line:field, templates applied,
and the labels that let ``select --suite`` find the runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalstack.core.errors import ConfigError, DataError, UserError
from evalstack.runner.config import RunConfig
from evalstack.runner.matrix import (
    OWN_PROMPT,
    by_target,
    is_suite_file,
    load_suite,
    run_suite,
    suite_label,
    suite_runs,
)
from evalstack.store import Store


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    rows = [{"id": f"s{i}", "input": f"w{i}", "target": f"w{i}",
             "category": "even" if i % 2 == 0 else "odd"} for i in range(6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def suite(tmp_path: Path, body: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


BASE = """\
name: s1
tasks:
  - cases.jsonl
targets:
  - mock/echo
templates:
  bare: "{input}"
  wrapped: "Say {input}"
"""


def refused(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_suite(path)
    return str(info.value)


# --- detection -------------------------------------------------------------------------------


def test_a_suite_is_a_yaml_mapping_with_tasks_or_targets_or_kind(tmp_path, data):
    assert is_suite_file(suite(tmp_path, BASE))
    assert is_suite_file(suite(tmp_path, "kind: suite\n", "k.yaml"))
    assert is_suite_file(suite(tmp_path, "targets: [mock/echo]\n", "t.yml"))
    eval_file = suite(tmp_path, f"name: e\ndataset: {data}\n", "e.yaml")
    assert not is_suite_file(eval_file)
    assert not is_suite_file(suite(tmp_path, "tasks: [\n", "broken.yaml"))  # left to eval files
    assert not is_suite_file(data)
    assert not is_suite_file(tmp_path / "missing.yaml")


# --- loading ---------------------------------------------------------------------------------


def test_load_resolves_tasks_relative_to_the_file_and_reads_templates(tmp_path, data):
    (tmp_path / "p.txt").write_text("From a file: {input}\n")
    path = suite(tmp_path, BASE + "  filed: {file: p.txt, system: Be brief.}\n  own: null\n"
                 "generation: {temperature: 0.5, stop: [\"\\n\"]}\nlimit: 4\n")
    loaded = load_suite(path)
    assert loaded.name == "s1" and [t.name for t in loaded.tasks] == ["cases"]
    assert [(t.name, t.text) for t in loaded.templates] == [
        ("bare", "{input}"), ("wrapped", "Say {input}"), ("filed", "From a file: {input}"),
        ("own", None)]
    assert loaded.templates[2].system == "Be brief."
    assert loaded.generation == {"temperature": 0.5, "stop": ("\n",)}
    assert loaded.limit == 4 and loaded.combinations() == 4


def test_no_templates_runs_the_tasks_own_prompt_and_the_name_defaults_to_the_file(tmp_path,
                                                                                    data):
    loaded = load_suite(suite(tmp_path, "tasks: [cases.jsonl]\ntargets: [mock/echo]\n",
                              "plain.yaml"))
    assert loaded.name == "plain"
    assert [(t.name, t.text) for t in loaded.templates] == [(OWN_PROMPT, None)]


@pytest.mark.parametrize(("body", "line", "says"), [
    (BASE + "temperature: 0\n", 9,
     "field 'temperature': unknown key 'temperature'. It belongs under 'generation': "
     "generation: {temperature: ...}. Expected one of: kind, name"),
    (BASE.replace("  - mock/echo", "  - {model: mock/echo, arg: {}}"), 5,
     "field 'targets[0].arg': unknown key 'arg'. Did you mean 'args'?"),
    (BASE + "limit: many\n", 9, "field 'limit': expected: input should be a valid integer"),
    (BASE.replace("  - mock/echo", "  - {model: mock/echo, generation: {temperature: 7}}"),
     5, "field 'targets[0].generation.temperature': expected: input should be less than or "
        "equal to 2; received 7"),
    (BASE.replace("targets:\n  - mock/echo\n", "targets: mock/echo\n"), 4,
     "field 'targets': expected: input should be a valid list; received 'mock/echo'"),
    ("tasks: [cases.jsonl]\n", 1, "field 'targets': this required field is missing; add it"),
    (BASE.replace('bare: "{input}"', "bare: {text: a, file: b}"), 7,
     "field 'templates.bare': expected: give exactly one of 'text'"),
    (BASE.replace("bare:", "'has space':"), 6, "template name 'has space' should be"),
    (BASE.replace('"{input}"', "3"), 7, "field 'templates.bare': expected: a template string "
     "using {input}, {text: ..., system: ...}, {file: PATH} or null (the task's own prompt); "
     "received 3"),
    (BASE.replace("  - cases.jsonl", "  - [cases.jsonl]"), 3, "field 'tasks[0]': expected: a "
     "task name or file, or {task: NAME, args: {...}}; received list"),
])
def test_schema_errors_name_the_file_line_and_field(tmp_path, data, body, line, says):
    path = suite(tmp_path, body)
    message = refused(path)
    assert message.startswith(f"{path}:{line}: "), message
    assert says in message, message
    assert "docs/matrix.md" in message


def test_invalid_yaml_names_the_line(tmp_path):
    path = suite(tmp_path, "tasks: [a\ntargets: [mock/echo]\n")
    message = refused(path)
    assert message.startswith(f"{path}:") and "invalid YAML" in message


def test_a_template_without_a_placeholder_is_refused_with_its_line(tmp_path, data):
    path = suite(tmp_path, BASE.replace("Say {input}", "Say something"))
    message = refused(path)
    assert message.startswith(f"{path}:8: field 'templates.wrapped'"), message
    assert "uses no field" in message and "{input}" in message


def test_a_template_using_a_field_the_samples_lack_is_refused(tmp_path, data):
    path = suite(tmp_path, BASE.replace("Say {input}", "Say {question}"))
    message = refused(path)
    assert message.startswith(f"{path}:8: field 'templates.wrapped'"), message
    assert "{question}" in message and "Available fields: category, input, target" in message


def test_a_jinja_template_is_refused_with_its_line(tmp_path, data):
    message = refused(suite(tmp_path, BASE.replace("Say {input}", "Say {{ input }}")))
    assert ":8: field 'templates.wrapped'" in message and "Jinja" in message


def test_an_unknown_task_names_the_line_and_suggests(tmp_path, data):
    path = suite(tmp_path, BASE.replace("  - cases.jsonl", "  - cases.jsonl\n  - demo_unti"))
    with pytest.raises(UserError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4: field 'tasks[1]' ('demo_unti'): Unknown task"), message
    assert "Did you mean 'demo_unit'" in message


def test_a_missing_task_file_keeps_its_exit_code_and_names_the_line(tmp_path, data):
    path = suite(tmp_path, BASE.replace("cases.jsonl", "nope.jsonl"))
    with pytest.raises(UserError) as info:
        load_suite(path)
    assert f"{path}:3: field 'tasks[0]' ('nope.jsonl')" in str(info.value)
    assert not isinstance(info.value, DataError) or info.value.exit_code == 3


@pytest.mark.parametrize(("old", "new", "says"), [
    ("  - cases.jsonl", "  - cases.jsonl\n  - {task: cases.jsonl}",
     "4: field 'tasks[1]': the task"),
    ("  - mock/echo", "  - mock/echo\n  - {model: mock/echo}",
     "6: field 'targets[1]': the target"),
])
def test_a_repeated_task_or_target_is_refused(tmp_path, data, old, new, says):
    message = refused(suite(tmp_path, BASE.replace(old, new)))
    assert says in message and "listed twice" in message


def test_an_unreadable_template_file_is_refused(tmp_path, data):
    message = refused(suite(tmp_path, BASE + "  filed: {file: absent.txt}\n"))
    assert ":9: field 'templates.filed.file': cannot read" in message


# --- running ---------------------------------------------------------------------------------


def test_every_cell_is_a_labelled_run_with_its_own_prompt(tmp_path, data):
    store = tmp_path / "s.db"
    path = suite(tmp_path, BASE + "  own: null\n")
    cells = run_suite(load_suite(path), RunConfig(store=str(store), progress=False))
    assert [(c.task, c.target, c.template) for c in cells] == [
        ("cases", "mock/echo", "bare"), ("cases", "mock/echo", "wrapped"),
        ("cases", "mock/echo", "own")]
    by_name = {c.template: c.result for c in cells}
    assert by_name["bare"].metrics["exact_match"].estimate == 1.0
    assert by_name["wrapped"].metrics["exact_match"].estimate == 0.0
    assert by_name["own"].metrics["exact_match"].estimate == 1.0
    with Store.open(str(store)) as st:
        runs = {suite_label(r): r for r in st.list_runs()}
        assert set(runs) == {("s1", "bare"), ("s1", "wrapped"), ("s1", "own")}
        outputs = {lbl[1]: next(st.iter_samples(r.id)).output for lbl, r in runs.items()}
        wrapped = next(st.iter_samples(runs[("s1", "wrapped")].id))
        assert wrapped.metadata["prompt"] == [{"role": "user", "content": "Say w0"}]
        assert len({r.fingerprint for r in runs.values()}) == 3
        found = suite_runs(st, "s1")
        assert {suite_label(r) for r in found} == set(runs)
        grouped = by_target(found)
        assert list(grouped) == ["mock/echo"]
        assert sorted(grouped["mock/echo"]) == ["bare", "own", "wrapped"]
    assert outputs == {"bare": "w0", "wrapped": "Say w0", "own": "w0"}


def test_generation_settings_and_target_overrides_reach_the_stored_spec(tmp_path, data):
    store = tmp_path / "s.db"
    path = suite(tmp_path, BASE.replace(
        "  - mock/echo", "  - mock/echo\n  - {model: mock/constant, args: {text: w0}, "
        "generation: {max_tokens: 3}}") + "generation: {temperature: 0.25, max_tokens: 9}\n"
        "limit: 2\n")
    cells = run_suite(load_suite(path), RunConfig(store=str(store), progress=False))
    assert [c.target for c in cells] == ["mock/echo"] * 2 + ["mock/constant (text=w0)"] * 2
    with Store.open(str(store)) as st:
        configs = {(r.model, suite_label(r)): r.task_spec["config"] for r in st.list_runs()}
        assert all(r.limit == 2 and r.dataset_size == 2 for r in st.list_runs())
    assert configs[("mock/echo", ("s1", "bare"))]["max_tokens"] == 9
    assert configs[("mock/constant", ("s1", "bare"))]["max_tokens"] == 3
    assert {c["temperature"] for c in configs.values()} == {0.25}


def test_a_targets_label_never_shows_a_secret_argument():
    from evalstack.runner.matrix import Target

    label = Target("openai/x", {"api_key": "sk-123", "base_url": "http://u:pw@h/v1"}, {}).label
    assert "sk-123" not in label and "pw" not in label and label.startswith("openai/x (")


def test_the_command_line_limit_wins_over_the_suite(tmp_path, data):
    path = suite(tmp_path, BASE + "limit: 5\n")
    cells = run_suite(load_suite(path), RunConfig(store=str(tmp_path / "s.db"), limit=1,
                                                  progress=False))
    assert {c.result.samples for c in cells} == {1}


def test_an_unknown_suite_lists_the_known_ones(tmp_path, data):
    store = tmp_path / "s.db"
    run_suite(load_suite(suite(tmp_path, BASE)), RunConfig(store=str(store), progress=False))
    with Store.open(str(store)) as st, pytest.raises(ConfigError) as info:
        suite_runs(st, "s2")
    assert "No completed run of suite 's2'" in str(info.value)
    assert "Suites with completed runs: s1." in str(info.value)
