"""End to end over HTTP against the local fake OpenAI-compatible server (loopback only)."""

import json

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer

METRIC_KEYS = {"estimate", "ci_low", "ci_high", "n"}


def _data(tmp_path, n: int):
    path = tmp_path / "cases.jsonl"
    with open(path, "w") as fh:
        for i in range(n):
            text = f"case {i}"
            target = text if i % 4 else "something else"
            fh.write(json.dumps({"id": f"c{i}", "input": text, "target": target,
                                 "category": f"g{i % 3}"}) + "\n")
    return path


def _invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def check_schema(out: dict) -> None:
    """The documented --json schema (docs/results-schema.md)."""
    assert {"run_id", "status", "tasks"} <= set(out)
    for t in out["tasks"]:
        assert {"task", "model", "samples", "errors", "metrics", "cost_usd", "latency_ms"} <= set(t)
        assert set(t["latency_ms"]) == {"p50", "p95"}
        for m in t["metrics"].values():
            assert METRIC_KEYS <= set(m)
            assert m["ci_low"] <= m["estimate"] <= m["ci_high"]


def test_jsonl_unit_eval_against_openai_compatible_server(tmp_path):
    data = _data(tmp_path, 40)
    with FakeServer(latency_ms=1) as server:
        r = _invoke("run", data, "-m", "openai/fake-model", "-M", f"base_url={server.url}",
                    "--scorer", "exact_match", "--scorer", "f1", "--json")
        assert r.exit_code == 0, r.output
        assert server.stats()["requests"] == 40
    out = json.loads(r.output)
    check_schema(out)
    t = out["tasks"][0]
    assert t["samples"] == 40 and t["errors"] == 0
    assert t["metrics"]["exact_match"]["estimate"] == pytest.approx(30 / 40)
    assert t["metrics"]["exact_match"]["n"] == 40
    assert set(t["categories"]) == {"g0", "g1", "g2"}
    assert t["latency_ms"]["p50"] >= 1.0


def test_thirty_percent_faults_every_sample_completes(tmp_path):
    data = _data(tmp_path, 1000)
    with FakeServer(fail_rate=0.3, fault_kinds=("429", "500", "hang"), hang_seconds=5,
                    retry_after=0.5, seed=7) as server:
        r = _invoke("run", data, "-m", "openai/fake-model", "-M", f"base_url={server.url}",
                    "--timeout", "1", "--max-retries", "12", "--concurrency", "64", "--json")
        stats = server.stats()
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    t = out["tasks"][0]
    assert t["samples"] == 1000 and t["errors"] == 0
    assert t["metrics"]["exact_match"]["n"] == 1000
    faults = stats["faults"]
    assert faults.get("429", 0) > 50 and faults.get("500", 0) > 50 and faults.get("hang", 0) > 50
    with Store.open(None) as store:
        attempts = [rec.attempts for rec in store.iter_samples(t["run_id"])]
    assert sum(attempts) == stats["requests"]


def test_canary_api_key_is_never_stored_exported_logged_or_reported(tmp_path, monkeypatch):
    canary = "sk-canary-7f3a9c1e5b2d4f60a8e1"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    store_file = tmp_path / "canary.db"
    data = _data(tmp_path, 12)
    outputs = []
    with FakeServer(api_key=canary) as good:
        r = _invoke("run", data, "-m", "openai/m", "-M", f"base_url={good.url}",
                    "--store", store_file, "--report", tmp_path / "report.html", "--json")
        assert r.exit_code == 0, r.output
        outputs.append(r.output)
    # a server that rejects the key and quotes it back in its error body
    with FakeServer(api_key="sk-other-key-000000") as bad:
        r = _invoke("run", data, "-m", "openai/m2", "-M", f"base_url={bad.url}",
                    "-M", f"api_key={canary}", "--store", store_file, "--error-budget", "1")
        assert r.exit_code == 0, r.output
        outputs.append(r.output)
    with Store.open(str(store_file)) as store:
        runs = store.list_runs()
        errors = [s.error for run in runs for s in store.iter_samples(run.id) if s.error]
    assert len(errors) == 12 and all("401" in e for e in errors)
    for run in runs:
        for fmt in ("jsonl", "csv", "parquet"):
            out = tmp_path / f"{run.id}.{fmt}"
            r = _invoke("export", run.id, "--format", fmt, "-o", out, "--store", store_file)
            assert r.exit_code == 0
            outputs.append(r.output)
        r = _invoke("show", run.id, "--store", store_file)
        outputs.append(r.output)
        assert "api_key" not in json.dumps(run.model_args)
    r = _invoke("runs", "--store", store_file)
    outputs.append(r.output)
    for text in outputs:
        assert canary not in text
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.suffix == ".html" for p in files)
    for p in files:
        assert canary.encode() not in p.read_bytes(), p


