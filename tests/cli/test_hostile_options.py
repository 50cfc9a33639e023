"""Careless and hostile flag values: refused before any request, with the flag, the range
expected, the value received and the fix (a "did you mean 0.02?" for percentage points);
a stalled server costs a request at most --retry-time, not --timeout x --max-retries.

Every test runs the real CLI; the network stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.types import GenerateConfig
from evalstack.model import CallPolicy, ModelContext, use_models
from evalstack.providers.mock import MockProvider
from evalstack.scorers.judge.model import JudgeModel
from evalstack.testing.fake_server import FakeServer
from tests.analysis.helpers import mock_run, write_dataset

GATE_ERROR = 3  # the gate keeps 1 and 2 for its decisions (docs/decisions.md)


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def rows(store: Path) -> dict[str, int]:
    """Rows per table of a SQLite store (an absent store has none)."""
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text('{"input": "a", "target": "a"}\n{"input": "b", "target": "b"}\n')
    return path


@pytest.fixture
def store(tmp_path: Path, data: Path) -> Path:
    """A store holding one finished run, so a refusal can be seen to lose nothing."""
    path = tmp_path / "s.db"
    r = invoke("run", str(data), "-m", "mock/echo", "--store", str(path), "--json")
    assert r.exit_code == 0, r.output
    return path


# -- evalstack run ----------------------------------------------------------------------------

BAD_RUN_OPTIONS = [
    (["--temperature", "nan"], "expected --temperature to be a finite number in [0, 2]; "
                               "received nan"),
    (["--temperature", "inf"], "expected --temperature to be a finite number in [0, 2]; "
                               "received inf"),
    (["--temperature", "-3"], "expected --temperature to be a finite number in [0, 2]; "
                              "received -3"),
    (["--temperature", "5"], "expected --temperature to be a finite number in [0, 2]; "
                             "received 5"),
    (["--max-tokens", "-1"], "expected --max-tokens to be a positive integer (>= 1); "
                             "received -1"),
    (["--max-tokens", "0"], "expected --max-tokens to be a positive integer (>= 1); received 0"),
    (["--max-tokens", "many"], "expected --max-tokens to be a positive integer (>= 1); "
                               "received 'many'"),
    (["--error-budget", "10"], "expected --error-budget to be a proportion in [0, 1]; received "
                               "10, which looks like percentage points — did you mean 0.1?"),
    (["--error-budget", "nan"], "expected --error-budget to be a proportion in [0, 1]; "
                                "received nan. Pass a number such as 0.1."),
    (["--timeout", "nan"], "expected --timeout to be a number of seconds > 0; received nan"),
    (["--timeout", "0"], "expected --timeout to be a number of seconds > 0; received 0"),
    (["--retry-time", "-1"], "expected --retry-time to be a number of seconds > 0; received -1"),
    (["--retry-time", "inf"], "expected --retry-time to be a number of seconds > 0; "
                              "received inf"),
    (["--rpm", "inf"], "expected --rpm to be a rate > 0; received inf"),
    (["--tpm", "0"], "expected --tpm to be a rate > 0; received 0"),
    (["--max-retries", "-1"], "expected --max-retries to be an integer >= 0; received -1"),
    (["--limit", "0"], "expected --limit to be a positive integer (>= 1); received 0"),
    (["--epochs", "0"], "expected --epochs to be a positive integer (>= 1); received 0"),
    (["--concurrency", "0"], "expected --concurrency to be a positive integer (>= 1); "
                             "received 0"),
    (["--max-output-chars", "1.5"], "expected --max-output-chars to be a positive integer "
                                    "(>= 1); received '1.5'"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_RUN_OPTIONS)
def test_bad_run_options_are_refused_before_anything_runs(store, data, flags, message):
    before = rows(store)
    r = invoke("run", str(data), "-m", "mock/echo", "--store", str(store), "--no-cache", *flags)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: {message}"), r.stderr
    assert "Pass a number such as" in r.stderr or "Pass an integer such as" in r.stderr or \
        "did you mean" in r.stderr
    assert rows(store) == before


def test_concurrency_has_no_upper_bound_here(data, tmp_path):
    r = invoke("run", str(data), "-m", "mock/echo", "--concurrency", "100000", "--json")
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def server():
    with FakeServer() as s:
        yield s


@pytest.mark.parametrize(("flags", "message"), [
    (["--temperature", "nan"], "expected --temperature to be"),
    (["--temperature", "-3"], "expected --temperature to be"),
    (["--max-tokens", "0"], "expected --max-tokens to be"),
])
def test_bad_generation_flags_send_no_request(server, data, flags, message):
    server.reset()
    r = invoke("run", str(data), "-m", "openai/m", "-M", f"base_url={server.url}", *flags)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert server.bodies() == []


@pytest.mark.parametrize(("config", "message"), [
    ("{temperature: .nan}", "expected temperature to be a finite number in [0, 2]; received nan"),
    ("{temperature: .inf}", "expected temperature to be a finite number in [0, 2]; received inf"),
    ("{temperature: 3}", "expected temperature to be a finite number in [0, 2]; received 3"),
    ("{max_tokens: 0}", "expected max_tokens to be a positive integer (>= 1); received 0"),
    ("{top_p: 0}", "expected top_p to be a proportion in (0, 1]; received 0"),
])
def test_an_eval_file_cannot_send_nan_either(server, data, tmp_path, config, message):
    evalfile = tmp_path / "e.yaml"
    evalfile.write_text(f"name: e\ndataset: {data}\nconfig: {config}\n")
    server.reset()
    r = invoke("run", str(evalfile), "-m", "openai/m", "-M", f"base_url={server.url}")
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert server.bodies() == []


def test_generate_config_refuses_nan_from_python_too():
    with pytest.raises(ConfigError, match="expected temperature to be a finite number"):
        GenerateConfig(temperature=float("nan"))
    with pytest.raises(ConfigError, match="expected max_tokens to be a positive integer"):
        GenerateConfig(max_tokens=-1)


def test_a_judge_temperature_of_nan_is_refused_before_the_run(server, data, store):
    before = rows(store)
    r = invoke("run", str(data), "-m", "mock/echo", "--store", str(store),
               "-s", "llm_judge:judge=mock/echo,temperature=nan")
    assert r.exit_code == 2, r.output
    assert "expected the judge's temperature to be a finite number in [0, 2]" in r.stderr
    assert rows(store) == before


def test_the_same_model_twice_is_run_once_with_a_note(data, tmp_path):
    path = tmp_path / "twice.db"
    r = invoke("run", str(data), "-m", "mock/echo", "-m", "mock/echo", "-m", "mock/constant",
               "--store", str(path), "--json")
    assert r.exit_code == 0, r.output
    assert r.stderr == "note: -m mock/echo was given 2 times; it is evaluated once.\n"
    listed = invoke("runs", "--store", str(path), "--json")
    models = sorted(json.loads(line)["model"] for line in listed.stdout.splitlines())
    assert models == ["mock/constant", "mock/echo"]


# -- the retry time budget --------------------------------------------------------------------

def test_a_stalled_server_costs_at_most_the_retry_time(data, tmp_path):
    path = tmp_path / "stall.db"
    with FakeServer(fail_rate=1.0, fault_kinds=("hang",), hang_seconds=30) as s:
        start = time.monotonic()
        r = invoke("run", str(data), "--limit", "1", "-m", "openai/m", "-M",
                   f"base_url={s.url}", "--timeout", "0.5", "--retry-time", "2",
                   "--max-retries", "8", "--error-budget", "1", "--store", str(path), "--json")
        elapsed = time.monotonic() - start
        attempts = len(s.bodies())
    assert r.exit_code == 0, r.output
    assert elapsed < 4, elapsed
    assert 1 <= attempts <= 4  # never the 9 that --max-retries alone allows
    out = json.loads(r.stdout)
    assert out["tasks"][0]["errors"] == 1
    exported = invoke("export", out["run_id"], "--store", str(path))
    error = json.loads(exported.stdout.splitlines()[0])["error"]
    assert "request timed out" in error
    assert f"gave up after {attempts} attempts in " in error
    assert "(--retry-time 2 s budget for all attempts; --timeout 0.5 s per attempt)" in error


def test_a_retry_after_beyond_the_budget_gives_up_at_once(data):
    start = time.monotonic()
    r = invoke("run", str(data), "--limit", "1", "-m", "mock/echo", "-M", "fail_rate=1",
               "-M", "fail_status=429", "-M", "retry_after=60", "--retry-time", "2",
               "--error-budget", "1", "--json", "--no-cache")
    assert r.exit_code == 0, r.output
    assert time.monotonic() - start < 2
    run_id = json.loads(r.stdout)["run_id"]
    error = json.loads(invoke("export", run_id).stdout.splitlines()[0])["error"]
    assert error.startswith("mock HTTP 429; gave up after 1 attempt in ")
    assert "--retry-time 2 s budget" in error


def test_retry_time_is_explained_in_help():
    r = invoke("run", "--help")
    assert "--retry-time" in r.output and "retries and backoffs included" in " ".join(
        r.output.split())


def test_the_judge_gives_up_within_its_retry_time():
    judge = JudgeModel(MockProvider("echo", latency_ms=10_000), max_attempts=5)
    models = ModelContext(CallPolicy(retry_time=0.3, timeout=120))

    async def go():
        with use_models(models):
            return await judge.ask([{"role": "user", "content": "Which is better?"}], str)

    start = time.monotonic()
    with pytest.raises(ScorerError, match=r"gave no usable verdict in 1 attempt\(s\): call: "
                                          r"request timed out after 0\.3s \(the rest of the "
                                          r"--retry-time budget\)"):
        asyncio.run(go())
    assert time.monotonic() - start < 2


# -- evalstack gate and the other decisions ---------------------------------------------------

@pytest.fixture
def gate_runs(tmp_path):
    data = write_dataset(tmp_path / "g.jsonl", 40)
    ok = [i % 4 != 0 for i in range(40)]
    return mock_run(tmp_path, data, "a", ok), mock_run(tmp_path, data, "b", ok)


@pytest.mark.parametrize(("drop", "message"), [
    ("2", "expected --max-drop to be a proportion in [0, 1]; received 2, which looks like "
          "percentage points — did you mean 0.02?"),
    ("1.5", "received 1.5, which looks like percentage points — did you mean 0.015?"),
    ("5", "received 5, which looks like percentage points — did you mean 0.05?"),
    ("nan", "expected --max-drop to be a proportion in [0, 1]; received nan. Pass a number "
            "such as 0.02."),
    ("-0.1", "received -0.1. Pass a number such as 0.02."),
    ("metric=3", "expected the --max-drop of category 'metric' to be a proportion in [0, 1]; "
                 "received 3, which looks like percentage points — did you mean 0.03?"),
    ("*=5", "expected the --max-drop of category '*' to be a proportion in [0, 1]; received 5, "
            "which looks like percentage points — did you mean 0.05?"),
])
def test_gate_refuses_a_drop_in_percentage_points(gate_runs, store_path, drop, message):
    base, cand = gate_runs
    before = rows(store_path)
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--max-drop", drop)
    assert r.exit_code == GATE_ERROR, r.output
    assert r.stderr.startswith("error: expected ") and "--max-drop" in r.stderr, r.stderr
    assert message in r.stderr
    assert rows(store_path) == before


@pytest.mark.parametrize(("text", "message"), [
    ("max_drop: 3\n", "expected max_drop to be a proportion in [0, 1]; received 3, which looks "
                      "like percentage points — did you mean 0.03?"),
    ("alpha: 5\n", "expected alpha to be a significance level in (0, 0.5); received 5, which "
                   "looks like percentage points — did you mean 0.05?"),
    ("power: 80\n", "expected power to be a proportion in (0, 1); received 80, which looks like "
                    "percentage points — did you mean 0.8?"),
    ("max_drop: .nan\n", "expected max_drop to be a proportion in [0, 1]; received nan"),
    ("categories:\n  algebra: 10\n", "expected the max drop of category 'algebra' to be a "
                                     "proportion in [0, 1]; received 10, which looks like "
                                     "percentage points — did you mean 0.1?"),
])
def test_gate_config_in_percentage_points_names_the_file(gate_runs, tmp_path, store_path, text,
                                                         message):
    base, cand = gate_runs
    config = tmp_path / "gate.yaml"
    config.write_text(text)
    before = rows(store_path)
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--config", str(config))
    assert r.exit_code == GATE_ERROR, r.output
    assert r.stderr.startswith(f"error: Gate config {config}: {message}"), r.stderr
    assert rows(store_path) == before


@pytest.mark.parametrize("command", ["gate", "compare", "select"])
@pytest.mark.parametrize(("alpha", "message"), [
    ("5", "received 5, which looks like percentage points — did you mean 0.05?"),
    ("nan", "received nan. Pass a number such as 0.05."),
    ("0.5", "received 0.5. Pass a number such as 0.05."),
])
def test_alpha_is_a_significance_level_everywhere(gate_runs, command, alpha, message):
    base, cand = gate_runs
    runs = ["--baseline", base, "--candidate", cand] if command == "gate" else [base, cand]
    r = invoke(command, *runs, "--alpha", alpha)
    assert r.exit_code == (GATE_ERROR if command == "gate" else 2), r.output
    assert "expected --alpha to be a significance level in (0, 0.5); " + message in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["plan", "--accuracy", "0.5", "--n", "1"], "expected --n to be an integer >= 2; received 1"),
    (["plan", "--accuracy", "0.5", "--delta", "0.05", "--epochs", "0"],
     "expected --epochs to be a positive integer (>= 1); received 0"),
    (["plan", "--accuracy", "nan", "--delta", "0.05"], "--accuracy"),
    (["plan", "--accuracy", "0.5", "--delta", "0.05", "--power", "inf"], "--power"),
    (["judge", "validate", "labels.json", "--threshold", "nan"],
     "expected --threshold to be an agreement level in (0, 1]; received nan"),
    (["judge", "validate", "labels.json", "--threshold", "60"],
     "received 60, which looks like percentage points — did you mean 0.6?"),
])
def test_other_decision_flags_are_range_checked(args, message):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_a_good_gate_still_decides(gate_runs):
    base, cand = gate_runs
    r = invoke("gate", "--baseline", base, "--candidate", cand, "--max-drop", "0.02",
               "--max-drop", "*=1", "--alpha", "0.05")
    assert r.exit_code in (0, 2), r.output
