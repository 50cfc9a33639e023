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
from evalstack.core.errors import CapabilityError, ConfigError, ProviderError, UserError
from evalstack.core.provider import ModelProvider
from evalstack.core.types import (
    DEFAULT_MAX_TOKENS,
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodRequest,
    StructuredOutput,
)
from evalstack.providers import _structured
from evalstack.providers._http import parse_retry_after, retry_after_from_headers
from evalstack.providers.openai_compat import OpenAICompatProvider
from evalstack.testing.fake_server import FakeServer, _logprob, _top, schema_instance

SECRET = "sk-test-DO-NOT-LEAK-1234567890"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(model_version="fake-2024-01") as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    _structured.forget()  # a later server may get an earlier one's port


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
        "max_tokens": DEFAULT_MAX_TOKENS,
        "temperature": 0.0,
    }


def test_generate_config_fields_are_sent_and_beat_extra_body(server: FakeServer) -> None:
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
    assert out.logprobs == expected  # exactly the fake server's values, summed in order
    greedy = tuple(all(t in _top(t) for t in toks) for toks in [[" Paris"], [" London", " town"]])
    assert out.is_greedy == greedy
    assert out.input_tokens == 4 + 5
    body = server.stats()["last_request"]["body"]
    assert body["echo"] is True and body["max_tokens"] == 1 and body["logprobs"] == 1


def test_loglikelihood_counts_a_token_that_straddles_the_boundary(server: FakeServer) -> None:
    request = LoglikelihoodRequest("The capital is Pa", ("ris",))
    out = with_provider(lambda p: p.loglikelihood(request), base_url=server.url, api="completions")
    assert out.logprobs == pytest.approx((_logprob(" Paris"),))


def test_chat_provider_declares_no_loglikelihood(server: FakeServer) -> None:
    provider = OpenAICompatProvider("fake", base_url=server.url)
    assert provider.capabilities == frozenset({Capability.GENERATE, Capability.CHAT})
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


# -- what real servers do differently (the fake server's flavours) ------------------------

VERDICT = StructuredOutput(
    "verdict",
    json.dumps({"type": "object", "properties": {"score": {"type": "integer", "enum": [1, 2]}}}),
)


def ask_structured(
    prompt: str = "grade this", structured: StructuredOutput = VERDICT
) -> Callable[[OpenAICompatProvider], Awaitable[Any]]:
    return ask(prompt, structured=structured)


def score(context: str, *continuations: str) -> Callable[[OpenAICompatProvider], Awaitable[Any]]:
    request = LoglikelihoodRequest(context, continuations)
    return lambda p: p.loglikelihood(request)


def test_the_default_temperature_and_max_tokens_beat_extra_body(server: FakeServer) -> None:
    server.reset()
    with_provider(ask("hi"), base_url=server.url, extra_body={"temperature": 1.5})
    body = server.bodies()[-1]
    assert body["temperature"] == 0.0 and body["max_tokens"] == DEFAULT_MAX_TOKENS


def test_max_tokens_below_one_is_a_config_error_and_nothing_is_sent(server: FakeServer) -> None:
    server.reset()
    with pytest.raises(ConfigError, match="max_tokens to be a positive integer"):
        with_provider(ask("hi", max_tokens=0), base_url=server.url)
    assert server.bodies() == []


def test_llamacpp_loglikelihood_sends_max_tokens_1_and_ignores_the_generated_token() -> None:
    # llama.cpp's server reads max_tokens=0 as "to the end of the context"; max_tokens=1 with
    # echo gets the prompt's log-probabilities and one generated token, which is dropped.
    with FakeServer(flavour="llamacpp") as s:
        out = with_provider(
            score("The capital is", " Paris", " London town"), base_url=s.url, api="completions"
        )
        bodies = s.bodies("/v1/completions")
    assert out.logprobs == (_logprob(" Paris"), _logprob(" London") + _logprob(" town"))
    assert len(bodies) == 4  # the echo self-check's two requests, then one per continuation
    for body in bodies:
        assert body["max_tokens"] == 1 and body["logprobs"] == 1 and body["temperature"] == 0
    assert [b.get("echo") for b in bodies] == [None, True, True, True]


