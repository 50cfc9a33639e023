"""Min-K% Prob and Min-K%++ through the model layer: checked against llama.cpp's own logits,
the refusal of models without token scores, the cache, and the ``evalstack mink`` command."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from evalstack.analysis.mink import Text, score_texts
from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.types import Capability, TokenScores, TokenScoresRequest
from evalstack.model import Model
from evalstack.providers.mock import MockProvider
from evalstack.stats.mink import min_k_plus_plus, min_k_prob

DATA = Path(__file__).parent / "data"
HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed")

TEXTS = [
    "Four score and seven years ago our fathers brought forth on this continent a new nation.",
    "The ferry bell calls the last crossing home, and the tired gulls settle on the pier.",
    "x",
]


class DictCache:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = value


@pytest.fixture(scope="module")
def smollm2() -> Iterator[Any]:
    from evalstack.providers.llamacpp import local_provider

    provider = local_provider("smollm2")
    yield provider
    asyncio.run(provider.aclose())


def _reference(path: Path, text: str) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """log p, mu and sigma^2 computed straight from llama.cpp's logits of every position."""
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=2048, n_threads=1, n_threads_batch=1, logits_all=True,
                verbose=False)
    try:
        tokens = list(llm.tokenize(text.encode(), add_bos=True, special=True))
        if tokens[0] != llm.token_bos():
            tokens = [llm.token_bos(), *tokens]
        llm.eval(tokens[:-1])
        logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
    finally:
        llm.close()
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    mu = (p * logp).sum(axis=1)
    var = (p * (logp - mu[:, None]) ** 2).sum(axis=1)
    picked = logp[np.arange(len(tokens) - 1), tokens[1:]]
    return tokens[1:], picked, mu, var


@needs_llama
def test_token_scores_equal_a_direct_computation_from_llama_cpp(smollm2: Any) -> None:
    model = Model(smollm2)
    assert Capability.TOKEN_SCORES in model.capabilities
    for text in TEXTS:
        got = asyncio.run(model.token_scores(TokenScoresRequest(text)))
        tokens, lp, mu, var = _reference(smollm2.path, text)
        assert list(got.tokens) == tokens
        assert len(got.logprobs) == len(got.mean) == len(got.variance) == len(tokens)
        np.testing.assert_allclose(got.logprobs, lp, atol=1e-6, rtol=0)
        np.testing.assert_allclose(got.mean, mu, atol=1e-6, rtol=0)
        np.testing.assert_allclose(got.variance, var, atol=1e-6, rtol=0)
        # mu is minus the entropy: at most 0 and at least -log(vocabulary size)
        assert all(-np.log(49152) - 1e-9 <= m <= 0 for m in got.mean)
    # the analysis's scores are the stats functions on those numbers
    report = asyncio.run(score_texts(model, [Text("a", TEXTS[0], True), Text("b", TEXTS[1],
                                                                              False)], k=0.2))
    tokens, lp, mu, var = _reference(smollm2.path, TEXTS[0])
    first = report.items[0]
    assert first.n_tokens == len(tokens)
    assert first.min_k_prob == pytest.approx(min_k_prob(lp, 0.2), abs=1e-6)
    assert first.min_k_plus_plus == pytest.approx(min_k_plus_plus(lp, mu, var, 0.2), abs=1e-6)
    assert first.min_k_prob == pytest.approx(np.sort(lp)[: int(len(lp) * 0.2)].mean(), abs=1e-6)
    assert report.auc is not None and report.auc["min_k_prob"].n == 2


@needs_llama
def test_token_scores_are_cached_through_the_model_layer(smollm2: Any) -> None:
    cache = DictCache()
    model = Model(smollm2, cache=cache)
    first = asyncio.run(model.token_scores(TokenScoresRequest(TEXTS[1])))
    again = asyncio.run(model.token_scores(TokenScoresRequest(TEXTS[1])))
    assert model.requests == 1 and len(cache.data) == 1
    assert isinstance(again, TokenScores) and again == first


