"""The ``http/...`` target against a real FastAPI app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.types import GenerateRequest, Sample
from evalstack.providers.http_app import HttpAppProvider, render_body
from evalstack.store import Store

DOCS = {"d1": "Paris is the capital of France.", "d2": "Rome is the capital of Italy.",
        "d3": "Berlin is the capital of Germany."}


def _app(seen: list[dict[str, Any]], failures: dict[str, int]) -> Any:
    app = FastAPI()

    @app.post("/ask")
    async def ask(request: Request) -> Any:
        body = await request.json()
        seen.append({"body": body, "auth": request.headers.get("authorization")})
        question = body["question"]
        mode = body.get("mode", "ok")
        if mode == "flaky" and failures.setdefault(question, 0) < 1:
            failures[question] += 1
            return JSONResponse({"error": "busy"}, status_code=503)
        if mode == "bad_request":
            return JSONResponse({"error": "no such user"}, status_code=400)
        if mode == "text":
            return PlainTextResponse("I am not JSON")
        if mode == "no_answer":
            return {"result": question}
        if mode == "bad_ids":
            return {"answer": question, "sources": "d1,d2"}
        hits = [d for d, text in DOCS.items() if question.split()[0].lower() in text.lower()]
        return {"answer": question, "sources": [{"doc_id": d, "passage": DOCS[d], "score": 0.5}
                                                for d in hits],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3}, "trace": "t-" + question}

    return app


@pytest.fixture
def app_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    import uvicorn

    seen: list[dict[str, Any]] = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(seen, {}), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start within 15 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/ask", seen
    server.should_exit = True
    thread.join(timeout=10)


ARGS = ["-M", 'body={"question": "{input}", "mode": "{mode}", "user": "{user}"}',
        "-M", "answer=answer", "-M", "contexts=sources", "-M", "context_id=doc_id",
        "-M", "context_text=passage", "-M", "input_tokens=usage.prompt_tokens",
        "-M", "output_tokens=usage.completion_tokens", "-M", "trace_id=trace"]


def _data(path: Path, modes: list[str]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i, mode in enumerate(modes):
            question = ["Paris question", "Rome question", "Berlin question"][i % 3] + f" {i}"
            fh.write(json.dumps({"id": f"q{i}", "input": question, "target": question,
                                 "mode": mode, "user": f"u{i}"}) + "\n")
    return path


def _run(store: Path, data: Path, url: str, *extra: str) -> Result:
    result = CliRunner().invoke(cli, ["run", str(data), "-m", f"http/{url}", *ARGS, *extra,
                                      "--store", str(store), "--no-progress", "--json"])
    assert "Traceback" not in result.output, result.output
    return result


def test_a_pipeline_reply_is_stored_with_its_documents_tokens_and_trace(
        tmp_path: Path, app_url: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = app_url
    data = _data(tmp_path / "cases.jsonl", ["ok", "ok", "flaky"])
    result = _run(tmp_path / "s.db", data, url)
    assert result.exit_code == 0, result.output
    (task,) = json.loads(result.stdout)["tasks"]
    assert (task["samples"], task["errors"]) == (3, 0)
    assert task["metrics"]["exact_match"]["estimate"] == 1.0
    # the body template: the sample's input and metadata, never its target field as such
    assert {"question": "Paris question 0", "mode": "ok", "user": "u0"} in [s["body"] for s in seen]
    assert len(seen) == 4  # the 503 was retried once by the model layer
    store = Store.open(str(tmp_path / "s.db"))
    (run,) = store.list_runs()
    samples = {s.sample_id: s for s in store.iter_samples(run.id)}
    pipe = samples["q0"].metadata["pipeline"]
    assert [c["id"] for c in pipe["contexts"]] == ["d1"]
    assert pipe["contexts"][0]["text"] == DOCS["d1"] and pipe["trace_id"] == "t-Paris question 0"
    assert (samples["q1"].input_tokens, samples["q1"].output_tokens) == (7, 3)
    # a repeated run is served from the cache, keyed on the sample's fields too
    again = _run(tmp_path / "s.db", data, url)
    assert again.exit_code == 0, again.output
    assert len(seen) == 4
    second = next(r for r in Store.open(str(tmp_path / "s.db")).list_runs() if r.id != run.id)
    assert all(s.cached for s in store.iter_samples(second.id))
    assert len(list(store.iter_samples(second.id))) == 3


@pytest.mark.parametrize(("mode", "expected"), [
    ("bad_request", "HTTP 400"),
    ("text", "expected a JSON body at the reply; found str I am not JSON"),
    ("no_answer", "expected the answer text (a string) at path 'answer'; found nothing. "
                  "Reply: {\"result\""),
    ("bad_ids", "expected a list of documents at path 'sources'; found str d1,d2"),
])
def test_a_bad_reply_is_an_error_for_that_sample_only(
        tmp_path: Path, app_url: tuple[str, list[dict[str, Any]]], mode: str,
        expected: str) -> None:
    url, _ = app_url
    data = _data(tmp_path / "cases.jsonl", ["ok", mode, "ok"])
    result = _run(tmp_path / "s.db", data, url, "--error-budget", "0.5")
    assert result.exit_code == 0, result.output
    (task,) = json.loads(result.stdout)["tasks"]
    assert (task["samples"], task["errors"]) == (3, 1)
    store = Store.open(str(tmp_path / "s.db"))
    (run,) = store.list_runs()
    by_id = {s.sample_id: s for s in store.iter_samples(run.id)}
    assert by_id["q0"].error is None and by_id["q2"].error is None
    assert by_id["q1"].error is not None and expected in by_id["q1"].error, by_id["q1"].error


def test_a_missing_template_field_names_the_field_and_what_the_sample_has() -> None:
    provider = HttpAppProvider("127.0.0.1:9/ask", body='{"q": "{question}"}')
    request = GenerateRequest.from_prompt("hi")
    request = GenerateRequest(request.messages, sample=Sample("s1", "hi", "x"))
    import asyncio

    with pytest.raises(ProviderError, match=r"asks for \{question\}.*Its fields: id, input, "
                                            r"messages, prompt"):
        asyncio.run(provider.generate(request))


def test_bad_arguments_are_config_errors_before_any_request(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    with pytest.raises(ConfigError, match="unknown model argument"):
        HttpAppProvider("127.0.0.1:8000/ask", answr="x")
    with pytest.raises(ConfigError, match="not a JMESPath expression"):
        HttpAppProvider("127.0.0.1:8000/ask", answer="a[")
    with pytest.raises(ConfigError, match="body= must be a JSON template"):
        HttpAppProvider("127.0.0.1:8000/ask", body="{input")
    monkeypatch.delenv("APP_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="APP_TOKEN is not set"):
        HttpAppProvider("127.0.0.1:8000/ask", bearer_env="APP_TOKEN")


def test_the_token_comes_from_the_environment_and_is_never_stored(
        tmp_path: Path, app_url: tuple[str, list[dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = app_url
    monkeypatch.setenv("APP_TOKEN", "tok-very-secret-123")
    data = _data(tmp_path / "cases.jsonl", ["ok"])
    result = _run(tmp_path / "s.db", data, url, "-M", "bearer_env=APP_TOKEN")
    assert result.exit_code == 0, result.output
    assert seen[-1]["auth"] == "Bearer tok-very-secret-123"
    assert b"tok-very-secret-123" not in (tmp_path / "s.db").read_bytes()


def test_render_body_keeps_types_and_literal_braces() -> None:
    fields = {"input": "x", "messages": [{"role": "user", "content": "x"}], "n": 2}
    assert render_body({"m": "{messages}", "t": "{{not}} {n}"}, fields, "http/x") == {
        "m": [{"role": "user", "content": "x"}], "t": "{not} 2"}
