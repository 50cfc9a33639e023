"""Answer extraction from what chat models really write, and the strict/flexible scorers."""

from __future__ import annotations

import pytest

from evalstack.core.errors import ConfigError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.scorers.extract import (
    EXTRACTORS,
    extract_answer_is,
    extract_boxed,
    extract_number,
    flexible_extract,
    numbers_equal,
    strict_match,
)


def _score(scorer, target, output, **metadata):
    sample = Sample("1", "q", target, metadata=metadata)
    return scorer(sample, TaskState(sample, output=ModelOutput(output)))


@pytest.mark.parametrize("text, expected", [
    ("The answer is 42.", "42"),
    ("**42**", "42"),
    ("*42*", "42"),
    (r"\boxed{42}", "42"),
    ("42 dollars", "42"),
    ("$1,234.50", "1234.50"),
    ("Answer: -3", "-3"),
    ("She makes 9 * 2 = $18 every day.", "18"),
    ("The total is 1,000,000.", "1000000"),
    ("3 apples and 5 pears make 8.\n\nHmm...", "8"),
    ("It is -0.5.", "-0.5"),
    ("no digits here", None),
])
def test_extract_number_flexible_reads_the_last_number(text, expected):
    assert extract_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("6 * 7 = <<6*7=42>>42\n#### 42", "42"),
    ("#### 1,234", "1234"),
    ("#### -7\n#### 8", "-7"),
    ("The answer is 42.", None),
    ("**42**", None),
    ("####42", None),
])
def test_extract_number_strict_needs_the_hash_format(text, expected):
    assert extract_number(text, mode="strict") == expected


def test_extract_number_rejects_an_unknown_mode():
    with pytest.raises(ConfigError, match="strict.*flexible"):
        extract_number("42", mode="loose")


@pytest.mark.parametrize("text, expected", [
    (r"so \boxed{42}.", "42"),
    (r"$\boxed{\frac{1}{\sqrt{2}}}$", r"\frac{1}{\sqrt{2}}"),
    (r"first \boxed{1}, finally \boxed{ \dfrac{3}{4} }", r"\dfrac{3}{4}"),
    (r"\fbox{7}", "7"),
    (r"\boxed 7$ and more", "7"),
    (r"\boxed{\frac{1}{2}", None),
    ("no box at all", None),
])
def test_extract_boxed_handles_nesting_and_the_last_box(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("The answer is 42.", "42"),
    ("So the answer is **42**.", "42"),
    ("The answer is *Paris*.", "Paris"),
    ("**Answer:** B) Paris", "B) Paris"),
    ("Answer: -3", "-3"),
    ("The answer is: (C). Because...", "(C)"),
    ("Final Answer: The final answer is $5$. I hope it is correct.", "$5$"),
    ("**Answer:**\n\n**17**", "17"),
    ("The answer is 4. No wait, the answer is 5.", "5"),
    ("The answer is $1,234.50.", "$1,234.50"),
    ("I am not sure what to say.", None),
])
def test_extract_answer_is_reads_the_last_statement(text, expected):
    assert extract_answer_is(text) == expected


@pytest.mark.parametrize("a, b, equal", [
    ("$1,234.50", "1234.5", True),
    ("18.00", "18", True),
    ("18.", "18", True),
    ("-3", "3", False),
    ("abc", "ABC", True),
])
def test_numbers_equal_ignores_commas_dollars_and_trailing_periods(a, b, equal):
    assert numbers_equal(a, b) is equal


@pytest.mark.parametrize("output, strict, flexible", [
    ("6 * 7 = 42\n#### 42", 1.0, 1.0),
    ("The answer is 42.", 0.0, 1.0),
    ("**42**", 0.0, 1.0),
    ("#### 42\nThe answer is 41.", 1.0, 0.0),
    ("I cannot tell.", 0.0, 0.0),
])
def test_gsm8k_strict_and_flexible_scores_differ_on_format(output, strict, flexible):
    assert _score(strict_match(), "42", output).value == strict
    assert _score(flexible_extract(), "42", output).value == flexible


