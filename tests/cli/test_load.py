"""``evalstack load``: the knee of a server with a known capacity, a quality drop under
overload, bad flags refused plainly, and the pure statistics behind the report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError
from evalstack.runner.load import (
    LevelRun,
    Outcome,
    choose_knee,
    parse_levels,
    percentile,
    summarize_levels,
)
from evalstack.testing import FakeServer

LEVELS = "1,2,4,8,16,32,64"


@pytest.fixture
def echo_task(tmp_path: Path) -> Path:
    """64 samples whose target is their input: an echoing server scores 1 on each."""
    path = tmp_path / "echo.jsonl"
    rows = [{"id": f"s{i:02d}", "input": f"answer {i}", "target": f"answer {i}"}
            for i in range(64)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["load", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def load_json(server: FakeServer, task: Path, *flags: str) -> dict[str, Any]:
    r = invoke("openai/m", str(task), "-M", f"base_url={server.url}", "--json", *flags)
    assert r.exit_code == 0, r.output
    report: dict[str, Any] = json.loads(r.stdout)
    return report


def by_level(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["level"]: r for r in report["results"]}


def test_knee_at_the_servers_capacity(echo_task: Path) -> None:
    # 60 ms per request, 8 at once: up to 8 in flight a request takes ~60 ms; at 16 half of
    # them wait a turn (~120 ms), past the 100 ms SLO.
    with FakeServer(capacity=8, latency_ms=60) as server:
        report = load_json(server, echo_task, "--levels", LEVELS, "--samples", "64",
                           "--slo-ms", "100")
        assert server.stats()["max_serving"] == 8
    levels = by_level(report)
    assert report["knee"] in (4, 8, 16), report["excluded"]
    for level in (32, 64):
        assert any("p95" in why for why in levels[level]["excluded"])
    for r in report["results"]:
        assert r["n"] == 64
        assert r["quality"]["estimate"] == 1.0
        assert r["error_rate"]["estimate"] == 0.0 and r["timeout_rate"]["n"] == 64
        p95 = r["latency_ms"]["p95"]
        assert p95["ci_low"] <= p95["estimate"] <= p95["ci_high"] and p95["n"] == 64
    # throughput stops rising at the capacity: ~8 / 60 ms
    assert levels[64]["throughput"]["estimate"] < 1.6 * levels[8]["throughput"]["estimate"]


def test_degraded_answers_above_16_are_a_significant_drop(echo_task: Path) -> None:
    with FakeServer(degrade_above=16, latency_ms=20) as server:
        report = load_json(server, echo_task, "--levels", LEVELS, "--samples", "64")
    levels = by_level(report)
    assert report["knee"] == 16
    assert levels[1]["quality_vs_lowest"] is None
    for level in (2, 4, 8, 16):
        assert levels[level]["quality_vs_lowest"]["estimate"] == 0.0
        assert levels[level]["excluded"] == []
    for level in (32, 64):
        vs = levels[level]["quality_vs_lowest"]
        assert vs["method"].startswith("mcnemar") and vs["n"] == 64
        assert vs["estimate"] < 0 and vs["ci_high"] < 0 and vs["p_value"] < 0.05
        assert any(why.startswith("quality") for why in levels[level]["excluded"])


def test_table_output_names_the_knee(echo_task: Path) -> None:
    r = invoke("mock/echo", str(echo_task), "--levels", "4,1", "--samples", "8",
               "--slo-ms", "1000", "--format", "markdown")
    assert r.exit_code == 0, r.output
    assert "| level |" in r.stdout and "(baseline)" in r.stdout
    assert "Knee: 4" in r.stdout


def test_seconds_limit_stops_a_level(echo_task: Path) -> None:
    with FakeServer(latency_ms=100) as server:
        report = load_json(server, echo_task, "--levels", "1", "--seconds", "0.5")
    level = report["results"][0]
    assert level["stopped"] is True and 0 < level["n"] < 64
    assert level["seconds"] == 0.5


@pytest.mark.parametrize(("levels", "message"), [
    ("0,1", "integers >= 1"),
    ("1,two", "'two' is not an integer"),
    ("", "integers >= 1"),
    ("1,,2", "integers >= 1"),
    ("1.5", "'1.5' is not an integer"),
    ("2000", "at most 1024"),
])
def test_bad_levels_are_refused(echo_task: Path, levels: str, message: str) -> None:
    r = invoke("mock/echo", str(echo_task), "--levels", levels)
    assert r.exit_code >= 2
    assert "--levels" in r.output and message in r.output


@pytest.mark.parametrize(("flags", "message"), [
    (["--metric", "f2"], "--metric 'f2' is not a score"),
    (["--slo-ms", "-5"], "--slo-ms"),
    (["--samples", "0"], "--samples"),
    (["--seconds", "nan"], "--seconds"),
    (["--alpha", "5"], "--alpha"),
])
def test_bad_flags_are_refused(echo_task: Path, flags: list[str], message: str) -> None:
    r = invoke("mock/echo", str(echo_task), *flags)
    assert r.exit_code >= 2
    assert message in r.output


# -- the pure parts -----------------------------------------------------------------------


def test_parse_levels_sorts_and_deduplicates() -> None:
    assert parse_levels("16, 1,4,4,2") == [1, 2, 4, 16]
    with pytest.raises(ConfigError):
        parse_levels("-1")


def test_percentile_interval_and_timeouts() -> None:
    r = percentile([10.0] * 90 + [math.inf] * 10, 0.95)
    assert math.isinf(r.estimate) and r.ci_low == 10.0 and r.n == 100
    empty = percentile([], 0.5)
    assert empty.n == 0 and math.isnan(empty.estimate)


def _run(level: int, latency: float, wrong: int = 0, errors: int = 0) -> LevelRun:
    out = {}
    for i in range(40):
        error = "HTTP 500" if i < errors else None
        score = 0.0 if i < wrong else 1.0
        out[(f"s{i}", 1)] = Outcome(latency, error, None if error else score)
    return LevelRun(level, 1.0, out)


def test_choose_knee_gives_reasons() -> None:
    runs = [_run(1, 50), _run(2, 50), _run(4, 50, wrong=20), _run(8, 500), _run(16, 50,
                                                                              errors=20)]
    knee = choose_knee(summarize_levels(runs), slo_ms=100)
    assert knee.level == 2
    assert knee.excluded[4][0].startswith("quality")
    assert knee.excluded[8] == ["p95 500 ms > SLO 100 ms"]
    assert knee.excluded[16][0].startswith("failures")
    assert choose_knee(summarize_levels([_run(1, 500)]), slo_ms=100).level is None


# -- the stored load test -----------------------------------------------------------------


def test_each_load_test_is_stored_and_its_id_printed(echo_task: Path, tmp_path: Path) -> None:
    from evalstack.store import Store
    from evalstack.store.loadtests import get_load_test, list_load_tests

    url = str(tmp_path / "load.db")
    with FakeServer(latency_ms=5) as server:
        report = load_json(server, echo_task, "--levels", "1,4", "--samples", "8",
                           "--store", url, "-M", "api_key=sk-not-stored", "--seed", "3")
    with Store.open(url, create=False) as store:
        (stored,) = list_load_tests(store)
        again = get_load_test(store, report["load_test_id"][:12])
    assert stored.id == report["load_test_id"] == again.id
    assert stored.model == "openai/m" and stored.task_name == "echo"
    assert stored.metric == "exact_match" and stored.knee == report["knee"] == 4
    assert stored.levels == report["results"]
    assert stored.settings["levels"] == [1, 4] and stored.settings["samples"] == 8
    assert stored.settings["seed"] == 3 and stored.settings["task_version"] == 1
    assert stored.model_args == {"base_url": server.url}  # the secret argument is dropped
    assert stored.as_report() == report  # what --json printed, read back


def test_the_table_names_the_stored_load_test(echo_task: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from evalstack.store import Store
    from evalstack.store.loadtests import list_load_tests

    monkeypatch.setenv("EVALSTACK_STORE", str(tmp_path / "default.db"))  # the default store
    report = tmp_path / "load.html"
    r = invoke("mock/echo", str(echo_task), "--levels", "1,2", "--samples", "4",
               "--report", str(report))
    assert r.exit_code == 0, r.output
    with Store.open(str(tmp_path / "default.db"), create=False) as store:
        (stored,) = list_load_tests(store)
    assert f"Stored as load test {stored.id}" in r.stdout
    assert f"evalstack report --load {stored.id}" in r.stdout
    html = report.read_text(encoding="utf-8")
    assert stored.id in html and html.count("<svg") == 3


def test_a_store_that_fails_on_saving_still_shows_what_was_measured(
        echo_task: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalstack.core.errors import StoreError
    from evalstack.store import loadtests

    def refuse(store: Any, record: Any) -> None:
        raise StoreError("The store is read-only.")

    monkeypatch.setattr(loadtests, "save_load_test", refuse)
    r = invoke("mock/echo", str(echo_task), "--levels", "1,2", "--samples", "4", "--json")
    assert r.exit_code == StoreError.exit_code
    assert json.loads(r.stdout)["knee"] == 2 and "read-only" in r.stderr
