"""Binary scorers that compare the output with the sample's targets.

- ``exact_match``: equality after a chosen normalisation.
- ``includes``: a target occurs in the output.
- ``regex_match`` (registered as ``regex``): a regular expression is found in the output.
- ``numeric``: the last number in the output equals the target's, within a tolerance.

A sample matches when any of its targets matches.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample

ScoreFn = Callable[[Sample, TaskState], Score]

DEFAULT_NORMALIZE: tuple[str, ...] = ("strip", "casefold", "whitespace", "punctuation_edges")

_SPACES = re.compile(r"\s+")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b\s*", re.IGNORECASE)


# The ASCII characters of Unicode category P* and the ASCII whitespace, precomputed: most
# text is ASCII, and a set look-up is much cheaper than unicodedata.category.
_ASCII_EDGES = frozenset(
    c for c in map(chr, range(128)) if c.isspace() or unicodedata.category(c).startswith("P"))


def _is_edge(ch: str) -> bool:
    if ch.isascii():
        return ch in _ASCII_EDGES
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def _punctuation_edges(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


# Applied in this order, whatever order they are given in, so that equal sets of names
# always mean the same thing.
_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "casefold": str.casefold,
    "articles": lambda t: _ARTICLES.sub("", t),
    "whitespace": lambda t: _SPACES.sub(" ", t),
    "punctuation_edges": _punctuation_edges,
    "strip": str.strip,
}
_KNOWN = (*_NORMALIZERS, "none")


def normalizer(normalize: tuple[str, ...] | str) -> Callable[[str], str]:
    """The text-normalising function for a list of normalisation names.

    Args:
        normalize: names (see ``exact_match``), as a sequence or one string separated by
            commas, ``+`` or spaces.

    Returns:
        A function applying the named steps in a fixed order.

    Raises:
        ConfigError: a name is unknown (with a did-you-mean), or ``"none"`` is combined
            with other names.

    Examples:
        >>> normalizer("casefold+punctuation_edges")("Paris!")
        'paris'
    """
    if isinstance(normalize, str):
        names = [n for n in re.split(r"[\s,+]+", normalize) if n]
    elif isinstance(normalize, list | tuple) and all(isinstance(n, str) for n in normalize):
        names = list(normalize)
    else:
        raise ConfigError(
            f"exact_match normalize must be a name or a list of names from "
            f"{', '.join(_KNOWN)}; received {normalize!r}."
        )
    for name in names:
        if name not in _KNOWN:
            close = difflib.get_close_matches(name, _KNOWN, n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"Unknown normalisation {name!r} for exact_match.{hint} "
                f"Known normalisations: {', '.join(_KNOWN)}."
            )
    if "none" in names and len(set(names)) > 1:
        raise ConfigError(
            f"The normalisation 'none' cannot be combined with others; received {names!r}. "
            "Use normalize='none' alone for a verbatim comparison."
        )
    steps = [fn for name, fn in _NORMALIZERS.items() if name in names]

    def apply(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return apply


@component("scorer")
def exact_match(normalize: tuple[str, ...] | str = DEFAULT_NORMALIZE) -> ScoreFn:
    """Score 1 when the normalised output equals a normalised target.

    Normalisations (applied to the output and to each target, in this order, whatever
    order they are given in):

    - ``"casefold"``: case-insensitive comparison (``str.casefold``: "Straße" = "STRASSE").
    - ``"articles"``: remove the English articles "a", "an" and "the" as whole words, with
      the whitespace after them.
    - ``"whitespace"``: collapse every run of whitespace (spaces, tabs, newlines) into one
      space.
    - ``"punctuation_edges"``: remove punctuation (Unicode category P*) and whitespace from
      both ends, so "Paris." and "(Paris)" equal "Paris"; inner punctuation is kept.
    - ``"strip"``: remove leading and trailing whitespace.
    - ``"none"``: compare verbatim; cannot be combined with the others.

    Args:
        normalize: a tuple of names, or one string of names separated by commas, ``+``
            or spaces (``"casefold+strip"``).

    Returns:
        A scorer whose ``Score.answer`` is the normalised output.

    Raises:
        ConfigError: an unknown normalisation name (the message suggests the closest).

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = exact_match()
        >>> sample = Sample("1", "Capital of France?", ("Paris", "Paris, France"))
        >>> s(sample, TaskState(sample, output=ModelOutput("  PARIS.\\n"))).value
        1.0
        >>> s.spec.label()
        'exact_match'
    """
    norm = normalizer(normalize)

    def score(sample: Sample, state: TaskState) -> Score:
        answer = norm(state.completion)
        matched = any(norm(target) == answer for target in sample.targets)
        return Score(1.0 if matched else 0.0, answer=answer)

    return score


@component("scorer")
def includes(case_sensitive: bool = False) -> ScoreFn:
    """Score 1 when a target occurs anywhere in the output.

    Targets are stripped of surrounding whitespace; empty targets are ignored (they would
    match every output), and a sample with no non-empty target scores 0 with an
    explanation.

    Args:
        case_sensitive: compare case-sensitively; by default both sides are casefolded.

    Returns:
        A scorer whose ``Score.answer`` is the target found.

    Raises:
        ConfigError: ``case_sensitive`` is not a boolean.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "Who wrote Hamlet?", "Shakespeare")
        >>> includes()(sample, TaskState(sample, output=ModelOutput("It was shakespeare."))).value
        1.0
    """
    if not isinstance(case_sensitive, bool):
        raise ConfigError(
            f"includes case_sensitive must be true or false; received {case_sensitive!r}."
        )

    def fold(text: str) -> str:
        return text if case_sensitive else text.casefold()

    def score(sample: Sample, state: TaskState) -> Score:
        targets = [t.strip() for t in sample.targets if t.strip()]
        if not targets:
            return Score(0.0, explanation="The sample has no non-empty target to look for.")
        text = fold(state.completion)
        for target in targets:
            if fold(target) in text:
                return Score(1.0, answer=target)
        return Score(0.0, explanation=f"None of {targets!r} occurs in the output.")

    return score


_FLAGS = {
    "i": re.IGNORECASE,
    "m": re.MULTILINE,
    "s": re.DOTALL,
    "x": re.VERBOSE,
    "a": re.ASCII,
}


def _parse_flags(flags: str) -> int:
    if not isinstance(flags, str):
        raise ConfigError(f"regex flags must be a string such as 'im'; received {flags!r}.")
    bits = 0
    for letter in flags:
        if letter.lower() not in _FLAGS:
            raise ConfigError(
                f"Unknown regex flag {letter!r} in {flags!r}. Use letters from 'imsxa' "
                "(ignorecase, multiline, dotall, verbose, ascii)."
            )
        bits |= _FLAGS[letter.lower()]
    return bits


def _compile(pattern: str, bits: int, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, bits)
    except re.error as exc:
        raise ConfigError(
            f"{where} {pattern!r} is not a valid regular expression: {exc}. Fix the pattern "
            "(escape literal characters such as '(' or '?' with a backslash)."
        ) from None


@component("scorer", name="regex")
def regex_match(pattern: str | None = None, flags: str = "") -> ScoreFn:
    """Score 1 when a regular expression is found in the output (``re.search``).

    Without ``pattern``, each of the sample's targets is the pattern, and the sample
    matches when any is found. With ``pattern``, the sample matches when it is found; if
    the pattern has a group named ``answer`` (``(?P<answer>...)``), that group's text of
    the first match is compared with the targets instead (after stripping whitespace and
    casefolding). Empty target patterns are ignored.

    Args:
        pattern: the regular expression, or ``None`` to use the targets.
        flags: letters from ``imsxa`` (ignorecase, multiline, dotall, verbose, ascii).

    Returns:
        A scorer whose ``Score.answer`` is the matched text (or the ``answer`` group).

    Raises:
        ConfigError: the pattern (or, when scoring, a target used as a pattern) is not a
            valid regular expression, or a flag letter is unknown.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "Name a prime.", "7")
        >>> s = regex_match(r"ANSWER: (?P<answer>\\d+)", flags="i")
        >>> s(sample, TaskState(sample, output=ModelOutput("answer: 7"))).value
        1.0
        >>> s.spec.name
        'regex'
    """
    if pattern is not None and not isinstance(pattern, str):
        raise ConfigError(f"regex pattern must be a string; received {pattern!r}.")
    bits = _parse_flags(flags)
    compiled = None if pattern is None else _compile(pattern, bits, "The regex pattern")

    def from_targets(sample: Sample, text: str) -> Score:
        patterns = [t for t in sample.targets if t]
        if not patterns:
            return Score(0.0, explanation="The sample has no non-empty target pattern.")
        for target in patterns:
            where = f"Sample {sample.id!r}: the target pattern"
            found = _compile(target, bits, where).search(text)
            if found is not None:
                return Score(1.0, answer=found.group(0))
        return Score(0.0, explanation=f"No target pattern matched: {patterns!r}.")

    def score(sample: Sample, state: TaskState) -> Score:
        text = state.completion
        if compiled is None:
            return from_targets(sample, text)
        found = compiled.search(text)
        if found is None:
            return Score(0.0, explanation=f"The pattern {pattern!r} was not found.")
        if "answer" not in compiled.groupindex:
            return Score(1.0, answer=found.group(0))
        answer = (found.group("answer") or "").strip()
        if any(answer.casefold() == t.strip().casefold() for t in sample.targets):
            return Score(1.0, answer=answer)
        return Score(0.0, answer=answer, explanation=f"{answer!r} is not one of the targets.")

    return score


_NUMBER = re.compile(
    r"""
    (?<![\w.])                              # not inside a word or after a decimal point
    (?P<sign>[-+\u2212])?
    (?P<currency>\$\s?)?
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)? | \d+(?:\.\d+)? | \.\d+)
    (?: \s?/\s? (?P<den>\d+(?:\.\d+)?) (?![\d,]) | (?P<exp>[eE][-+]?\d+) )?
    (?P<percent>\s?%)?
    """,
    re.VERBOSE,
)


def parse_number(text: str) -> float | None:
    """The value of the last number in ``text``, or ``None`` when there is none.

    Accepts a sign (``-``, ``+`` or the Unicode minus), a ``$`` sign, commas as thousands
    separators (``1,234,567.5``), decimals (``.5``), exponents (``1e-3``), fractions
    (``3/4``) and a trailing ``%``, which is dropped (``45%`` reads as 45).

    Examples:
        >>> parse_number("It costs $1,250.50, or 3/4 of the budget")
        0.75
        >>> parse_number("no digits") is None
        True
    """
    for found in reversed(list(_NUMBER.finditer(text))):
        value = float(found.group("num").replace(",", "") + (found.group("exp") or ""))
        if found.group("den") is not None:
            den = float(found.group("den"))
            if den == 0:
                continue
            value /= den
        if found.group("sign") in ("-", "\u2212"):
            value = -value
        if math.isfinite(value):
            return value
    return None


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _as_tolerance(tolerance: Any) -> float:
    try:
        value = float(tolerance)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(tolerance, bool) or not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"numeric tolerance must be a finite number >= 0, such as 1e-6; "
            f"received {tolerance!r}."
        )
    return value


@component("scorer")
def numeric(tolerance: float = 1e-6, relative: bool = False) -> ScoreFn:
    """Score 1 when the last number in the output equals a target's number.

    Numbers are read as ``parse_number`` describes: commas as thousands separators, ``$``
    and ``%`` signs, fractions such as ``3/4``. Each target is parsed the same way, so a
    target "$1,000" equals an output "The total is 1000."

    Args:
        tolerance: the largest accepted difference; absolute by default.
        relative: compare ``|output - target| <= tolerance * |target|`` instead.

    Returns:
        A scorer whose ``Score.answer`` is the number extracted from the output; an
        output without a number scores 0 with an explanation.

    Raises:
        ConfigError: ``tolerance`` is negative or not a number, or ``relative`` is not a
            boolean.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "What is 12 * 100?", "1200")
        >>> r = numeric()(sample, TaskState(sample, output=ModelOutput("So: $1,200.")))
        >>> (r.value, r.answer)
        (1.0, '1200')
    """
    tol = _as_tolerance(tolerance)
    if not isinstance(relative, bool):
        raise ConfigError(f"numeric relative must be true or false; received {relative!r}.")

    def close(value: float, target: float) -> bool:
        bound = tol * abs(target) if relative else tol
        return abs(value - target) <= bound

    def score(sample: Sample, state: TaskState) -> Score:
        value = parse_number(state.completion)
        if value is None:
            return Score(0.0, explanation="No number found in the output.")
        answer = _format_number(value)
        targets = [t for t in (parse_number(t) for t in sample.targets) if t is not None]
        if not targets:
            return Score(
                0.0, answer=answer, explanation=f"No target has a number: {sample.targets!r}."
            )
        if any(close(value, t) for t in targets):
            return Score(1.0, answer=answer)
        expected = ", ".join(_format_number(t) for t in targets)
        return Score(0.0, answer=answer, explanation=f"Expected {expected}; got {answer}.")

    return score