def test_scores_carry_the_answer_and_say_why_they_fail():
    r = _score(flexible_extract(), "42", "It is 41.")
    assert (r.value, r.answer) == (0.0, "41") and "Expected '42'" in r.explanation
    r = _score(strict_match(), "42", "It is 42.")
    assert r.answer is None and "gsm8k" in r.explanation


@pytest.mark.parametrize("output, strict, flexible", [
    (r"so $\boxed{\frac{1}{2}}$.", 1.0, 1.0),
    ("Final Answer: The final answer is $0.5$. I hope it is correct.", 1.0, 1.0),
    ("The answer is $1/2$.", 0.0, 1.0),
    (r"We find $x = \frac{1}{2}$", 0.0, 1.0),
    (r"\boxed{\frac{1}{3}}", 0.0, 0.0),
])
def test_math_scorers_compare_by_equivalence(output, strict, flexible):
    assert _score(strict_match(extract="math_final", compare="math"), r"\frac12",
                  output).value == strict
    assert _score(flexible_extract(extract="math", compare="math"), r"\frac12",
                  output).value == flexible


QUESTION = "Which city is the capital of France?\nOptions:\n(A) London\n(B) Paris\n(C) Rome"


@pytest.mark.parametrize("output, strict, flexible", [
    ("Paris is in France. So the answer is (B).", 1.0, 1.0),
    ("So the answer is **(B)**.", 0.0, 1.0),
    ("B) Paris", 0.0, 1.0),
    ("The capital is Paris.", 0.0, 1.0),
    ("The Answer is (B)", 0.0, 1.0),
    ("(A) is wrong and (C) is wrong too. So the answer is (A).", 0.0, 0.0),
])
def test_bbh_multiple_choice_extraction(output, strict, flexible):
    assert _score(strict_match(extract="answer_is_first", compare="exact"), "(B)", output,
                  question=QUESTION).value == strict
    assert _score(flexible_extract(extract="bbh", compare="text"), "(B)", output,
                  question=QUESTION).value == flexible


@pytest.mark.parametrize("target, output, expected", [
    ("Yes", "Let me think... **Yes**, he did.", "yes"),
    ("no", "So the answer is no.", "no"),
    ("invalid", "Therefore the argument is invalid.", "invalid"),
    ("valid", "The argument is valid.", "valid"),
    ("False", "The whole expression is False", "false"),
    ("24", "First 3 * 4 = 12, then 12 * 2 = 24.", "24"),
    ("5", "I count five objects.", "5"),
    ("] ] >", "So the answer is ] ] >.", "] ] >"),
    ("apple pear", "Sorted:\nApple, pear", "apple pear"),
])
def test_bbh_flexible_extraction_by_answer_type(target, output, expected):
    sample = Sample("1", "q", target, metadata={"question": "q"})
    assert EXTRACTORS["bbh"](output, sample) == expected


def test_a_custom_pattern_takes_first_or_last_match():
    first = strict_match(pattern=r"ANSWER: (\d+)")
    last = flexible_extract(pattern=r"ANSWER: (\d+)")
    text = "ANSWER: 1\nANSWER: 2"
    assert _score(first, "1", text).value == 1.0 and _score(last, "2", text).value == 1.0
    assert first.spec.args == {"pattern": r"ANSWER: (\d+)"}


def test_unknown_names_and_bad_patterns_are_config_errors():
    with pytest.raises(ConfigError, match="Did you mean 'number'"):
        flexible_extract(extract="numbr")
    with pytest.raises(ConfigError, match="comparator"):
        strict_match(compare="fuzzy")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        strict_match(pattern="(unclosed")


def test_metric_names_are_the_factory_names():
    assert strict_match(extract="math_final", compare="math").spec.name == "strict_match"
    assert flexible_extract().spec.name == "flexible_extract"