def test_every_request_carries_max_tokens_and_temperature() -> None:
    with FakeServer(flavour="llamacpp") as s:
        with_provider(ask("chat"), base_url=s.url)
        with_provider(ask_structured(), base_url=s.url)
        with_provider(ask("text", logprobs=True), base_url=s.url, api="completions")
        with_provider(score("a b", " c"), base_url=s.url, api="completions")
        bodies = s.bodies()
    # The structured call: json_schema (refused), json_object+schema; the score: the echo
    # self-check's two requests, then the echo request.
    assert len(bodies) == 7
    for body in bodies:
        assert isinstance(body["max_tokens"], int) and body["max_tokens"] >= 1, body
        assert isinstance(body["temperature"], float | int), body


@pytest.mark.parametrize(
    ("echo", "why"),
    [
        ("ignored", "no token of its reply lies within the prompt"),
        ("text_only", "token_logprobs is null for the prompt token"),
        ("none", "its reply has no logprobs"),
        ("rejected", "it refused echo with HTTP 400"),
    ],
)
def test_a_server_without_prompt_logprobs_is_a_capability_error(echo: str, why: str) -> None:
    with FakeServer(echo=echo) as s:
        with pytest.raises(CapabilityError) as info:
            with_provider(score("The capital is", " Paris"), base_url=s.url, api="completions")
        assert s.stats()["requests"] <= 3  # the echo self-check's two at most, then one
    err = info.value
    assert isinstance(err, UserError) and not isinstance(err, ProviderError)
    message = str(err)
    assert why in message
    assert "-T method=generate" in message
    assert "llamacpp/<file.gguf>" in message and "transformers/<model>" in message


def test_a_reply_without_text_offsets_or_echo_is_a_capability_error() -> None:
    # A server that ignores echo and sends no text_offset: the tokens are only the generated
    # text, which must not be mistaken for the prompt's.
    with FakeServer(echo="ignored") as s:

        async def go(p: OpenAICompatProvider) -> Any:
            real = p._decode

            def without_offsets(url: str, raw: bytes) -> Any:
                data, raw = real(url, raw)
                del data["choices"][0]["logprobs"]["text_offset"]
                return data, raw

            p._decode = without_offsets  # type: ignore[method-assign]
            return await p.loglikelihood(LoglikelihoodRequest("a b c", (" d",)))

        with pytest.raises(CapabilityError, match="does not start with the prompt"):
            with_provider(go, base_url=s.url, api="completions")


@pytest.mark.parametrize("flavour", ["openai", "vllm"])
def test_structured_output_is_json_schema_where_the_server_takes_it(flavour: str) -> None:
    with FakeServer(flavour=flavour) as s:

        async def go(p: OpenAICompatProvider) -> Any:
            return await ask_structured()(p), p.run_notes()

        out, notes = with_provider(go, base_url=s.url)
        (body,) = s.bodies()
    assert body["response_format"]["type"] == "json_schema"
    assert json.loads(out.text) == schema_instance(VERDICT.schema(), "grade this")
    assert notes == {"structured_output": "json_schema"}


def test_llamacpp_structured_output_falls_back_to_json_object_within_one_call() -> None:
    with FakeServer(flavour="llamacpp") as s:

        async def go(p: OpenAICompatProvider) -> Any:
            first = await ask_structured()(p)
            second = await ask_structured("grade that")(p)
            return first, second, p.run_notes()

        first, second, notes = with_provider(go, base_url=s.url)
        kinds = [b["response_format"]["type"] for b in s.bodies()]
        assert s.stats()["outcomes"] == {"500": 1, "ok": 2}
        # Another provider object on the same server starts with what worked.
        s.reset()
        with_provider(ask_structured(), base_url=s.url)
        assert [b["response_format"]["type"] for b in s.bodies()] == ["json_object"]
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert json.loads(first.text) == schema_instance(VERDICT.schema(), "grade this")
    assert json.loads(second.text) == schema_instance(VERDICT.schema(), "grade that")
    assert notes == {
        "structured_output": "json_object+schema",
        "structured_output_rejected": {"json_schema": 500},
    }


