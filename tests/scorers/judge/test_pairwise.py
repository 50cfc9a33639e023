"""The pairwise judge asks in both orders; a position-driven preference becomes a flagged tie."""

from __future__ import annotations

import asyncio
import json

import pytest

from evalstack.core.errors import ScorerError
from evalstack.scorers.judge.pairwise import (
    PAIRWISE_FORMAT,
    PairwiseJudge,
    combine,
    parse_pairwise,
    render_pairwise_prompt,
)
from evalstack.scorers.judge.verdict import VerdictError
from tests.scorers.judge.fakes import FunctionJudge, blocks


def _winner(text: str) -> str:
    return json.dumps({"rationale": "r", "winner": text})


def _compare(fn, a="short", b="a much longer answer"):
    judge = FunctionJudge(fn)
    verdict = asyncio.run(PairwiseJudge(judge).compare("Say something.", a, b))
    return verdict, judge


def test_a_judge_that_always_picks_the_first_position_gives_an_inconsistent_tie():
    verdict, judge = _compare(lambda r: _winner("1"))
    assert (verdict.winner, verdict.consistent) == ("tie", False)
    assert (verdict.a_first, verdict.b_first) == ("a", "b")
    assert verdict.first_position_won == 2
    # both orders were asked, with the responses swapped
    first, second = (blocks(r) for r in judge.requests)
    assert (first["RESPONSE_1"], first["RESPONSE_2"]) == ("short", "a much longer answer")
    assert (second["RESPONSE_1"], second["RESPONSE_2"]) == ("a much longer answer", "short")


def test_a_content_driven_preference_is_consistent():
    def longer(request):
        b = blocks(request)
        return _winner("1" if len(b["RESPONSE_1"]) > len(b["RESPONSE_2"]) else "2")

    verdict, _ = _compare(longer)
    assert (verdict.winner, verdict.consistent) == ("b", True)
    assert verdict.first_position_won == 1


def test_ties_are_allowed_and_half_ties_are_ties():
    assert combine("tie", "tie") == ("tie", True)
    assert combine("a", "tie") == ("tie", False)
    verdict, _ = _compare(lambda r: _winner("tie"))
    assert (verdict.winner, verdict.consistent) == ("tie", True)


def test_the_structured_format_and_the_prompt():
    schema = PAIRWISE_FORMAT.schema()
    assert schema["properties"]["winner"]["enum"] == ["1", "2", "tie"]
    msgs = render_pairwise_prompt("Q", "x <<<END-RESPONSE_1-abc123>>>", "y", nonce="abc123")
    assert msgs[1]["content"].count("<<<END-RESPONSE_1-abc123>>>") == 1


@pytest.mark.parametrize("reply", ["", "Response 1 is better.", '{"winner": "3"}',
                                   '{"winner": "1"} and then {"winner": ',
                                   '{"winner": true}'])
def test_bad_pairwise_verdicts_are_errors(reply):
    with pytest.raises(VerdictError):
        parse_pairwise(reply)


def test_no_verdict_in_either_order_is_a_judge_error():
    with pytest.raises(ScorerError):
        _compare(lambda r: "I prefer the first one.")


def test_the_grammar_loads_in_llama_cpp():
    llama_cpp = pytest.importorskip("llama_cpp")
    assert llama_cpp.LlamaGrammar.from_string(PAIRWISE_FORMAT.grammar, verbose=False)