def test_model_without_token_scores_is_refused_before_any_request() -> None:
    provider = MockProvider("echo")
    model = Model(provider)
    needs = "Min-K% scores need token log-probabilities.*local/.*transformers/"
    with pytest.raises(ConfigError, match=needs):
        asyncio.run(score_texts(model, [Text("a", "hello", True), Text("b", "bye", False)]))
    assert model.requests == 0 and model.usage.attempts == 0
    with pytest.raises(ConfigError, match="cannot give token scores"):
        asyncio.run(model.token_scores(TokenScoresRequest("hello")))
    assert model.requests == 0


@needs_llama
def test_empty_text_and_bad_k_are_refused_before_any_request(smollm2: Any) -> None:
    model = Model(smollm2)
    with pytest.raises(DataError, match="'b' has an empty text"):
        asyncio.run(score_texts(model, [Text("a", "hi"), Text("b", "  ")]))
    with pytest.raises(ConfigError, match="--k"):
        asyncio.run(score_texts(model, [Text("a", "hi")], k=1.5))
    assert model.requests == 0


def test_acceptance_data_has_thirty_of_each() -> None:
    for name in ("members.jsonl", "nonmembers.jsonl"):
        rows = [json.loads(line) for line in (DATA / name).read_text().splitlines()]
        assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
        assert all(40 <= len(r["input"].split()) <= 80 for r in rows)


def test_cli_refuses_a_mock_model_without_traceback() -> None:
    result = CliRunner().invoke(cli, ["mink", str(DATA / "members.jsonl"), "--model",
                                      "mock/echo"])
    assert result.exit_code == 2, result.output
    assert "error: Min-K% scores need token log-probabilities" in result.output
    assert "local/" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_needs_both_groups_without_traceback() -> None:
    result = CliRunner().invoke(cli, ["mink", "--members", str(DATA / "members.jsonl"),
                                      "--model", "mock/echo"])
    assert result.exit_code == 2 and "both --members and --nonmembers" in result.output
    assert "Traceback" not in result.output


@needs_llama
def test_cli_json_with_labels_on_smollm2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "mink", "--members", str(DATA / "members.jsonl"), "--nonmembers",
        str(DATA / "nonmembers.jsonl"), "--model", "local/smollm2", "--limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["n"] == 6 and out["k"] == 0.2
    assert [i["member"] for i in out["items"]] == [True] * 3 + [False] * 3
    for name in ("min_k_prob", "min_k_plus_plus"):
        auc = out["auc"][name]
        assert auc["n"] == 6 and auc["n_members"] == 3 and auc["n_nonmembers"] == 3
        assert 0 <= auc["ci_low"] <= auc["auc"] <= auc["ci_high"] <= 1
    # unlabelled: per-item scores, no AUC
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"id": "t1", "input": TEXTS[0]}) + "\n")
    table = CliRunner().invoke(cli, ["mink", str(data), "--model", "local/smollm2"])
    assert table.exit_code == 0, table.output
    assert "t1" in table.output and "No AUC" in table.output


HAVE_TORCH = (importlib.util.find_spec("torch") is not None
              and importlib.util.find_spec("transformers") is not None)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch or transformers is not installed")
def test_transformers_token_scores_equal_a_direct_torch_computation(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from evalstack.providers.transformers import TransformersProvider
    from tests.providers.test_transformers import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny")
    provider = TransformersProvider(str(folder))
    try:
        got = asyncio.run(Model(provider).token_scores(TokenScoresRequest("the cat sat")))
        tokens = [provider._start_token(), *provider._encode("the cat sat")]
    finally:
        asyncio.run(provider.aclose())
    assert tokens[0] != tokens[1] and list(got.tokens) == tokens[1:]
    ref = AutoModelForCausalLM.from_pretrained(folder)
    with torch.inference_mode():
        logits = ref(torch.tensor([tokens[:-1]])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    mu = (logp.exp() * logp).sum(-1)
    var = (logp.exp() * (logp - mu[:, None]) ** 2).sum(-1)
    np.testing.assert_allclose(got.logprobs, logp[range(len(tokens) - 1), tokens[1:]].numpy(),
                               atol=1e-6, rtol=0)
    np.testing.assert_allclose(got.mean, mu.numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(got.variance, var.numpy(), atol=1e-6, rtol=0)
