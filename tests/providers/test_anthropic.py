"""The Anthropic provider: the official SDK against the fake server's /v1/messages."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from evalstack.core import registry
from evalstack.core.errors import ConfigError, MissingDependencyError, ProviderError
from evalstack.core.provider import ModelProvider
from evalstack.core.types import Capability, ChatMessage, GenerateConfig, GenerateRequest
from evalstack.providers.anthropic import AnthropicProvider
from evalstack.testing.fake_server import FakeServer

SECRET = "sk-ant-test-DO-NOT-LEAK-0987654321"
needs_sdk = pytest.mark.skipif(
    importlib.util.find_spec("anthropic") is None,
    reason="the anthropic SDK is not installed (pip install 'evalstack[anthropic]')",
)


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    from evalstack.providers.anthropic import AnthropicProvider

    with pytest.raises(MissingDependencyError) as info:
        AnthropicProvider("claude-x", api_key="k")
    assert "pip install 'evalstack[anthropic]'" in str(info.value)
    assert info.value.exit_code == 5


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(model_version="claude-fake-20250101") as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def with_provider(fn: Callable[[AnthropicProvider], Awaitable[Any]], **args: Any) -> Any:
    async def go() -> Any:
        provider = AnthropicProvider("claude-fake", **{"api_key": SECRET, **args})
        try:
            return await fn(provider)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def failure(fn: Callable[[AnthropicProvider], Awaitable[Any]], **args: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        with_provider(fn, **args)
    return info.value


def send(request: GenerateRequest) -> Callable[[AnthropicProvider], Awaitable[Any]]:
    return lambda p: p.generate(request)


@needs_sdk
def test_generate_sends_system_separately_and_reads_usage(server: FakeServer) -> None:
    server.reset()
    request = GenerateRequest((ChatMessage("system", "Be brief."), ChatMessage("user", "hi there")))
    out = with_provider(send(request), base_url=server.root_url)
    assert out.text == "hi there"
    assert (out.input_tokens, out.output_tokens) == (4, 2)
    assert out.model_version == "claude-fake-20250101"
    assert out.finish_reason == "end_turn" and not out.truncated
    body = server.stats()["last_request"]["body"]
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "hi there"}]
    assert body["max_tokens"] == 1024  # the API requires it; the provider's default
    assert body["temperature"] == 0.0  # the one generation default (design/0008)


@needs_sdk
def test_config_is_mapped_to_messages_parameters(server: FakeServer) -> None:
    config = GenerateConfig(max_tokens=2, temperature=0.0, top_p=0.5, stop=("END",))
    out = with_provider(
        send(GenerateRequest.from_prompt("one two three", config)), base_url=server.url
    )
    assert out.text == "one two" and out.finish_reason == "max_tokens"
    body = server.stats()["last_request"]["body"]
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (2, 0.0, 0.5)
    assert body["stop_sequences"] == ["END"]


@needs_sdk
def test_output_is_capped() -> None:
    with FakeServer(reply_bytes=50_000) as s:
        out = with_provider(
            send(GenerateRequest.from_prompt("big")), base_url=s.root_url, max_output_chars=100
        )
    assert out.text == "x" * 100 and out.truncated


@needs_sdk
def test_429_is_retryable_with_retry_after_and_no_sdk_retry() -> None:
    with FakeServer(fail_first=1, fault_kinds=("429",), retry_after=3) as s:
        err = failure(send(GenerateRequest.from_prompt("hi")), base_url=s.root_url)
        assert s.stats()["requests"] == 1  # max_retries=0: the runner retries, not the SDK
    assert err.retryable and err.status == 429 and err.retry_after == 3.0
    assert "HTTP 429" in str(err)


@needs_sdk
@pytest.mark.parametrize(("kind", "retryable"), [("500", True), ("529", True), ("400", False)])
def test_status_errors_map_to_retryable(kind: str, retryable: bool) -> None:
    with FakeServer(fail_first=1, fault_kinds=(kind,)) as s:
        err = failure(send(GenerateRequest.from_prompt("hi")), base_url=s.root_url)
    assert err.status == int(kind) and err.retryable is retryable


@needs_sdk
def test_bad_key_is_not_retryable_and_never_shown() -> None:
    with FakeServer(api_key="the-right-key") as s:
        err = failure(send(GenerateRequest.from_prompt("hi")), base_url=s.root_url)
    assert err.status == 401 and not err.retryable
    assert SECRET not in str(err) and "***" in str(err)


@needs_sdk
def test_timeout_and_connection_errors_are_retryable() -> None:
    with FakeServer(fail_first=1, fault_kinds=("hang",), hang_seconds=10) as s:
        err = failure(send(GenerateRequest.from_prompt("hi")), base_url=s.root_url, timeout=0.3)
    assert err.retryable and "timed out" in str(err)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = failure(send(GenerateRequest.from_prompt("hi")), base_url=f"http://127.0.0.1:{port}")
    assert err.retryable and "connect" in str(err) and SECRET not in str(err)


@needs_sdk
def test_identity_has_no_key_and_base_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    provider = AnthropicProvider("claude-fake", max_tokens=64)
    identity = provider.identity()
    assert identity == {
        "provider": "anthropic",
        "base_url": "https://api.anthropic.com",
        "model": "claude-fake",
        "args": {"max_tokens": 64},
    }
    assert SECRET not in json.dumps(identity) and SECRET not in repr(provider)
    assert provider.capabilities == frozenset({Capability.GENERATE, Capability.CHAT})


@needs_sdk
def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown model argument.*max_token\\b.*Accepted"):
        AnthropicProvider("claude-fake", max_token=5)
    with pytest.raises(ConfigError, match="max_tokens to be a positive integer"):
        AnthropicProvider("claude-fake", max_tokens=0)


@needs_sdk
def test_registered_under_anthropic_and_satisfies_the_protocol() -> None:
    factory = registry.lookup("provider", "anthropic")
    provider = factory("claude-fake", api_key="k")
    assert factory is AnthropicProvider and isinstance(provider, ModelProvider)
    assert provider.name == "anthropic/claude-fake"
