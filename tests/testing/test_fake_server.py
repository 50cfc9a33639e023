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
from evalstack.testing.fake_server import _logprob, _parse_args, _top, main, schema_instance


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
    [
        {"fail_rate": 1.5},
        {"fault_kinds": ("teapot",)},
        {"latency_ms": -1},
        {"colour": "red"},
        {"flavour": "tgi"},
        {"echo": "maybe"},
        {"n_ctx": -1},
    ],
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


# -- flavours: where real servers differ ---------------------------------------------------

SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "enum": [1, 2, 3]}}}


def complete(server: FakeServer, prompt: str, **extra: Any) -> tuple[int, dict[str, str], Any]:
    return call(server.url + "/completions", {"model": "m", "prompt": prompt, **extra})


def test_echo_with_max_tokens_1_tokenizes_the_generated_token_apart() -> None:
    with FakeServer() as s:
        reply = complete(s, "The sky is", echo=True, logprobs=1, max_tokens=1)[2]
    choice = reply["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"] == "The sky isThe"  # the prompt, then one generated token
    assert lp["tokens"] == ["The", " sky", " is", "The"]
    assert lp["text_offset"] == [0, 3, 7, 10]
    assert lp["token_logprobs"] == [None, _logprob(" sky"), _logprob(" is"), _logprob("The")]
    assert lp["top_logprobs"][1:] == [_top(" sky"), _top(" is"), _top("The")]


def test_llamacpp_reads_max_tokens_0_as_no_limit() -> None:
    prompt = " ".join(f"w{i}" for i in range(20))
    with FakeServer(flavour="llamacpp", n_ctx=100) as s:
        zero = complete(s, prompt, max_tokens=0)[2]
        absent = complete(s, prompt)[2]
        chat_absent = chat(s, prompt)[2]
        one = complete(s, prompt, max_tokens=1)[2]
    assert zero["usage"]["completion_tokens"] == 80  # to the end of the 100-token context
    assert zero["choices"][0]["text"].startswith(prompt + " lorem lorem")
    assert zero["choices"][0]["finish_reason"] == "length"
    assert absent["usage"]["completion_tokens"] == 16  # llama-cpp-python's default
    assert chat_absent["usage"]["completion_tokens"] == 80
    assert one["choices"][0]["text"] == "w0"
    with FakeServer() as s:  # OpenAI: max_tokens 0 generates nothing
        assert complete(s, prompt, max_tokens=0)[2]["choices"][0]["text"] == ""


def _schema_format() -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "v", "strict": True, "schema": SCHEMA}}


def test_structured_output_forms_by_flavour() -> None:
    expected = json.dumps(schema_instance(SCHEMA, "q"))
    object_with_schema = {"type": "json_object", "schema": SCHEMA}
    with FakeServer(flavour="llamacpp") as s:
        status, _, reply = chat(s, "q", response_format=_schema_format())
        assert status == 500 and "response_format" in reply["error"]["message"]
        assert reply["error"]["type"] == "internal_server_error"
        reply = chat(s, "q", response_format=object_with_schema)[2]
        assert reply["choices"][0]["message"]["content"] == expected
        ignored = chat(s, "q", guided_json=SCHEMA, max_tokens=5)[2]["choices"][0]
        assert ignored["message"]["content"] == "q"
    with FakeServer(flavour="vllm") as s:
        for fmt in ({"response_format": _schema_format()}, {"guided_json": SCHEMA}):
            assert chat(s, "q", **fmt)[2]["choices"][0]["message"]["content"] == expected
        assert complete(s, "q", guided_json=SCHEMA)[2]["choices"][0]["text"] == expected
    with FakeServer() as s:  # openai
        reply = chat(s, "q", response_format=_schema_format())[2]
        assert reply["choices"][0]["message"]["content"] == expected
        assert chat(s, "q", response_format=object_with_schema)[0] == 400
        status, _, reply = chat(s, "q", guided_json=SCHEMA)
        assert status == 400 and "guided_json" in reply["error"]["message"]
        content = chat(s, "q", response_format={"type": "json_object"})[2]["choices"][0]
        assert isinstance(json.loads(content["message"]["content"]), dict)
        assert s.stats()["outcomes"] == {"ok": 2, "400": 2}


@pytest.mark.parametrize("mode", ["ignored", "text_only", "none", "rejected"])
def test_echo_modes_of_servers_without_prompt_logprobs(mode: str) -> None:
    with FakeServer(echo=mode) as s:
        status, _, reply = complete(s, "a b", echo=True, logprobs=1, max_tokens=1)
        assert complete(s, "a b", max_tokens=1)[0] == 200  # no echo: a normal reply
    if mode == "rejected":
        assert status == 400 and reply["error"]["message"] == "Only no echo is supported"
        return
    choice = reply["choices"][0]
    lp = choice["logprobs"]
    if mode == "ignored":
        assert choice["text"] == "a" and lp["tokens"] == ["a"] and lp["text_offset"] == [3]
    elif mode == "text_only":
        assert choice["text"] == "a ba" and lp["tokens"] == ["a", " b", "a"]
        assert lp["token_logprobs"] == [None, None, _logprob("a")]
    else:
        assert choice["text"] == "a ba" and lp is None


def test_only_temperature_refuses_others_with_a_400_naming_temperature() -> None:
    with FakeServer(only_temperature=1.0) as s:
        status, _, reply = chat(s, "q", temperature=0)
        assert status == 400 and "'temperature'" in reply["error"]["message"]
        assert chat(s, "q", temperature=1)[0] == 200
        assert chat(s, "q")[0] == 200  # absent: the model's default


def test_refusal_replies_have_null_content() -> None:
    with FakeServer(refusal="No.") as s:
        choice = chat(s, "q")[2]["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": None, "refusal": "No."}


def test_request_bodies_are_kept_until_reset() -> None:
    with FakeServer(fail_first=1, fault_kinds=("500",)) as s:
        chat(s, "one", max_tokens=3)
        complete(s, "two")
        call(s.url + "/chat/completions", ["not", "an", "object"])
        assert [b.get("max_tokens") for b in s.bodies()] == [3, None]
        assert s.bodies("/v1/completions") == [{"model": "m", "prompt": "two"}]
        s.reset()
        assert s.bodies() == []


def test_cli_takes_the_flavour_options() -> None:
    _, options = _parse_args(["--flavour", "llamacpp", "--echo", "none", "--only-temperature",
                              "1", "--refusal", "no", "--n-ctx", "64"])
    assert (options.flavour, options.echo, options.only_temperature) == ("llamacpp", "none", 1.0)
    assert (options.refusal, options.n_ctx) == ("no", 64)
