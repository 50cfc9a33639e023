"""exact_match, includes, regex_match and numeric."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalstack.core import registry
from evalstack.core.component import ComponentSpec
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.scorers.match import (
    exact_match,
    includes,
    normalizer,
    numeric,
    parse_number,
    regex_match,
)


def run(scorer, completion: str, target: str | tuple[str, ...]) -> Score:
    sample = Sample("s1", "question", target)
    return scorer(sample, TaskState(sample, output=ModelOutput(completion)))


# --- exact_match ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "target", "value"),
    [
        (" paris.", "Paris", 1.0),
        ("PARIS", "paris", 1.0),
        ("New   York\n", "new york", 1.0),
        ('"Paris"', "Paris", 1.0),
        ("(Paris)!!", "Paris", 1.0),
        ("¿Paris?", "Paris", 1.0),
        ("Straße", "STRASSE", 1.0),
        ("Pa-ris", "Paris", 0.0),
        ("Paris, France", "Paris", 0.0),
        ("The Paris", "Paris", 0.0),
        ("U.S.", "U.S", 1.0),
        ("", "", 1.0),
        ("Paris", "", 0.0),
    ],
)
def test_exact_match_default_normalisation(completion: str, target: str, value: float) -> None:
    assert run(exact_match(), completion, target).value == value


def test_exact_match_any_target_and_answer_is_normalised_output() -> None:
    r = run(exact_match(), "  Big   Apple. ", ("New York", "big apple"))
    assert r == Score(1.0, "binary", answer="big apple")
    assert run(exact_match(), "Boston", ("New York", "big apple")).value == 0.0


@pytest.mark.parametrize(
    ("normalize", "completion", "target", "value"),
    [
        ("none", "Paris", "Paris", 1.0),
        ("none", "Paris ", "Paris", 0.0),
        ("none", "paris", "Paris", 0.0),
        ((), "Paris ", "Paris", 0.0),
        ("casefold", "PARIS", "paris", 1.0),
        ("casefold", " paris", "paris", 0.0),
        ("strip", " Paris\n", "Paris", 1.0),
        ("strip", "paris", "Paris", 0.0),
        ("whitespace", "New \t York", "New York", 1.0),
        ("whitespace", " New York", "New York", 0.0),
        ("punctuation_edges", "...Paris!", "Paris", 1.0),
        ("punctuation_edges", "Par.is", "Paris", 0.0),
        (("articles", "strip"), "the cat", "cat", 1.0),
        (("articles", "strip"), "An apple", "apple", 1.0),
        (("articles", "strip"), "theatre", "atre", 0.0),
        ("casefold+strip", " PARIS ", "paris", 1.0),
        ("casefold, strip", " PARIS ", "paris", 1.0),
        ("casefold strip", " PARIS ", "paris", 1.0),
        (["strip", "casefold"], " PARIS ", "paris", 1.0),
    ],
)
def test_exact_match_each_normalisation(normalize, completion, target, value) -> None:
    assert run(exact_match(normalize=normalize), completion, target).value == value


def test_normalisations_apply_in_a_fixed_order() -> None:
    # Articles are found after casefolding, and punctuation edges after whitespace collapse.
    for names in (("punctuation_edges", "articles", "casefold"),
                  ("casefold", "articles", "punctuation_edges")):
        assert normalizer(names)("The Cat.") == "cat"


def test_every_normalisation_is_documented() -> None:
    doc = exact_match.__doc__ or ""
    for name in ("strip", "casefold", "whitespace", "punctuation_edges", "articles", "none"):
        assert f'``"{name}"``' in doc


@pytest.mark.parametrize(
    ("normalize", "match"),
    [
        ("casefld", "Unknown normalisation 'casefld'.*Did you mean 'casefold'"),
        (("strip", "punctuation"), "Did you mean 'punctuation_edges'"),
        ("lowercase", "Known normalisations: casefold, articles"),
        (("none", "strip"), "'none' cannot be combined"),
        (3, "a name or a list of names"),
        ((1, 2), "a name or a list of names"),
    ],
)
def test_exact_match_rejects_bad_normalisations(normalize, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        exact_match(normalize=normalize)


# --- includes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "target", "case_sensitive", "value"),
    [
        ("It was Shakespeare, of course.", "shakespeare", False, 1.0),
        ("It was Shakespeare, of course.", "shakespeare", True, 0.0),
        ("It was Shakespeare, of course.", "Shakespeare", True, 1.0),
        ("It was Marlowe.", ("Shakespeare", "Marlowe"), False, 1.0),
        ("It was Bacon.", ("Shakespeare", "Marlowe"), False, 0.0),
        ("Answer: 42", " 42\n", False, 1.0),
        ("STRASSE", "straße", False, 1.0),
    ],
)
def test_includes(completion, target, case_sensitive: bool, value: float) -> None:
    assert run(includes(case_sensitive=case_sensitive), completion, target).value == value


def test_includes_reports_the_target_found_and_ignores_empty_targets() -> None:
    assert run(includes(), "It was Marlowe.", ("Bacon", "Marlowe")).answer == "Marlowe"
    empty = run(includes(), "anything", ("", "  "))
    assert empty.value == 0.0 and "no non-empty target" in (empty.explanation or "")
    assert run(includes(), "anything", ("", "thing")).value == 1.0


def test_includes_rejects_non_boolean() -> None:
    with pytest.raises(ConfigError, match="true or false; received 'no'"):
        includes(case_sensitive="no")  # type: ignore[arg-type]


# --- regex_match ---------------------------------------------------------------------


def test_regex_targets_are_patterns() -> None:
    s = regex_match()
    assert run(s, "The year was 1969.", r"19\d\d").answer == "1969"
    assert run(s, "The year was 1969.", (r"^20\d\d$", r"\b1969\b")).value == 1.0
    missed = run(s, "The year was 1969.", r"^1969")
    assert missed.value == 0.0 and "^1969" in (missed.explanation or "")
    assert run(s, "anything", "").value == 0.0


def test_regex_pattern_with_flags_ignores_targets_unless_answer_group() -> None:
    found = regex_match(r"\[\d+\]")
    assert run(found, "As shown in [3].", "unrelated").value == 1.0
    assert run(found, "No citation.", "unrelated").value == 0.0
    assert run(regex_match("paris"), "PARIS", "x").value == 0.0
    assert run(regex_match("paris", flags="i"), "PARIS", "x").value == 1.0
    assert run(regex_match("^b$", flags="m"), "a\nb\nc", "x").value == 1.0
    assert run(regex_match("a.c", flags="s"), "a\nc", "x").value == 1.0
    assert run(regex_match("a b c", flags="x"), "abc", "x").value == 1.0


def test_regex_answer_group_is_compared_with_targets() -> None:
    s = regex_match(r"ANSWER:\s*(?P<answer>[^\n]+)", flags="i")
    hit = run(s, "Reasoning...\nAnswer:  Blue Whale \n", ("blue whale", "whale"))
    assert (hit.value, hit.answer) == (1.0, "Blue Whale")
    miss = run(s, "Answer: shark", "blue whale")
    assert (miss.value, miss.answer) == (0.0, "shark")
    assert "not one of the targets" in (miss.explanation or "")
    assert run(s, "no marker here", "shark").value == 0.0


def test_regex_invalid_patterns_are_config_errors_naming_the_pattern() -> None:
    with pytest.raises(ConfigError, match=r"The regex pattern '\(unclosed' is not a valid"):
        regex_match("(unclosed")
    s = regex_match()
    with pytest.raises(ConfigError, match=r"Sample 's1': the target pattern '\[a-' is not"):
        run(s, "text", "[a-")
    with pytest.raises(ConfigError, match="Unknown regex flag 'q'"):
        regex_match("a", flags="iq")
    with pytest.raises(ConfigError, match="must be a string"):
        regex_match(5)  # type: ignore[arg-type]


# --- numeric -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "target", "value", "answer"),
    [
        ("The answer is 42.", "42", 1.0, "42"),
        ("It costs $1,234.50 in total", "1234.5", 1.0, "1234.5"),
        ("It is 3/4 of the pie", "0.75", 1.0, "0.75"),
        ("Three quarters: 3 / 4", "3/4", 1.0, "0.75"),
        ("Growth was 45%", "45", 1.0, "45"),
        ("The temperature is -3 degrees", "-3", 1.0, "-3"),
        ("The temperature is \u22123 degrees", "-3", 1.0, "-3"),
        ("It fell by -$5.", "-5", 1.0, "-5"),
        ("First 7 apples, then 12.", "12", 1.0, "12"),
        ("1,2,3", "3", 1.0, "3"),
        ("x = 2e3", "2000", 1.0, "2000"),
        ("1,000,000", "$1,000,000", 1.0, "1000000"),
        ("So the final answer is\n#### 72", "#### 72", 1.0, "72"),
        ("H2O has 3 atoms", "3", 1.0, "3"),
        ("about .5", "0.5", 1.0, "0.5"),
        ("3.1416", "3.14159", 0.0, "3.1416"),
        ("The answer is 41.", "42", 0.0, "41"),
    ],
)
def test_numeric_extracts_the_last_number(completion, target, value, answer) -> None:
    r = run(numeric(), completion, target)
    assert (r.value, r.answer) == (value, answer)


def test_numeric_tolerances() -> None:
    assert run(numeric(tolerance=1e-3), "3.1416", "3.14159").value == 1.0
    assert run(numeric(tolerance=0.5), "10.4", "10").value == 1.0
    assert run(numeric(tolerance=0.5), "10.6", "10").value == 0.0
    assert run(numeric(tolerance=0.02, relative=True), "1010", "1000").value == 1.0
    assert run(numeric(tolerance=0.02, relative=True), "1030", "1000").value == 0.0
    assert run(numeric(tolerance=0.02, relative=True), "0", "0").value == 1.0
    assert run(numeric(tolerance="1e-3"), "3.1416", "3.14159").value == 1.0  # type: ignore[arg-type]
    assert run(numeric(), "It is 5", ("four", "5.0")).value == 1.0


def test_numeric_explains_missing_numbers_and_mismatches() -> None:
    none = run(numeric(), "I don't know", "42")
    assert (none.value, none.answer) == (0.0, None)
    assert none.explanation == "No number found in the output."
    no_target = run(numeric(), "42", "forty-two")
    assert no_target.value == 0.0 and "No target has a number" in (no_target.explanation or "")
    wrong = run(numeric(), "41", "42")
    assert wrong.explanation == "Expected 42; got 41."


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tolerance": -1}, "finite number >= 0"),
        ({"tolerance": "abc"}, "finite number >= 0"),
        ({"tolerance": float("nan")}, "finite number >= 0"),
        ({"relative": "yes"}, "true or false"),
    ],
)
def test_numeric_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        numeric(**kwargs)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_parse_number_reads_thousands_separators(n: int) -> None:
    assert parse_number(f"Total: {n:,} items") == n
    assert parse_number(f"${n:,}.") == n


@given(st.decimals(min_value=-1e6, max_value=1e6, places=3, allow_nan=False))
def test_parse_number_reads_decimals(d) -> None:
    assert parse_number(f"value = {d}") == pytest.approx(float(d))


def test_parse_number_edge_cases() -> None:
    assert parse_number("") is None
    assert parse_number("v2 of the model") is None
    assert parse_number("12/0") is None
    assert parse_number("2 then 1/0") == 2
    assert parse_number("12/25/2020") == 2020


# --- specs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "name", "args"),
    [
        (lambda: exact_match(), "exact_match", {}),
        (lambda: exact_match(normalize="none"), "exact_match", {"normalize": "none"}),
        (lambda: exact_match(("strip",)), "exact_match", {"normalize": ("strip",)}),
        (lambda: includes(), "includes", {}),
        (lambda: includes(case_sensitive=True), "includes", {"case_sensitive": True}),
        (lambda: regex_match(), "regex", {}),
        (lambda: regex_match(r"\d+", flags="i"), "regex", {"pattern": r"\d+", "flags": "i"}),
        (lambda: numeric(), "numeric", {}),
        (lambda: numeric(0.5, relative=True), "numeric", {"tolerance": 0.5, "relative": True}),
    ],
)
def test_specs_name_the_registered_scorer_and_its_arguments(build, name: str, args: dict) -> None:
    scorer = build()
    assert scorer.spec == ComponentSpec("scorer", name, args)
    rebuilt = registry.lookup("scorer", scorer.spec.name)(**scorer.spec.args)
    assert rebuilt.spec == scorer.spec
