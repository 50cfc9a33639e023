"""`evalstack run suite.yaml` and `evalstack select --suite`: the real CLI, end to end."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.runner.matrix import suite_label
from evalstack.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "matrix" / "suite.yaml"


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write_data(path: Path, n: int) -> Path:
    rows = [{"id": f"s{i:03d}", "input": f"w{i}", "target": f"w{i}",
             "category": "even" if i % 2 == 0 else "odd"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    write_data(tmp_path / "cases.jsonl", 40)
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: pick\n"
        "tasks: [cases.jsonl]\n"
        "targets: [mock/echo]\n"
        "templates:\n"
        "  bare: '{input}'\n"
        "  chatty: 'Please say {input}'\n"
    )
    return path


def stored_runs(store: Path) -> list:
    with Store.open(str(store)) as st:
        return st.list_runs(limit=None)


def test_run_stores_one_run_per_template_and_prints_the_next_command(tmp_path, suite_file):
    store = tmp_path / "s.db"
    r = invoke("run", str(suite_file), "--store", str(store))
    assert r.exit_code == 0, r.output
    assert "Suite pick: 2 runs" in r.output
    assert "bare" in r.output and "chatty" in r.output
    assert f"evalstack select --suite pick --store {store}" in r.output
    runs = stored_runs(store)
    assert sorted(suite_label(x) for x in runs) == [("pick", "bare"), ("pick", "chatty")]
    with Store.open(str(store)) as st:
        outputs = {suite_label(x)[1]: next(st.iter_samples(x.id)).output  # type: ignore[index]
                   for x in runs}
    assert outputs == {"bare": "w0", "chatty": "Please say w0"}


def test_json_lists_every_cell(tmp_path, suite_file):
    r = invoke("run", str(suite_file), "--store", str(tmp_path / "s.db"), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["suite"] == "pick"
    assert [(c["template"], c["metrics"]["exact_match"]["estimate"]) for c in out["runs"]] == [
        ("bare", 1.0), ("chatty", 0.0)]


def test_select_suite_names_the_best_template_overall_and_per_category(tmp_path, suite_file):
    store = tmp_path / "s.db"
    assert invoke("run", str(suite_file), "--store", str(store)).exit_code == 0
    r = invoke("select", "--suite", "pick", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    (ranking,) = out["rankings"]
    assert ranking["target"] == "mock/echo" and ranking["category"] is None
    assert ranking["candidates_are"] == "templates"
    assert ranking["selection"]["tied_for_first"] == ["bare"]
    assert ranking["selection"]["candidates"][0]["n"] == 40
    r = invoke("select", "--suite", "pick", "--store", str(store), "--by", "category", "--json")
    cats = {x["category"]: x["selection"] for x in json.loads(r.stdout)["rankings"]}
    assert set(cats) == {None, "even", "odd"}
    assert cats["even"]["candidates"][0]["label"] == "bare"
    assert cats["even"]["candidates"][0]["n"] == 20
    table = invoke("select", "--suite", "pick", "--store", str(store), "--by", "category")
    assert table.exit_code == 0
    assert "bare is best" in table.output and "category odd" in table.output


def test_select_on_a_suites_run_ids_ranks_templates(tmp_path, suite_file):
    store = tmp_path / "s.db"
    assert invoke("run", str(suite_file), "--store", str(store)).exit_code == 0
    ids = [x.id for x in stored_runs(store)]
    r = invoke("select", *ids, "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    (ranking,) = json.loads(r.stdout)["rankings"]
    assert ranking["selection"]["tied_for_first"] == ["bare"]


def test_a_suite_with_one_template_ranks_its_targets(tmp_path):
    write_data(tmp_path / "cases.jsonl", 30)
    path = tmp_path / "targets.yaml"
    path.write_text("name: t\ntasks: [cases.jsonl]\n"
                    "targets: [mock/echo, {model: mock/constant, args: {text: w0}}]\n")
    store = tmp_path / "s.db"
    assert invoke("run", str(path), "--store", str(store)).exit_code == 0
    r = invoke("select", "--suite", "t", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    (ranking,) = json.loads(r.stdout)["rankings"]
    assert ranking["candidates_are"] == "models" and ranking["target"] is None
    assert ranking["selection"]["tied_for_first"] == ["mock/echo"]


def test_by_category_works_for_plain_runs_too(tmp_path):
    data = write_data(tmp_path / "cases.jsonl", 30)
    store = tmp_path / "s.db"
    ids = []
    for model in (["-m", "mock/echo"], ["-m", "mock/constant", "-M", "text=w0"]):
        r = invoke("run", str(data), *model, "--store", str(store), "--json")
        ids.append(json.loads(r.stdout)["tasks"][0]["run_id"])
    r = invoke("select", *ids, "--by", "category", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [x["category"] for x in out["rankings"]] == [None, "even", "odd"]
    assert out["rankings"][1]["selection"]["candidates"][0]["n"] == 15


def test_select_suite_errors_are_clear(tmp_path, suite_file):
    store = tmp_path / "s.db"
    assert invoke("run", str(suite_file), "--store", str(store)).exit_code == 0
    r = invoke("select", "--suite", "nope", "--store", str(store))
    assert r.exit_code == 2 and "No completed run of suite 'nope'" in r.output
    assert "Suites with completed runs: pick" in r.output
    r = invoke("select", "--store", str(store))
    assert r.exit_code == 2 and "received neither" in r.output
    r = invoke("select", "x", "--suite", "pick", "--store", str(store))
    assert r.exit_code == 2 and "not both" in r.output


def test_a_rerun_resumes_unfinished_cells_and_reuses_the_cache(tmp_path, suite_file):
    store = tmp_path / "s.db"
    assert invoke("run", str(suite_file), "--store", str(store)).exit_code == 0
    chatty = next(x for x in stored_runs(store) if suite_label(x) == ("pick", "chatty"))
    # as if killed halfway: half the samples gone, the run not completed
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM samples WHERE run_id = ? AND sample_id >= 's020'", (chatty.id,))
        db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", (chatty.id,))
    r = invoke("run", str(suite_file), "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    cells = {c["template"]: c for c in json.loads(r.stdout)["runs"]}
    assert cells["chatty"]["run_id"] == chatty.id and cells["chatty"]["samples"] == 40
    assert cells["bare"]["run_id"] != chatty.id
    with Store.open(str(store)) as st:
        assert st.get_run(chatty.id).status == "completed"
        fresh = list(st.iter_samples(cells["bare"]["run_id"]))
    assert all(s.cached for s in fresh)  # a finished cell is run again from the cache


def test_ctrl_c_leaves_the_suite_resumable(tmp_path):
    write_data(tmp_path / "cases.jsonl", 200)
    path = tmp_path / "slow.yaml"
    path.write_text("name: slow\ntasks: [cases.jsonl]\n"
                    "targets: [{model: mock/echo, args: {latency_ms: 50}}]\n"
                    "templates: {a: '{input}', b: 'B {input}'}\n")
    store = tmp_path / "s.db"
    cmd = [sys.executable, "-m", "evalstack", "run", str(path), "--store", str(store),
           "--no-progress"]
    proc = subprocess.Popen([*cmd, "--concurrency", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the suite finished before it could be interrupted"
        if store.exists():
            with Store.open(str(store)) as st:
                runs = st.list_runs()
                if runs and st.count_samples(runs[0].id)[0] >= 3:
                    break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "resume" in err.lower()
    (first,) = stored_runs(store)
    assert first.status == "interrupted"
    # concurrency is not part of a run's identity: the rerun may go faster
    done = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    cells = json.loads(done.stdout)["runs"]
    assert [c["template"] for c in cells] == ["a", "b"]
    assert cells[0]["run_id"] == first.id and cells[0]["samples"] == 200


@pytest.mark.parametrize(("flag", "says"), [
    (("-m", "mock/echo"), "-m/--model was given with the suite file"),
    (("-T", "k=v"), "put it under `tasks[].args`"),
    (("--temperature", "0"), "put it under `generation.temperature`"),
    (("--input-field", "q"), "put it under `tasks[].input_field`"),
])
def test_options_the_suite_sets_are_refused(tmp_path, suite_file, flag, says):
    store = tmp_path / "s.db"
    r = invoke("run", str(suite_file), *flag, "--store", str(store))
    assert r.exit_code == 2 and r.output.startswith("error: ") and says in r.output
    assert not store.exists()


def test_a_suite_must_be_the_only_task(tmp_path, suite_file):
    r = invoke("run", str(suite_file), str(tmp_path / "cases.jsonl"), "--store",
               str(tmp_path / "s.db"))
    assert r.exit_code == 2 and "must be the only TASK" in r.output


def test_a_bad_suite_is_refused_before_any_request(tmp_path, suite_file):
    store = tmp_path / "s.db"
    suite_file.write_text(suite_file.read_text() + "temprature: 0\n")
    r = invoke("run", str(suite_file), "--store", str(store))
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"error: {suite_file}:7: field 'temprature': unknown key")
    assert not store.exists()


@pytest.mark.parametrize(("old", "new", "says"), [
    ("targets: [mock/echo]", "targets: mock/echo", ":3: field 'targets': expected: input "
     "should be a valid list; received 'mock/echo'"),
    ("'Please say {input}'", "'Please say it'", ":6: field 'templates.chatty' ('Please say it') "
     "uses no field"),
    ("tasks: [cases.jsonl]", "tasks: [cases.jsonl, demo_unti]", ":2: field 'tasks[1]' "
     "('demo_unti'): Unknown task 'demo_unti'. Did you mean 'demo_unit'"),
])
def test_bad_suites_are_refused_with_file_line_and_field(tmp_path, suite_file, old, new, says):
    store = tmp_path / "s.db"
    suite_file.write_text(suite_file.read_text().replace(old, new))
    r = invoke("run", str(suite_file), "--store", str(store))
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"error: {suite_file}"), r.output
    assert says in " ".join(r.output.split()), r.output
    assert not store.exists()


def test_a_registered_task_takes_the_suites_templates(tmp_path):
    path = tmp_path / "builtin.yaml"
    path.write_text("name: b\ntasks: [demo_unit]\ntargets: [mock/echo]\nlimit: 2\n"
                    "templates: {own: null, asked: 'Question: {input}'}\n")
    store = tmp_path / "s.db"
    r = invoke("run", str(path), "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    cells = json.loads(r.stdout)["runs"]
    assert [(c["task"], c["template"]) for c in cells] == [("demo_unit", "own"),
                                                           ("demo_unit", "asked")]
    with Store.open(str(store)) as st:
        own, asked = (next(st.iter_samples(c["run_id"])) for c in cells)
    assert asked.output == f"Question: {own.output}"


def test_an_eval_file_still_runs_as_before(tmp_path):
    data = write_data(tmp_path / "cases.jsonl", 4)
    ev = tmp_path / "e.yaml"
    ev.write_text(f"name: e\ndataset: {data}\ntemplate: '{{input}}'\n")
    r = invoke("run", str(ev), "-m", "mock/echo", "--store", str(tmp_path / "s.db"), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tasks"][0]["metrics"]["exact_match"]["estimate"] == 1.0


def test_the_documented_example_runs_and_selects(tmp_path):
    store = tmp_path / "s.db"
    r = invoke("run", str(EXAMPLE), "--store", str(store))
    assert r.exit_code == 0, r.output
    assert "Suite greetings-prompts: 3 runs" in r.output
    r = invoke("select", "--suite", "greetings-prompts", "--by", "category", "--store",
               str(store))
    assert r.exit_code == 0, r.output
    assert "bare is best" in r.output and "category long" in r.output


def _blocks(lang: str) -> list[str]:
    import re

    doc = (EXAMPLE.parents[2] / "docs" / "matrix.md").read_text(encoding="utf-8")
    return re.findall(rf"```{lang}\n(.*?)```", doc, flags=re.S)


def test_the_commands_on_the_docs_page_run_and_print_what_it_shows(tmp_path):
    import shutil

    shutil.copytree(EXAMPLE.parent, tmp_path / "examples" / "matrix")
    script = "set -euo pipefail\n" + "\n".join(_blocks("bash"))
    env = {**os.environ, "EVALSTACK_STORE": str(tmp_path / "store.db"), "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    shown = _blocks("text")[0].strip()
    assert shown in proc.stdout


def test_the_example_suite_on_the_docs_page_is_valid(tmp_path):
    """The annotated schema on the page is a suite that loads (its files made up here)."""
    from evalstack.runner.matrix import load_suite

    page = [b for b in _blocks("yaml") if "kind: suite" in b][0]
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "repeat.txt").write_text("Repeat: {input}\n")
    write_data(tmp_path / "greetings.jsonl", 3)
    path = tmp_path / "suite.yaml"
    path.write_text(page)
    loaded = load_suite(path)
    assert [t.name for t in loaded.templates] == ["bare", "polite", "instructed", "briefly",
                                                  "own"]
    assert len(loaded.targets) == 2 and loaded.limit == 100
