"""The OpenAI-compatible provider against the in-process fake server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from evalstack.core import registry
from evalstack.core.errors import CapabilityError, ConfigError, ProviderError
from evalstack.core.provider import ModelProvider
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodRequest,
)
from evalstack.providers._http import parse_retry_after, retry_after_from_headers
from evalstack.providers.openai_compat import OpenAICompatProvider
from evalstack.testing.fake_server import FakeServer, _logprob, _top

SECRET = "sk-test-DO-NOT-LEAK-1234567890"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(model_version="fake-2024-01") as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def with_provider(fn: Callable[[OpenAICompatProvider], Awaitable[Any]], **args: Any) -> Any:
    """Build a provider, run ``fn`` with it on a fresh loop, and always close it."""

    async def go() -> Any:
        provider = OpenAICompatProvider("fake", **args)
        try:
            return await fn(provider)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def failure(fn: Callable[[OpenAICompatProvider], Awaitable[Any]], **args: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        with_provider(fn, **args)
    return info.value


def ask(prompt: str, **config: Any) -> Callable[[OpenAICompatProvider], Awaitable[Any]]:
    request = GenerateRequest.from_prompt(prompt, GenerateConfig(**config))
    return lambda p: p.generate(request)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chat_generate_returns_text_usage_and_model_version(server: FakeServer) -> None:
    server.reset()
    out = with_provider(ask("hello fake world"), base_url=server.url)
    assert out.text == "hello fake world"
    assert (out.input_tokens, out.output_tokens) == (3, 3)
    assert out.model_version == "fake-2024-01"
    assert out.finish_reason == "stop"
    assert out.truncated is False and out.logprobs is None
    sent = server.stats()["last_request"]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"] == {
        "model": "fake",
        "messages": [{"role": "user", "content": "hello fake world"}],
    }


def test_generate_config_fields_are_sent_only_when_set(server: FakeServer) -> None:
    server.reset()
    out = with_provider(
        ask("one two three four", max_tokens=2, temperature=0.5, top_p=0.9, stop=("zz",), seed=7),
        base_url=server.url,
        extra_body={"temperature": 1.5, "user": "eval"},
    )
    assert out.text == "one two" and out.finish_reason == "length"
    body = server.stats()["last_request"]["body"]
    assert body["max_tokens"] == 2 and body["top_p"] == 0.9 and body["seed"] == 7
    assert body["stop"] == ["zz"]
    assert body["temperature"] == 0.5  # the request's setting beats extra_body
    assert body["user"] == "eval"


def test_completions_generate_renders_a_prompt(server: FakeServer) -> None:
    server.reset()
    out = with_provider(ask("2 + 2 ="), base_url=server.url, api="completions")
    assert out.text == "2 + 2 ="
    assert (out.input_tokens, out.output_tokens, out.model_version) == (4, 4, "fake-2024-01")
    assert server.stats()["last_request"]["body"]["prompt"] == "2 + 2 ="

    chat = GenerateRequest((ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")))
    with_provider(lambda p: p.generate(chat), base_url=server.url, api="completions")
    prompt = server.stats()["last_request"]["body"]["prompt"]
    assert prompt == "system: Be brief.\nuser: Hi\nassistant:"


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_logprobs_are_returned_when_requested(server: FakeServer, api: str) -> None:
    out = with_provider(ask("alpha beta gamma", logprobs=True), base_url=server.url, api=api)
    assert out.logprobs == tuple(_logprob(t) for t in ["alpha", " beta", " gamma"])
    body = server.stats()["last_request"]["body"]
    assert body["logprobs"] == (True if api == "chat" else 1)


def test_loglikelihood_sums_continuation_tokens_by_offset(server: FakeServer) -> None:
    server.reset()
    request = LoglikelihoodRequest("The capital is", (" Paris", " London town"))
    out = with_provider(lambda p: p.loglikelihood(request), base_url=server.url, api="completions")
    expected = (_logprob(" Paris"), _logprob(" London") + _logprob(" town"))
    assert out.logprobs == pytest.approx(expected)
    greedy = tuple(all(t in _top(t) for t in toks) for toks in [[" Paris"], [" London", " town"]])
    assert out.is_greedy == greedy
    assert out.input_tokens == 4 + 5
    body = server.stats()["last_request"]["body"]
    assert body["echo"] is True and body["max_tokens"] == 0 and body["logprobs"] == 1


def test_loglikelihood_counts_a_token_that_straddles_the_boundary(server: FakeServer) -> None:
    request = LoglikelihoodRequest("The capital is Pa", ("ris",))
    out = with_provider(lambda p: p.loglikelihood(request), base_url=server.url, api="completions")
    assert out.logprobs == pytest.approx((_logprob(" Paris"),))


def test_chat_provider_declares_no_loglikelihood(server: FakeServer) -> None:
    provider = OpenAICompatProvider("fake", base_url=server.url)
    assert provider.capabilities == frozenset({Capability.GENERATE})
    assert (
        Capability.LOGLIKELIHOOD
        in OpenAICompatProvider("fake", base_url=server.url, api="completions").capabilities
    )
    with pytest.raises(CapabilityError, match="api=completions"):
        with_provider(
            lambda p: p.loglikelihood(LoglikelihoodRequest("a", ("b",))), base_url=server.url
        )


def test_429_is_retryable_with_retry_after() -> None:
    with FakeServer(fail_first=1, fault_kinds=("429",), retry_after=2) as s:
        err = failure(ask("hi"), base_url=s.url)
        assert err.retryable and err.status == 429 and err.retry_after == 2.0
        assert "429" in str(err) and "Injected fault" in str(err)
        assert with_provider(ask("hi"), base_url=s.url).text == "hi"  # the next call succeeds


@pytest.mark.parametrize("status", ["500", "503", "408", "409"])
def test_server_errors_are_retryable(status: str) -> None:
    with FakeServer(fail_first=1, fault_kinds=(status,)) as s:
        err = failure(ask("hi"), base_url=s.url)
    assert err.retryable and err.status == int(status) and err.retry_after is None


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retryable(server: FakeServer, status: int) -> None:
    if status == 400:
        with FakeServer(fail_first=1, fault_kinds=("400",)) as s:
            err = failure(ask("hi"), base_url=s.url)
    elif status == 401:
        with FakeServer(api_key="the-right-key") as s:
            err = failure(ask("hi"), base_url=s.url, api_key=SECRET)
    else:  # a base_url without /v1
        err = failure(ask("hi"), base_url=server.root_url)
    assert err.status == status and not err.retryable
    assert f"HTTP {status}" in str(err)


def test_api_key_never_appears_in_errors_or_identity(server: FakeServer) -> None:
    with FakeServer(api_key="the-right-key") as s:
        # This server quotes the key it received in its 401 body, as OpenAI does.
        err = failure(ask("hi"), base_url=s.url, api_key=SECRET)
    assert SECRET not in str(err) and "***" in str(err)
    err = failure(ask("hi"), base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=SECRET)
    assert SECRET not in str(err)
    provider = OpenAICompatProvider("fake", base_url=server.url, api_key=SECRET, organization="o")
    identity = provider.identity()
    assert SECRET not in json.dumps(identity) and SECRET not in repr(provider)
    assert identity == {
        "provider": "openai",
        "base_url": server.url,
        "model": "fake",
        "api": "chat",
        "args": {"organization": "o"},
    }


def test_api_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer(api_key=SECRET) as s:
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        assert with_provider(ask("authorised")).text == "authorised"
        assert s.stats()["outcomes"] == {"ok": 1}


def test_hang_past_the_timeout_is_a_retryable_timeout() -> None:
    with FakeServer(fail_first=1, fault_kinds=("hang",), hang_seconds=10) as s:
        start = time.perf_counter()
        err = failure(ask("hi"), base_url=s.url, timeout=0.3)
        assert time.perf_counter() - start < 3
    assert err.retryable and "timed out" in str(err) and "0.3 s" in str(err)


def test_connection_refused_is_retryable() -> None:
    err = failure(ask("hi"), base_url=f"http://127.0.0.1:{free_port()}/v1")
    assert err.retryable and err.status is None and "connect" in str(err)


def test_a_10_mb_reply_is_capped_and_flagged() -> None:
    with FakeServer(reply_bytes=10_000_000) as s:
        out = with_provider(ask("big"), base_url=s.url, max_output_chars=1000)
        assert out.text == "x" * 1000 and out.truncated
        out = with_provider(ask("big"), base_url=s.url)
    assert len(out.text) == 1_000_000 and out.truncated


def test_one_provider_works_across_event_loops(server: FakeServer) -> None:
    provider = OpenAICompatProvider("fake", base_url=server.url)
    assert asyncio.run(provider.generate(GenerateRequest.from_prompt("first"))).text == "first"

    async def second() -> str:
        try:
            return (await provider.generate(GenerateRequest.from_prompt("second"))).text
        finally:
            await provider.aclose()

    assert asyncio.run(second()) == "second"


def test_many_concurrent_requests_share_one_session(server: FakeServer) -> None:
    server.reset()

    async def many(p: OpenAICompatProvider) -> list[str]:
        outs = await asyncio.gather(
            *(p.generate(GenerateRequest.from_prompt(f"q{i}")) for i in range(300))
        )
        return [o.text for o in outs]

    assert with_provider(many, base_url=server.url) == [f"q{i}" for i in range(300)]
    assert server.stats()["requests"] == 300


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({"temprature": 0}, "unknown model argument.*temprature.*Accepted: base_url"),
        ({"api": "responses"}, "'chat' or 'completions'"),
        ({"timeout": "soon"}, "timeout to be a positive number"),
        ({"timeout": 0}, "timeout to be a positive number"),
        ({"max_output_chars": -1}, "max_output_chars to be a positive integer"),
        ({"extra_body": "[1]"}, "extra_body to be a JSON object"),
        ({"base_url": "localhost:8000"}, "http\\(s\\) URL"),
    ],
)
def test_bad_arguments_are_config_errors(args: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        OpenAICompatProvider("fake", **{"base_url": "http://127.0.0.1:1/v1", **args})


def test_the_official_api_without_a_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAICompatProvider("gpt-4o-mini")


def test_cli_style_string_arguments_are_converted(server: FakeServer) -> None:
    provider = OpenAICompatProvider(
        "fake", base_url=server.url, timeout="30", extra_body='{"user": "x"}'
    )
    assert provider.identity()["args"] == {"extra_body": {"user": "x"}}


def test_registered_under_openai_and_satisfies_the_protocol(server: FakeServer) -> None:
    factory = registry.lookup("provider", "openai")
    provider = factory("fake", base_url=server.url)
    assert factory is OpenAICompatProvider and isinstance(provider, ModelProvider)
    assert provider.name == "openai/fake" and provider.max_concurrency is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_and_ms_header() -> None:
    now = 1_445_412_470.0  # 07:27:50 GMT on that day
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert retry_after_from_headers({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_from_headers({"retry-after": "9"}) == 9.0
