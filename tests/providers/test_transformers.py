"""The transformers provider on a tiny GPT-2 built and saved in the hub's format at test time."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalstack.core.errors import ConfigError, MissingDependencyError
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodRequest,
)
from evalstack.providers.transformers import TransformersProvider, directory_fingerprint

# Before transformers or huggingface_hub is imported: they read these once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

HAVE_TORCH = importlib.util.find_spec("torch") is not None
pytestmark = [
    pytest.mark.transformers,
    pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed"),
]

SENTENCES = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a bird flew over the tree",
    "the capital of france is paris",
    "the capital of italy is rome",
    "one two three four five six seven eight nine ten",
    "question : what is two plus two ? answer : four",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}"
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def build_tiny_model(
    folder: Path, chat_template: str | None = None, never_eos: bool = False
) -> Path:
    """Train a word-level tokenizer, make a 2-layer GPT-2, and save both like the hub does.

    With ``never_eos`` the final layer norm ignores its input, so every position predicts the
    same distribution, in which EOS is pushed far down: generation never stops early.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(
        SENTENCES, trainers.WordLevelTrainer(special_tokens=["<unk>", "<pad>", "<s>", "</s>"])
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # larger weights than the init, so the distribution is not flat
        for param in model.parameters():
            param.mul_(8.0)
        if never_eos:
            model.transformer.ln_f.weight.zero_()
            bias = model.transformer.ln_f.bias
            bias.copy_(torch.randn(bias.shape))
            model.transformer.wte.weight[tokenizer.eos_token_id] = -bias  # tied with lm_head
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def no_eos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-no-eos"), never_eos=True)


@pytest.fixture(scope="module")
def provider(tiny_dir: Path) -> Iterator[TransformersProvider]:
    p = TransformersProvider(str(tiny_dir), batch_size=4)
    yield p
    run(p.aclose())


def reference_loglikelihood(folder: Path, context: str, continuation: str) -> tuple[float, bool]:
    """Score one continuation with its own unpadded forward pass, straight from torch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    split = len(ctx)
    assert whole[:split] == ctx
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0]
    logsoft = torch.log_softmax(logits[split - 1 : len(whole) - 1], dim=-1)
    targets = torch.tensor(whole[split:])
    total = float(logsoft[torch.arange(len(targets)), targets].sum())
    greedy = bool((logits[split - 1 : len(whole) - 1].argmax(-1) == targets).all())
    return total, greedy


def test_batched_loglikelihood_matches_unbatched_reference(
    provider: TransformersProvider, tiny_dir: Path
) -> None:
    context = "the capital of france is"
    continuations = (
        " paris",
        " rome",
        " the cat",
        " one two three four five",
        " a bird flew over the tree",
        " the dog sat on the log and the cat sat on the mat",
        " four",
        " paris paris",
        " question : what is two plus two ? answer : four",
        " ten",
    )
    out = run(provider.loglikelihood(LoglikelihoodRequest(context, continuations)))
    assert len(out.logprobs) == 10
    assert out.is_greedy is not None
    for cont, got, greedy in zip(continuations, out.logprobs, out.is_greedy, strict=True):
        expected, expected_greedy = reference_loglikelihood(tiny_dir, context, cont)
        assert got == pytest.approx(expected, abs=1e-4), cont
        assert greedy == expected_greedy
    assert len(set(out.logprobs)) == 10


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_batch_size_does_not_change_scores(
    provider: TransformersProvider, tiny_dir: Path, batch_size: int
) -> None:
    request = LoglikelihoodRequest("the dog", (" sat", " sat on the log", " flew over the tree"))
    other = TransformersProvider(str(tiny_dir), batch_size=batch_size)
    try:
        assert run(other.loglikelihood(request)).logprobs == pytest.approx(
            run(provider.loglikelihood(request)).logprobs, abs=1e-4
        )
    finally:
        run(other.aclose())


def test_empty_context_and_empty_continuation(provider: TransformersProvider) -> None:
    out = run(provider.loglikelihood(LoglikelihoodRequest("", ("the cat", ""))))
    assert out.logprobs[0] < 0
    assert out.logprobs[1] == 0.0


def test_generate_returns_the_requested_number_of_tokens(provider: TransformersProvider) -> None:
    request = GenerateRequest.from_prompt("the cat sat", GenerateConfig(max_tokens=5))
    out = run(provider.generate(request))
    assert out.input_tokens == 3  # no chat template: the plain prompt, no BOS for this tokenizer
    assert out.output_tokens is not None and 1 <= out.output_tokens <= 5
    if out.finish_reason == "length":
        assert out.output_tokens == 5
    again = run(provider.generate(request))
    assert again.text == out.text  # greedy by default


@pytest.mark.parametrize("n", [1, 4, 9])
def test_generate_max_tokens_is_exact_when_eos_never_wins(no_eos_dir: Path, n: int) -> None:
    p = TransformersProvider(str(no_eos_dir))
    try:
        out = run(p.generate(GenerateRequest.from_prompt("the dog", GenerateConfig(max_tokens=n))))
        assert out.output_tokens == n
        assert out.finish_reason == "length"
        assert len(out.text.split()) == n  # word-level tokens, joined by spaces
    finally:
        run(p.aclose())


def test_generate_applies_stop_strings(provider: TransformersProvider) -> None:
    free = run(provider.generate(GenerateRequest.from_prompt("one two", GenerateConfig(8))))
    words = free.text.split()
    if len(words) < 2:
        pytest.skip(f"the tiny model produced too little text: {free.text!r}")
    stop = words[1]
    config = GenerateConfig(max_tokens=8, stop=(stop,))
    stopped = run(provider.generate(GenerateRequest.from_prompt("one two", config)))
    assert stop not in stopped.text
    assert free.text.startswith(stopped.text)
    assert stopped.finish_reason == "stop"


def test_sampling_is_seeded(provider: TransformersProvider) -> None:
    config = GenerateConfig(max_tokens=6, temperature=1.5, seed=7)
    request = GenerateRequest.from_prompt("the", config)
    assert run(provider.generate(request)).text == run(provider.generate(request)).text


def test_chat_template_is_used_when_the_tokenizer_has_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-chat"), CHAT_TEMPLATE)
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", "the cat"))
    request = GenerateRequest(messages, GenerateConfig(max_tokens=2))
    with_template = TransformersProvider(str(folder))
    plain = TransformersProvider(str(folder), chat_template=False)
    try:
        # <s> system : be brief <s> user : the cat <s> assistant : (13 word-level tokens)
        assert run(with_template.generate(request)).input_tokens == 13
        assert run(plain.generate(request)).input_tokens == 4  # "be brief" + "the cat"
    finally:
        run(with_template.aclose())
        run(plain.aclose())


def test_chat_template_true_without_one_is_a_config_error(tiny_dir: Path) -> None:
    p = TransformersProvider(str(tiny_dir), chat_template=True)
    try:
        with pytest.raises(ConfigError, match="chat template"):
            run(p.generate(GenerateRequest.from_prompt("the cat")))
    finally:
        run(p.aclose())


def test_max_output_chars_truncates(no_eos_dir: Path) -> None:
    p = TransformersProvider(str(no_eos_dir), max_output_chars=3)
    try:
        out = run(p.generate(GenerateRequest.from_prompt("the", GenerateConfig(max_tokens=6))))
        assert out.truncated
        assert len(out.text) == 3
    finally:
        run(p.aclose())


def test_missing_path_gives_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError) as info:
        TransformersProvider(str(missing))
    assert str(missing) in str(info.value)
    assert "save_pretrained" in str(info.value)


def test_folder_without_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config.json"):
        TransformersProvider(str(tmp_path))


def test_unavailable_device_is_a_config_error(tiny_dir: Path) -> None:
    p = TransformersProvider(str(tiny_dir), device="nosuchdevice")
    try:
        with pytest.raises(ConfigError, match="nosuchdevice"):
            run(p.generate(GenerateRequest.from_prompt("the cat")))
    finally:
        run(p.aclose())


def test_unknown_hub_id_offline_is_a_config_error() -> None:
    p = TransformersProvider("evalstack-test/does-not-exist")
    try:
        with pytest.raises(ConfigError, match="does-not-exist"):
            run(p.generate(GenerateRequest.from_prompt("hi")))
    finally:
        run(p.aclose())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"batchsize": 2}, "batchsize"),
        ({"batch_size": 0}, "batch_size"),
        ({"dtype": "float8"}, "dtype"),
        ({"trust_remote_code": "maybe"}, "trust_remote_code"),
    ],
)
def test_bad_arguments_are_config_errors(tiny_dir: Path, args: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        TransformersProvider(str(tiny_dir), **args)


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch, tiny_dir: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a)
    )
    with pytest.raises(MissingDependencyError, match=r"evalstack\[transformers\]"):
        TransformersProvider(str(tiny_dir))


def test_identity_and_capabilities(tiny_dir: Path, tmp_path: Path) -> None:
    p = TransformersProvider(str(tiny_dir), dtype="bfloat16")
    ident = p.identity()
    assert ident["provider"] == "transformers"
    assert ident["model"] == tiny_dir.name
    assert ident["fingerprint"] == directory_fingerprint(tiny_dir)
    assert ident["args"]["dtype"] == "bfloat16"
    assert p.capabilities == {Capability.GENERATE, Capability.LOGLIKELIHOOD,
                              Capability.TOKEN_SCORES}
    assert p.max_concurrency == 1
    assert p._model is None  # identity does not load the model
    copy = tmp_path / tiny_dir.name
    copy.mkdir()
    for file in tiny_dir.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    assert directory_fingerprint(copy) == ident["fingerprint"]
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert directory_fingerprint(copy) != ident["fingerprint"]


def test_registered_prefix() -> None:
    from evalstack.core.registry import lookup

    assert lookup("provider", "transformers") is TransformersProvider
