"""The fake OpenAI-compatible / Anthropic server used by the tests and the benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import evalstack
from evalstack.core.errors import ConfigError
from evalstack.testing import FakeServer
from evalstack.testing.fake_server import _logprob, main


def call(
    url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` as JSON (GET when it is None); returns status, headers and JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data, {"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), json.load(resp)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.load(exc)


def chat(server: FakeServer, text: str, **extra: Any) -> tuple[int, dict[str, str], Any]:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], **extra}
    return call(server.url + "/chat/completions", body)


def test_chat_echoes_the_last_user_message_with_usage() -> None:
    with FakeServer() as s:
        body = {
            "model": "m",
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "the real question"}]},
            ],
        }
        status, _, reply = call(s.url + "/chat/completions", body)
    assert status == 200
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": "the real question"}
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["model"] == "m"
    assert reply["usage"] == {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11}


def test_reply_options_fixed_map_file_and_bytes(tmp_path: Path) -> None:
    with FakeServer(reply="fixed answer", reply_map={"2+2": "4"}) as s:
        assert chat(s, "anything")[2]["choices"][0]["message"]["content"] == "fixed answer"
        assert chat(s, "2+2")[2]["choices"][0]["message"]["content"] == "4"
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"capital of France?": "Paris"}))
    with FakeServer(reply_file=replies) as s:
        assert chat(s, "capital of France?")[2]["choices"][0]["message"]["content"] == "Paris"
        assert chat(s, "other")[2]["choices"][0]["message"]["content"] == "other"
    with FakeServer(reply_bytes=3_000_000) as s:
        content = chat(s, "big")[2]["choices"][0]["message"]["content"]
    assert content == "x" * 3_000_000


def test_max_tokens_and_stop_cut_the_reply() -> None:
    with FakeServer(reply="a b c d STOP e") as s:
        choice = chat(s, "q", max_tokens=2)[2]["choices"][0]
        assert (choice["message"]["content"], choice["finish_reason"]) == ("a b", "length")
        choice = chat(s, "q", stop=["STOP"])[2]["choices"][0]
        assert (choice["message"]["content"], choice["finish_reason"]) == ("a b c d ", "stop")


def test_completions_echo_logprobs_are_deterministic_and_cover_the_prompt() -> None:
    with FakeServer() as s:
        body = {"model": "m", "prompt": "The sky is blue", "echo": True, "logprobs": 1}
        body["max_tokens"] = 0
        status, _, reply = call(s.url + "/completions", body)
        again = call(s.url + "/completions", body)[2]
    assert status == 200
    choice = reply["choices"][0]
    assert choice["text"] == "The sky is blue" and choice["finish_reason"] == "length"
    lp = choice["logprobs"]
    assert lp["tokens"] == ["The", " sky", " is", " blue"]
    assert lp["text_offset"] == [0, 3, 7, 10]
    assert lp["token_logprobs"] == [None] + [_logprob(t) for t in lp["tokens"][1:]]
    assert all(-10 < v < 0 for v in lp["token_logprobs"][1:])
    assert again["choices"][0]["logprobs"] == lp


def test_messages_endpoint_speaks_anthropic() -> None:
    with FakeServer(model_version="claude-fake") as s:
        body = {
            "model": "claude-x",
            "max_tokens": 10,
            "system": "be brief",
            "messages": [{"role": "user", "content": "hello there"}],
        }
        status, _, reply = call(s.url + "/messages", body)
        assert status == 200
        assert reply["type"] == "message" and reply["model"] == "claude-fake"
        assert reply["content"] == [{"type": "text", "text": "hello there"}]
        assert reply["stop_reason"] == "end_turn"
        assert reply["usage"] == {"input_tokens": 4, "output_tokens": 2}
        del body["max_tokens"]
        status, _, reply = call(s.url + "/messages", body)
    assert status == 400 and reply["type"] == "error"
    assert reply["error"]["type"] == "invalid_request_error"


def test_models_stats_and_reset() -> None:
    with FakeServer() as s:
        assert call(s.url + "/models")[2]["data"][0]["id"] == "fake-model"
        for text in ["a", "b", "a"]:
            chat(s, text)
        stats = call(s.root_url + "/stats")[2]
        assert stats["requests"] == 3 and stats["prompts"] == {"a": 2, "b": 1}
        assert stats["paths"] == {"/v1/chat/completions": 3} and stats["faults_total"] == 0
        assert s.stats()["prompts"] == stats["prompts"]
        assert call(s.root_url + "/reset", {})[2] == {"ok": True}
        assert s.stats()["requests"] == 0
        chat(s, "c")
        s.reset()
        assert s.stats()["prompts"] == {}


def test_fault_rate_roughly_matches_and_is_reproducible() -> None:
    statuses = []
    with FakeServer(fail_rate=0.3, fault_kinds=("429", "500"), seed=7, retry_after=0) as s:
        for i in range(400):
            status, headers, body = chat(s, f"q{i}")
            statuses.append(status)
            if status == 429:
                assert headers["Retry-After"] == "0" and "error" in body
        stats = s.stats()
        s.reset()
        replay = [chat(s, f"q{i}")[0] for i in range(400)]
    counts = Counter(statuses)
    failed = counts[429] + counts[500]
    assert 0.22 < failed / 400 < 0.38
    assert counts[429] > 40 and counts[500] > 40  # split between the kinds
    assert stats["faults"] == {"429": counts[429], "500": counts[500]}
    assert stats["faults_total"] == failed and stats["requests"] == 400
    assert replay == statuses  # the same seed gives the same faults


def test_fail_first_cycles_through_kinds_then_succeeds() -> None:
    with FakeServer(fail_first=3, fault_kinds=("429", "503"), retry_after=None) as s:
        results = [chat(s, "q") for _ in range(4)]
    assert [r[0] for r in results] == [429, 503, 429, 200]
    assert "Retry-After" not in results[0][1]


def test_latency_is_added() -> None:
    with FakeServer(latency_ms=150) as s:
        start = time.perf_counter()
        chat(s, "slow")
        assert time.perf_counter() - start >= 0.15


def test_hang_outlasts_the_client_but_not_shutdown() -> None:
    server = FakeServer(fail_first=1, fault_kinds=("hang",), hang_seconds=30).start()
    try:
        with pytest.raises(TimeoutError):
            chat_timeout = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            call(server.url + "/chat/completions", chat_timeout, timeout=0.3)
        assert chat(server, "after")[0] == 200
        assert server.stats()["faults"] == {"hang": 1}
    finally:
        start = time.perf_counter()
        server.close()
    assert time.perf_counter() - start < 5


def test_api_key_is_required_when_set() -> None:
    with FakeServer(api_key="k1") as s:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        status, _, reply = call(s.url + "/chat/completions", body, {"Authorization": "Bearer nope"})
        assert status == 401 and "nope" in reply["error"]["message"]
        assert call(s.url + "/chat/completions", body, {"Authorization": "Bearer k1"})[0] == 200
        body = {**body, "max_tokens": 5}
        assert call(s.url + "/messages", body, {"x-api-key": "k1"})[0] == 200


def test_request_log_has_one_flushed_line_per_request(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with FakeServer(log=log, fail_first=1, fault_kinds=("500",)) as s:
        chat(s, "one")
        chat(s, "two")
        # Readable while the server still runs: each line is flushed as it is written.
        lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["path"], e["prompt"], e["outcome"]) for e in lines] == [
        ("/v1/chat/completions", "one", "500"),
        ("/v1/chat/completions", "two", "ok"),
    ]
    assert all(isinstance(e["time"], float) for e in lines)


@pytest.mark.parametrize(
    "options",
    [{"fail_rate": 1.5}, {"fault_kinds": ("teapot",)}, {"latency_ms": -1}, {"colour": "red"}],
)
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        FakeServer(**options)


def test_cli_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().out


def test_cli_starts_prints_its_url_and_serves(tmp_path: Path) -> None:
    log = tmp_path / "cli.jsonl"
    env = dict(os.environ)
    src = str(Path(evalstack.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [src, env.get("PYTHONPATH")] if p)
    command = [sys.executable, "-m", "evalstack.testing.fake_server", "--port", "0"]
    command += ["--reply", "from the cli", "--log", str(log), "--seed", "3"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        base = line.removeprefix("listening on ")
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        status, _, reply = call(base + "/v1/chat/completions", body)
        assert status == 200 and reply["choices"][0]["message"]["content"] == "from the cli"
        assert call(base + "/stats")[2]["requests"] == 1
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert json.loads(log.read_text())["outcome"] == "ok"
