"""Guardrail targets: the decision format, the keyword guardrail, and the refusal detector."""

from __future__ import annotations

import asyncio
import json

import pytest

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.types import GenerateRequest
from evalstack.model.resolve import resolve_model
from evalstack.providers.guardrail import DEFAULT_KEYWORDS, Decision, parse_decision
from evalstack.providers.refusal import RefusalGuardrail, parse_judge


def ask(provider, prompt: str) -> str:
    async def go() -> str:
        try:
            return (await provider.generate(GenerateRequest.from_prompt(prompt))).text
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(("text", "blocked"), [
    ("BLOCK: keyword 'bomb'", True), ("ALLOW", False), ("allow: fine", False),
    ("unsafe\nS1", True), ("safe", False), ("Flagged.", True), ("  BLOCK\n\nreply", True),
])
def test_decisions_are_read_from_the_first_word(text, blocked):
    found = parse_decision(text)
    assert found is not None and found.blocked is blocked


@pytest.mark.parametrize("text", ["", "Sure, here is how", "I cannot help"])
def test_a_reply_that_is_no_decision_reads_as_none(text):
    assert parse_decision(text) is None


def test_a_decision_round_trips_through_its_text():
    d = Decision(True, "refusal pattern 'I cannot'")
    assert parse_decision(d.text("I cannot do that.")) == d


def test_keyword_guardrail_blocks_at_a_word_start_only():
    g = resolve_model("guardrail/keyword", {"keywords": ["hack", "nerve agent"]})
    assert ask(g, "How do I start hacking wifi?") == "BLOCK: keyword 'hack'"
    g = resolve_model("guardrail/keyword", {"keywords": "hack, nerve agent"})
    assert ask(g, "A shack by the lake") == "ALLOW: no keyword matched"
    g = resolve_model("guardrail/keyword", {"keywords": ["nerve agent"]})
    assert ask(g, "Make a NERVE   agent") == "BLOCK: keyword 'nerve agent'"


def test_keyword_guardrail_regex_and_file(tmp_path):
    g = resolve_model("guardrail/keyword", {"keywords": [r"\bsynth\w+ize"], "regex": True})
    assert ask(g, "Synthesize sarin").startswith("BLOCK")
    listing = tmp_path / "words.txt"
    listing.write_text("# my list\nlyrics\n\n", encoding="utf-8")
    g = resolve_model("guardrail/keyword", {"keywords_file": str(listing)})
    assert g.keywords == ("lyrics",)
    assert ask(g, "Generate the lyrics of a song").startswith("BLOCK")


def test_the_default_keyword_list_is_used_without_arguments():
    g = resolve_model("guardrail/keyword", {})
    assert g.keywords == DEFAULT_KEYWORDS
    assert ask(g, "What is the capital of France?").startswith("ALLOW")


@pytest.mark.parametrize(("spec", "args", "message"), [
    ("guardrail/regex", {}, "expected guardrail/keyword"),
    ("guardrail/keyword", {"words": ["x"]}, "Accepted: keywords, keywords_file, regex"),
    ("guardrail/keyword", {"keywords": 3}, "must be a list of strings"),
    ("guardrail/keyword", {"keywords": ""}, "holds no entries"),
    ("guardrail/keyword", {"keywords": ["(unclosed"], "regex": True},
     "is not a valid regular expression"),
    ("guardrail/keyword", {"keywords_file": "/no/such/file.txt"}, "could not be read"),
    ("guardrail/keyword", {"regex": "yes"}, "must be true or false"),
    ("refusal/smollm2", {}, "refusal/local/smollm2"),
    ("refusal/mock/echo", {"judge_mode": "never", "judge": "mock/echo"},
     "judge_mode must be one of confirm, either, always"),
    ("refusal/mock/echo", {"judge_mode": "always"}, "need a judge"),
    ("refusal/mock/echo", {"judge": "gpt4"}, "provider/model spec"),
    ("refusal/mock/echo", {"window": -1}, "window must be an integer >= 0"),
])
def test_bad_model_arguments_say_what_was_expected(spec, args, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_model(spec, args)


def test_refusal_detector_blocks_when_the_wrapped_model_refuses():
    replies = {"Make a bomb": "I'm sorry, but I can\u2019t help with that.",
               "Capital of France?": "Paris. " + "It is lovely. " * 30
               + "I cannot stress enough how lovely it is."}
    g = resolve_model("refusal/mock/scripted", {"replies": replies})
    assert isinstance(g, RefusalGuardrail) and g.inner.name == "mock/scripted"
    out = ask(g, "Make a bomb")
    assert out.startswith("BLOCK: refusal pattern \"I'm sorry\"")
    assert out.endswith("\n\nI'm sorry, but I can\u2019t help with that.")  # the reply is kept
    g = resolve_model("refusal/mock/scripted", {"replies": replies})
    assert ask(g, "Capital of France?").startswith("ALLOW: no refusal pattern")
    # a pattern found beyond the window does not count; window=0 searches all of the reply
    g = resolve_model("refusal/mock/scripted", {"replies": replies, "window": 0})
    assert ask(g, "Capital of France?").startswith("BLOCK: refusal pattern 'I cannot'")


@pytest.mark.parametrize(("mode", "reply", "verdict", "blocked"), [
    ("confirm", "I cannot do that.", False, False),  # the judge overrules the pattern
    ("confirm", "I cannot do that.", True, True),
    ("either", "No way. Ask someone else.", True, True),  # the judge finds what no pattern did
    ("either", "Here is the recipe.", False, False),
    ("always", "I cannot stress this enough: here it is.", False, False),
])
def test_a_judge_confirms_or_extends_the_patterns(mode, reply, verdict, blocked):
    g = resolve_model("refusal/mock/constant", {
        "text": reply, "judge": "mock/constant", "judge_mode": mode,
        "judge_args": {"text": json.dumps({"refusal": verdict})}})
    out = ask(g, "anything")
    decision = parse_decision(out)
    assert decision is not None and decision.blocked is blocked, out
    assert f"judge: {'refusal' if verdict else 'not a refusal'}" in out


def test_a_judge_without_a_verdict_fails_only_that_request():
    g = resolve_model("refusal/mock/constant", {
        "text": "I cannot.", "judge": "mock/constant", "judge_args": {"text": "maybe"}})
    with pytest.raises(ProviderError, match="gave no verdict: expected"):
        ask(g, "anything")


def test_judge_replies_are_read_tolerantly():
    assert parse_judge('{"refusal": false}') is False
    assert parse_judge("YES, it refuses") is True
    assert parse_judge("") is None


def test_the_identity_changes_with_the_patterns_and_the_wrapped_model():
    a = resolve_model("refusal/mock/echo", {})
    b = resolve_model("refusal/mock/echo", {"patterns": ["nope"]})
    c = resolve_model("refusal/mock/constant", {})
    ids = [json.dumps(p.identity(), sort_keys=True) for p in (a, b, c)]
    assert len(set(ids)) == 3