# -- servers that differ from OpenAI's (the fake server's flavours) ------------------------


def _mmlu(server, *extra):
    return _invoke("run", "demo_mmlu", "-m", "openai/m", "-M", f"base_url={server.url}",
                   "-M", "api=completions", "--limit", "8", *extra)


def test_every_request_of_a_run_carries_max_tokens_and_temperature(tmp_path):
    data = _data(tmp_path, 10)
    with FakeServer(flavour="llamacpp") as server:
        r = _invoke("run", data, "-m", "openai/fake-model", "-M", f"base_url={server.url}",
                    "--json")
        bodies = server.bodies()
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["tasks"][0]["errors"] == 0
    assert len(bodies) == 10
    assert all(b["max_tokens"] == 512 and b["temperature"] == 0.0 for b in bodies)


def test_loglikelihood_on_a_llamacpp_like_server_sends_max_tokens_1(tmp_path):
    with FakeServer(flavour="llamacpp") as server:
        r = _mmlu(server, "--json")
        bodies = server.bodies("/v1/completions")
    assert r.exit_code == 0, r.output
    t = json.loads(r.output)["tasks"][0]
    assert t["samples"] == 8 and t["errors"] == 0
    # The echo self-check's two requests (one plain, one echoed), then one echo per option.
    assert len(bodies) == 2 + 8 * 4
    assert all(b["max_tokens"] == 1 for b in bodies)
    assert [b.get("echo") for b in bodies].count(True) == 1 + 8 * 4


def test_a_server_without_prompt_logprobs_stops_the_run_with_the_alternatives(tmp_path):
    with FakeServer(echo="none") as server:
        r = _mmlu(server)
        requests = server.stats()["requests"]
        assert r.exit_code == 2, r.output
        assert r.output.startswith("error: ") and "cannot score continuations" in r.output
        assert "-T method=generate" in r.output and "llamacpp/<file.gguf>" in r.output
        assert requests <= 2 + 8 * 4  # the self-check, then it stopped at the first reply
        with Store.open(None) as store:
            (run,) = store.list_runs()
            assert run.status == "failed" and "CapabilityError" in run.error
            assert list(store.iter_samples(run.id)) == []  # nothing was scored
        # The alternative the message names works on the same server.
        r = _mmlu(server, "-T", "method=generate", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["tasks"][0]["errors"] == 0


def test_a_judge_on_a_llamacpp_like_server_negotiates_structured_output(tmp_path):
    from evalstack import RunConfig, Sample, Task, evaluate
    from evalstack.datasets import MemoryDataset
    from evalstack.providers import _structured
    from evalstack.scorers.judge.scorer import llm_judge
    from evalstack.solvers import generate

    _structured.forget()
    samples = [Sample(f"q{i}", f"question {i}?", "answer") for i in range(3)]
    with FakeServer(flavour="llamacpp") as server:
        scorer = llm_judge("openai/judge", judge_args={"base_url": server.url})
        task = Task("qa", MemoryDataset("qa", samples), generate(), [scorer])
        result = evaluate([task], ["mock/echo"], RunConfig(progress=False))
        outcomes = server.stats()["outcomes"]
    t = result.tasks[0]
    assert t.errors == 0 and t.metrics["llm_judge"].n == 3
    assert outcomes["ok"] == 3 and 1 <= outcomes["500"] <= 3  # refused forms are not retried
    assert t.provider_notes == {"llm_judge": {
        "structured_output": "json_object+schema",
        "structured_output_rejected": {"json_schema": 500},
        "server": "llama.cpp", "sampling": {"repeat_penalty": 1.0},
    }}
