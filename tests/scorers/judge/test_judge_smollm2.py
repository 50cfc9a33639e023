"""The embedded model as judge: weak, but real, with its verdict forced by a llama.cpp grammar."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.core.types import GenerateConfig, GenerateRequest
from evalstack.providers.llamacpp import local_provider
from evalstack.scorers.judge.prompt import render_judge_prompt, template_hash
from evalstack.scorers.judge.rubric import default_rubric
from evalstack.scorers.judge.scorer import verdict_format
from evalstack.scorers.judge.verdict import parse_verdict
from evalstack.store import Store
from tests.conftest import write_jsonl

pytest.importorskip("llama_cpp")


def test_the_grammar_forces_a_verdict_the_bare_model_does_not_give():
    rubric = default_rubric()
    provider = local_provider("smollm2")
    messages = render_judge_prompt(rubric, "What is the capital of France?", "Lyon", "Paris")
    from evalstack.core.types import ChatMessage

    chat = tuple(ChatMessage(m["role"], m["content"]) for m in messages)

    async def ask(structured):
        return await provider.generate(GenerateRequest(
            chat, GenerateConfig(max_tokens=200, temperature=0.0, structured=structured)))

    async def both():
        try:
            return await ask(verdict_format(rubric)), await ask(None)
        finally:
            await provider.aclose()

    forced, free = asyncio.run(both())
    obj = json.loads(forced.text)  # the whole reply is the verdict object, nothing else
    assert list(obj) == ["rationale", "scores"]
    assert list(obj["scores"]) == ["accuracy", "completeness", "clarity"]
    assert parse_verdict(forced.text, rubric).overall in {1, 4 / 3, 5 / 3, 2, 7 / 3, 8 / 3, 3,
                                                          10 / 3, 11 / 3, 4, 13 / 3, 14 / 3, 5}
    # without the grammar the 135M model ignores the format (it rambles about the question),
    # so the constraint, not luck, is what makes it a usable judge
    from evalstack.scorers.judge.verdict import VerdictError

    with pytest.raises(VerdictError):
        parse_verdict(free.text, rubric)


def test_evalstack_run_with_the_embedded_judge_stores_scores_and_provenance(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", [
        {"input": "What is the capital of France?", "target": "Paris"},
        {"input": "How many legs does a spider have?", "target": "8"},
    ])
    store = tmp_path / "store.db"
    result = CliRunner().invoke(cli, [
        "run", str(data), "-m", "mock/echo", "--scorer", "llm_judge", "--scorer", "exact_match",
        "--store", str(store), "--json", "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    with Store.open(str(store)) as st:
        run = st.list_runs()[0]
        rows = list(st.iter_samples(run.id))
    assert len(rows) == 2
    for row in rows:
        assert row.error is None
        score = row.scores["llm_judge"]
        meta = score["metadata"]
        assert meta["judge"]["model"] == "local/smollm2"
        assert meta["judge"]["version"]  # as llama.cpp reports it (the GGUF's general.name)
        assert meta["judge"]["template_hash"] == template_hash(default_rubric())
        assert set(meta["criteria"]) == {"accuracy", "completeness", "clarity"}
        assert isinstance(score["explanation"], str)
        assert 0.0 <= score["value"] <= 1.0
        assert meta["attempts"] == 1  # the grammar makes the first reply parse