def test_a_server_refusing_every_form_gets_a_plain_request() -> None:
    # Three 400s: json_schema, json_object+schema and guided_json are refused.
    with FakeServer(fail_first=3, fault_kinds=("400",)) as s:

        async def go(p: OpenAICompatProvider) -> Any:
            return await ask_structured()(p), p.run_notes()

        out, notes = with_provider(go, base_url=s.url)
        bodies = s.bodies()
    assert out.text == "grade this"  # unconstrained: the caller parses it tolerantly
    assert [("response_format" in b, "guided_json" in b) for b in bodies] == [
        (True, False), (True, False), (False, True), (False, False)
    ]
    assert notes == {
        "structured_output": "none",
        "structured_output_rejected": {
            "json_schema": 400, "json_object+schema": 400, "guided_json": 400
        },
    }


def test_a_transient_500_during_negotiation_is_retryable_and_not_a_fallback() -> None:
    with FakeServer(fail_first=1, fault_kinds=("500",)) as s:
        err = failure(ask_structured(), base_url=s.url)
        assert s.stats()["requests"] == 1
    assert err.retryable and err.status == 500


def test_structured_output_on_the_completions_api() -> None:
    with FakeServer(flavour="vllm") as s:
        out = with_provider(ask_structured(), base_url=s.url, api="completions")
        assert "guided_json" in s.bodies()[0]
    assert json.loads(out.text) == schema_instance(VERDICT.schema(), "grade this")
    with FakeServer(flavour="openai") as s:  # guided_json is an unknown argument: a 400
        out = with_provider(ask_structured(), base_url=s.url, api="completions")
        assert ["guided_json" in b for b in s.bodies()] == [True, False]
    assert out.text == "grade this"


@pytest.mark.parametrize("structured", [None, VERDICT])
def test_a_model_refusing_temperature_0_is_a_config_error(
    structured: StructuredOutput | None,
) -> None:
    with FakeServer(only_temperature=1.0) as s:
        with pytest.raises(ConfigError) as info:
            with_provider(ask("hi", structured=structured), base_url=s.url)
        assert s.stats()["requests"] == 1  # no fallback, no retry
        assert with_provider(ask("hi", temperature=1.0), base_url=s.url).text == "hi"
    message = str(info.value)
    assert "temperature=0" in message and "--temperature" in message and "HTTP 400" in message


def test_content_null_is_a_non_retryable_error_not_an_empty_answer() -> None:
    with FakeServer(refusal="I can't help with that.") as s:
        err = failure(ask("something"), base_url=s.url)
    assert not err.retryable and err.status == 200
    message = str(err)
    assert "returned no text" in message and "finish_reason='stop'" in message
    assert "I can't help with that." in message


def test_an_empty_string_reply_is_still_an_answer() -> None:
    with FakeServer(reply_map={"q": ""}) as s:
        assert with_provider(ask("q"), base_url=s.url).text == ""


def test_run_notes_are_empty_before_any_structured_call(server: FakeServer) -> None:
    with_provider(ask("hi"), base_url=server.url)
    assert OpenAICompatProvider("fake", base_url=server.url).run_notes() == {}


@pytest.mark.parametrize(("flavour", "sampling"), [("llamacpp", {"repeat_penalty": 1.0}),
                                                   ("openai", None), ("vllm", None)])
def test_prepare_finds_llamacpp_and_neutralises_its_repeat_penalty(
        flavour: str, sampling: dict[str, float] | None) -> None:
    """llama.cpp's servers apply repeat_penalty 1.1 even at temperature 0; elsewhere only
    OpenAI's fields are sent (OpenAI refuses unknown ones)."""
    with FakeServer(flavour=flavour) as s:

        async def go(p: OpenAICompatProvider) -> Any:
            await p.prepare()
            await p.generate(GenerateRequest.from_prompt("hi"))
            return p.run_notes()

        notes = with_provider(go, base_url=s.url)
        (body,) = s.bodies()
    assert body.get("repeat_penalty") == (sampling or {}).get("repeat_penalty")
    if sampling is None:
        assert "repeat_penalty" not in body and "server" not in notes
    else:
        assert notes == {"server": "llama.cpp", "sampling": sampling}


def test_extra_body_repeat_penalty_wins_over_the_neutral_one() -> None:
    with FakeServer(flavour="llamacpp") as s:

        async def go(p: OpenAICompatProvider) -> Any:
            await p.prepare()
            await p.generate(GenerateRequest.from_prompt("hi"))

        with_provider(go, base_url=s.url, extra_body={"repeat_penalty": 1.3})
        (body,) = s.bodies()
    assert body["repeat_penalty"] == 1.3
