"""extract_choice on many phrasings, and the choice scorer."""

from __future__ import annotations

import pytest

from evalstack.core import registry
from evalstack.core.component import ComponentSpec
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.scorers.choice import choice, extract_choice

CITIES = ("London", "Paris", "Rome", "Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a lone letter, however decorated
        ("B", 1),
        ("b", 1),
        ("  d  ", 3),
        ("B.", 1),
        ("(b)", 1),
        ("**B**", 1),
        ('"C"', 2),
        ("[A]", 0),
        ("A", 0),
        # explicit statements
        ("Answer: B", 1),
        ("ANSWER: c", 2),
        ("The answer is (C)", 2),
        ("The answer is: **D**", 3),
        ("Final answer: C", 2),
        ("The correct option is D.", 3),
        ("The best answer is (A)", 0),
        ("Answer - D", 3),
        ("The answer is: B) Paris", 1),
        ("I think the answer is A because it is the capital.", 0),
        ("the answer is b because rome is wrong", 1),
        ("Option A is wrong, option B is right. The answer is B.", 1),
        ("B looks tempting, but the answer is (C).", 2),
        ("A. London\nB. Paris\nThe answer is B", 1),
        ("Answer: A\nOn reflection...\nAnswer: D", 3),
        ("My answer: E. Actually it is C.", 2),
        # the option's text
        ("Paris", 1),
        ("rome", 2),
        ("  Berlin. ", 3),
        ("The answer is Paris.", 1),
        ("answer: paris", 1),
        # the last standalone letter
        ("I would say C.", 2),
        ("B is correct", 1),
        ("It is [b]", 1),
        ("I choose 'B'", 1),
        ("I'm going with C", 2),
        ("Between A and B, I pick B", 1),
        ("A good choice would be B.", 1),
        ("The answer is not A, it is C", 2),
        ("answer is a bit unclear, but I pick (c)", 2),
        # nothing valid
        ("E", None),
        ("The answer is E", None),
        ("I am not sure.", None),
        ("The answer is a city", None),
        ("I think it's the French capital", None),
        ("", None),
        ("Answer: 2", None),
    ],
)
def test_extract_choice(text: str, expected: int | None) -> None:
    assert extract_choice(text, 4, CITIES) == expected


def test_letters_beyond_the_options_and_pronouns() -> None:
    assert extract_choice("E", 5) == 4
    assert extract_choice("The answer is E", 5) == 4
    assert extract_choice("I", 9) == 8
    assert extract_choice("The answer is I", 9) == 8
    assert extract_choice("I think so", 9) is None
    assert extract_choice("D", 3) is None
    assert extract_choice("Paris", 4) is None  # no option texts given


def test_option_text_prefers_the_longest_match() -> None:
    options = ("Paris", "Paris, Texas")
    assert extract_choice("The answer is Paris, Texas.", 2, options) == 1
    assert extract_choice("The answer is Paris.", 2, options) == 0
    assert extract_choice("The answer is Parisian", 2, options) is None


@pytest.mark.parametrize("n", [0, 27])
def test_extract_choice_rejects_impossible_counts(n: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 26"):
        extract_choice("A", n)


def score(text: str, target: str | tuple[str, ...], state_choice: int | None = None,
          choices: tuple[str, ...] | None = CITIES) -> Score:
    sample = Sample("q1", "Capital of France?", target, choices=choices)
    state = TaskState(sample, output=ModelOutput(text), choice=state_choice)
    return choice()(sample, state)


@pytest.mark.parametrize("target", ["B", "b", "(B)", "Paris", "paris", "1", ("A", "B")])
def test_choice_scorer_target_forms(target) -> None:
    r = score("The answer is B.", target)
    assert (r.value, r.answer) == (1.0, "B")


def test_choice_scorer_wrong_and_missing_answers() -> None:
    wrong = score("The answer is C.", "B")
    assert (wrong.value, wrong.answer, wrong.explanation) == (0.0, "C", "Expected B; chose C.")
    missing = score("I refuse to answer.", "B")
    assert (missing.value, missing.answer) == (0.0, None)
    assert missing.explanation == "No valid choice found in the output."


def test_choice_scorer_prefers_the_solvers_choice() -> None:
    # A log-likelihood solver sets state.choice and produces no text.
    assert score("", "C", state_choice=2) == Score(1.0, answer="C")
    assert score("The answer is C", "C", state_choice=0).value == 0.0
    bad = score("", "C", state_choice=7)
    assert bad.value == 0.0 and "not a valid option" in (bad.explanation or "")


def test_target_letter_before_text_before_index() -> None:
    options = ("B", "A", "1", "0")  # option texts that look like letters and indices
    assert score("Answer: A", "A", choices=options).value == 1.0  # the letter A, not text "A"
    assert score("Answer: D", "0", choices=options).value == 1.0  # the text "0", index 3
    assert score("Answer: B", "1", choices=("x", "y", "z")).value == 1.0  # a 0-based index


def test_choice_scorer_bad_samples() -> None:
    with pytest.raises(ConfigError, match="Sample 'q1' has no choices"):
        score("A", "A", choices=None)
    with pytest.raises(DataError, match=r"the target 'E' names none of the 4 choices.*A-D"):
        score("A", "E")
    with pytest.raises(DataError, match="at most 26"):
        score("A", "A", choices=tuple(str(i) for i in range(27)))


def test_spec() -> None:
    assert choice().spec == ComponentSpec("scorer", "choice", {})
    assert registry.lookup("scorer", "choice") is choice
