"""A run's judge calls go through the model layer: the run's limits and retries hold for them,
they are cached like any other response, and their cost is in the run's totals.

The judge is an OpenAI-compatible model on the test server; the server's request log tells
judge requests (with a verdict ``response_format``) from the model's own.
"""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.testing.fake_server import FakeServer

QUESTIONS = "examples/judging/questions.jsonl"


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _judge_scorer(url: str) -> str:
    return "llm_judge:" + json.dumps({"judge": "openai/gpt-4o-mini",
                                      "judge_args": {"base_url": url}})


def _run(url: str, store: str, *args: str):
    r = _invoke("run", QUESTIONS, "-m", "mock/echo", "--scorer", _judge_scorer(url),
                "--store", store, "--json", "--error-budget", "1", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["tasks"][0]


def _judge_bodies(server: FakeServer) -> list[dict]:
    return [b for b in server.bodies("/v1/chat/completions") if "response_format" in b]


def test_the_runs_rpm_holds_for_its_judge(tmp_path):
    log = tmp_path / "requests.jsonl"
    with FakeServer(log=log) as server:
        task = _run(server.url, str(tmp_path / "s.db"), "--limit", "4", "--rpm", "60")
    times = [json.loads(line)["time"] for line in log.read_text().splitlines()]
    assert task["errors"] == 0 and len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # 60 a minute is one a second (a burst of one): never two judge requests within ~1 s
    assert min(gaps) >= 0.9, gaps


def test_without_rpm_the_judge_is_not_throttled(tmp_path):
    """The check above can fail: unthrottled, the same judge requests come at once."""
    log = tmp_path / "requests.jsonl"
    with FakeServer(log=log) as server:
        _run(server.url, str(tmp_path / "s.db"), "--limit", "4")
    times = [json.loads(line)["time"] for line in log.read_text().splitlines()]
    assert len(times) == 4 and times[-1] - times[0] < 0.9


def test_max_retries_zero_means_a_judge_429_is_not_retried(tmp_path):
    with FakeServer(fail_first=1, fault_kinds=("429",), retry_after=0) as server:
        task = _run(server.url, str(tmp_path / "a.db"), "--limit", "1", "--max-retries", "0",
                    "--no-cache")
        assert server.stats()["requests"] == 1
        export = _invoke("export", task["run_id"], "--store", str(tmp_path / "a.db"))
    score = json.loads(export.stdout.splitlines()[0])["scores"]["llm_judge"]
    assert "429" in json.dumps(score)
    assert "llm_judge" not in task["metrics"]  # a judge error is no score
    # with the default retries the same 429 is retried and the sample is judged
    with FakeServer(fail_first=1, fault_kinds=("429",), retry_after=0) as server:
        task = _run(server.url, str(tmp_path / "b.db"), "--limit", "1", "--no-cache")
        assert server.stats()["requests"] == 2
    assert task["metrics"]["llm_judge"]["n"] == 1


def test_a_repeated_judge_run_is_served_from_the_cache(tmp_path):
    store = str(tmp_path / "s.db")
    with FakeServer() as server:
        first = _run(server.url, store, "--limit", "3")
        assert len(_judge_bodies(server)) == 3
        server.reset()
        again = _run(server.url, store, "--limit", "3")
        assert server.stats()["requests"] == 0
    assert again["metrics"]["llm_judge"] == first["metrics"]["llm_judge"]


def test_the_judges_cost_is_in_show_json_and_the_report(tmp_path):
    store = str(tmp_path / "s.db")
    with FakeServer() as server:
        r = _invoke("run", QUESTIONS, "-m", "openai/gpt-4o-mini", "-M",
                    f"base_url={server.url}", "--scorer", _judge_scorer(server.url),
                    "--limit", "3", "--store", store, "--json")
        assert r.exit_code == 0, r.output
        task = json.loads(r.stdout)["tasks"][0]
        run_id = task["run_id"]
        shown = _invoke("show", run_id, "--store", store)
        report = tmp_path / "report.html"
        assert _invoke("report", run_id, "-o", str(report), "--store", store).exit_code == 0
    model, judge = task["cost_usd"], task["judge_cost_usd"]
    assert model > 0 and judge > 0 and task["judge_input_tokens"] > 0
    assert abs(task["total_cost_usd"] - (model + judge)) < 1e-12
    text = " ".join(shown.output.split())
    expected = f"cost ${model + judge:.4f} (model ${model:.4f} + judge ${judge:.4f})"
    assert expected in text, text
    assert re.search(r"judge \d+ in / \d+ out", text)
    assert expected in report.read_text()


def _validate(url: str, store: str, *args: str):
    return _invoke("judge", "validate", "examples/judging/labels.jsonl", "--judge",
                   "openai/gpt-4o-mini", "-M", f"base_url={url}", "--scale", "1-5",
                   "--probes", "none", "--no-progress", "--resamples", "200", "--json",
                   "--store", store, *args)


def test_judge_validate_takes_the_runs_limits_and_caches(tmp_path):
    store = str(tmp_path / "s.db")
    log = tmp_path / "requests.jsonl"
    with FakeServer(log=log) as server:
        r = _validate(server.url, store, "--limit", "3", "--rpm", "60")
        assert r.exit_code == 0, r.output
        times = [json.loads(line)["time"] for line in log.read_text().splitlines()]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) >= 3 and min(gaps) >= 0.9, gaps
        server.reset()
        again = _validate(server.url, store, "--limit", "3")
        assert again.exit_code == 0, again.output
        assert server.stats()["requests"] == 0  # every verdict from the cache
    assert json.loads(again.stdout)["n_items"] == json.loads(r.stdout)["n_items"] == 3


def test_judge_validate_max_retries_zero_does_not_retry_a_429(tmp_path):
    counts = {}
    for retries in ("0", "8"):
        with FakeServer(fail_first=1, fault_kinds=("429",), retry_after=0) as server:
            r = _validate(server.url, str(tmp_path / f"{retries}.db"), "--limit", "2",
                          "--max-retries", retries, "--no-cache")
            counts[retries] = server.stats()["requests"]
        assert r.exit_code == 0, r.output
        if retries == "0":
            assert "1 of 2 items got no usable verdict" in r.output
    assert counts["8"] == counts["0"] + 1  # only the retry differs
