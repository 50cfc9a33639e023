"""Multiple choice: find which option a free-text answer chose, and score it."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample

LETTERS = string.ascii_uppercase

_CONNECTOR = r"(?:is|was|would\s+be|should\s+be|will\s+be|must\s+be|[:=\-\u2013])\s*:?"
# "answer is X", "Answer: X", "final answer: (X)", "answer choice is X", "correct option: X".
_MARKER = re.compile(
    r"\banswer(?:\s+(?:choice|option|letter))?\s*" + _CONNECTOR
    + r"\s*(?:(?:option|choice|letter)\b\s*:?\s*)?"
    r"|\b(?:correct|right|best|final)\s+(?:option|choice|letter)\s*" + _CONNECTOR + r"\s*",
    re.IGNORECASE,
)
# A letter, perhaps wrapped in (), [], ** or quotes (spaced too: "**Answer:** (C)"), not part
# of a longer word.
_LETTER_AT = re.compile(
    r"(?P<open>(?:[(\[*_\"'`]|[ \t])*)\s*(?P<letter>[A-Za-z])(?P<close>[)\]*_\"'`]*)"
    r"(?![A-Za-z0-9])"
)
_STANDALONE = re.compile(
    r"(?<![A-Za-z0-9])(?P<open>[(\[]?)(?P<letter>[A-Za-z])(?P<close>[)\]]?)"
    r"(?![A-Za-z0-9]|'[A-Za-z])"  # not "I'm" or "A's"
)
_WORD_AFTER = re.compile(r"\s+[a-z]")
_DECORATION = " \t\r\n.:;,!?)(][*_\"'`"


def _word_like(letter: str, text: str, end: int, wrapped: bool) -> bool:
    """Whether a bare 'a', 'A' or 'I' followed by a lowercase word is an article or pronoun."""
    return not wrapped and letter in "aAI" and _WORD_AFTER.match(text, end) is not None


def _norm_option(text: str) -> str:
    return " ".join(text.strip(_DECORATION).casefold().split())


def _option_at(text: str, pos: int, options: list[str]) -> int | None:
    """The longest option whose text starts at ``pos`` (casefolded), if any."""
    rest = text[pos:].lstrip(" \t(\"'*`").casefold()
    best: int | None = None
    for i, option in enumerate(options):
        if option and rest.startswith(option):
            tail = rest[len(option) : len(option) + 1]
            if (not tail or not tail.isalnum()) and (
                best is None or len(option) > len(options[best])
            ):
                best = i
    return best


def extract_choice(
    text: str, n_choices: int, choices: Sequence[str] | None = None
) -> int | None:
    """The index of the option a free-text answer chose, or ``None``.

    Tried in order:

    1. The whole answer is one letter, perhaps decorated: ``"B"``, ``"(b)"``, ``"**B**"``,
       ``"B."``.
    2. An explicit statement, the last one if there are several: ``"Answer: B"``, ``"The
       answer is (C)"``, ``"Final answer: **D**"``, ``"The correct option is B"``, or the
       same followed by an option's text (``"The answer is Paris"``).
    3. The whole answer is an option's text (ignoring case and surrounding punctuation).
    4. The last standalone valid letter: uppercase (``"B is right"``), or any case in
       brackets (``"(c)"``). A bare "A" or "I" followed by a lowercase word is read as an
       article or pronoun, not an option.

    Letters beyond the number of options are ignored everywhere.

    Args:
        text: the model's answer.
        n_choices: how many options there are (at most 26).
        choices: the option texts, to recognise answers given as text.

    Returns:
        The 0-based index of the chosen option, or ``None`` when no valid choice is found.

    Raises:
        ValueError: ``n_choices`` is not between 1 and 26.

    Examples:
        >>> extract_choice("Let me think. B is tempting, but the answer is (C).", 4)
        2
        >>> extract_choice("I think it's Paris", 3, ["London", "Paris", "Rome"]) is None
        True
        >>> extract_choice("paris.", 3, ["London", "Paris", "Rome"])
        1
    """
    if not 1 <= n_choices <= len(LETTERS):
        raise ValueError(f"n_choices must be between 1 and 26; got {n_choices}.")
    valid = LETTERS[:n_choices]
    options = [_norm_option(c) for c in (choices or ())][:n_choices]

    lone = text.strip(_DECORATION)
    if len(lone) == 1 and lone.upper() in valid:
        return valid.index(lone.upper())

    found: int | None = None
    for marker in _MARKER.finditer(text):
        pick = _explicit_at(text, marker.end(), valid, options)
        if pick is not None:
            found = pick
    if found is not None:
        return found

    if options and _norm_option(text) in options:
        return options.index(_norm_option(text))

    for m in reversed(list(_STANDALONE.finditer(text))):
        letter = m.group("letter")
        wrapped = bool(m.group("open") or m.group("close"))
        if letter.upper() not in valid or (letter.islower() and not wrapped):
            continue
        if _word_like(letter, text, m.end(), wrapped):
            continue
        return valid.index(letter.upper())
    return None


def extract_label(
    text: str, labels: Sequence[str], choices: Sequence[str] | None = None
) -> int | None:
    """The index of the option a free-text answer chose when the options carry other labels
    than ``A, B, ...`` (``1, 2, 3``, ``I, II, III``): the label after an explicit "answer"
    marker, else the whole answer as a label or an option's text, else the last standalone
    label.

    Examples:
        >>> extract_label("The answer is 3.", ["1", "2", "3", "4"])
        2
        >>> extract_label("II", ["I", "II", "III"])
        1
    """
    wanted = {label.lower(): i for i, label in enumerate(labels)}
    options = [_norm_option(c) for c in (choices or ())][: len(labels)]
    lone = text.strip(_DECORATION).lower()
    if lone in wanted:
        return wanted[lone]
    tokens = [(m.start(), m.group(0).lower()) for m in re.finditer(r"[A-Za-z0-9]+", text)]
    for marker in reversed(list(_MARKER.finditer(text))):
        after = [t for pos, t in tokens if pos >= marker.end()]
        if after and after[0] in wanted:
            return wanted[after[0]]
    if options and _norm_option(text) in options:
        return options.index(_norm_option(text))
    for _, token in reversed(tokens):
        if token in wanted and not (token in ("i", "a") and len(labels[0]) == 1
                                    and labels[0].islower()):
            return wanted[token]
    return None


def _explicit_at(text: str, pos: int, valid: str, options: list[str]) -> int | None:
    m = _LETTER_AT.match(text, pos)
    if m is not None:
        letter = m.group("letter")
        wrapped = bool(m.group("open").strip() or m.group("close"))
        if letter.upper() in valid and not (
            letter.islower() and _word_like(letter, text, m.end(), wrapped)
        ):
            return valid.index(letter.upper())
    return _option_at(text, pos, options) if options else None


def _target_index(target: str, choices: Sequence[str]) -> int | None:
    """A target as an option index: a letter, else an option's text, else a 0-based index."""
    t = target.strip()
    bare = t.strip("()[]. ")
    if len(bare) == 1 and bare.upper() in LETTERS[: len(choices)]:
        return LETTERS.index(bare.upper())
    norm = _norm_option(t)
    for i, choice in enumerate(choices):
        if _norm_option(choice) == norm:
            return i
    if t.isdigit() and int(t) < len(choices):
        return int(t)
    return None


@component("scorer")
def choice() -> Callable[[Sample, TaskState], Score]:
    """Score 1 when the chosen option is the correct one.

    The chosen option is ``state.choice`` when a solver set it (log-likelihood multiple
    choice does), else ``extract_choice`` applied to the output. Each target names the
    correct option as a letter (``"B"``), as the option's text, or as a 0-based index
    string (``"1"``), tried in that order.

    Returns:
        A scorer whose ``Score.answer`` is the chosen letter.

    Raises:
        ConfigError: when scoring a sample without ``choices``.
        DataError: when scoring a sample whose target names no option, or that has more
            than 26 choices.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "2+2?", "B", choices=("3", "4", "5"))
        >>> r = choice()(sample, TaskState(sample, output=ModelOutput("The answer is B.")))
        >>> (r.value, r.answer)
        (1.0, 'B')
    """

    def score(sample: Sample, state: TaskState) -> Score:
        choices = sample.choices or ()
        if not choices:
            raise ConfigError(
                f"Sample {sample.id!r} has no choices, so the choice scorer cannot score it. "
                "Give multiple-choice samples a 'choices' list, or use exact_match."
            )
        if len(choices) > len(LETTERS):
            raise DataError(
                f"Sample {sample.id!r} has {len(choices)} choices; at most 26 can be lettered."
            )
        correct = {i for t in sample.targets if (i := _target_index(t, choices)) is not None}
        if not correct:
            raise DataError(
                f"Sample {sample.id!r}: the target {sample.target!r} names none of the "
                f"{len(choices)} choices. Use a letter (A-{LETTERS[len(choices) - 1]}), an "
                "option's exact text, or a 0-based index."
            )
        picked = state.choice
        if picked is None:
            picked = extract_choice(state.completion, len(choices), choices)
        if picked is None:
            return Score(0.0, explanation="No valid choice found in the output.")
        if not 0 <= picked < len(choices):
            return Score(0.0, explanation=f"The chosen index {picked} is not a valid option.")
        letter = LETTERS[picked]
        if picked in correct:
            return Score(1.0, answer=letter)
        expected = ", ".join(LETTERS[i] for i in sorted(correct))
        return Score(0.0, answer=letter, explanation=f"Expected {expected}; chose {letter}.")

    return score


# The whole reply is the letter, perhaps as "(B)", "B.", "B)" or "B:", or one short statement:
# "Answer: B", "The answer is (B)." Anything else (reasoning, markdown, the option's text) is a
# format failure for the strict scorer.
_STRICT = re.compile(
    r"\s*(?:(?i:(?:the\s+)?(?:correct\s+)?answer(?:\s+is\s*:?|\s*:))\s*)?"
    r"\(?(?P<letter>[A-Z])\)?[.):]?\s*"
)


def extract_choice_strict(text: str, n_choices: int) -> int | None:
    """The option a reply chose, only when the reply is in the requested format.

    The reply must be the letter alone (``"B"``, ``"(B)"``, ``"B."``, ``"B)"``, ``"B:"``) or
    one statement of it (``"Answer: B"``, ``"The answer is (B)."``), uppercase, with nothing
    else. Reported beside ``extract_choice`` (flexible), it separates a format failure from a
    wrong answer.

    Args:
        text: the model's answer.
        n_choices: how many options there are (at most 26).

    Returns:
        The 0-based index of the chosen option, or ``None`` when the reply is not in the strict
        format or names a letter beyond the options.

    Raises:
        ValueError: ``n_choices`` is not between 1 and 26.

    Examples:
        >>> extract_choice_strict("The answer is (C).", 4)
        2
        >>> extract_choice_strict("**C**", 4) is None
        True
        >>> extract_choice_strict("I think C, because...", 4) is None
        True
    """
    if not 1 <= n_choices <= len(LETTERS):
        raise ValueError(f"n_choices must be between 1 and 26; got {n_choices}.")
    m = _STRICT.fullmatch(text)
    if m is None:
        return None
    index = LETTERS.index(m.group("letter"))
    return index if index < n_choices else None


def correct_indices(sample: Sample) -> set[int]:
    """The indices of the options the sample's targets name (see ``choice``).

    Raises:
        ConfigError: the sample has no choices.
        DataError: a target names no option, or there are more than 26 choices.
    """
    choices = sample.choices or ()
    if not choices:
        raise ConfigError(
            f"Sample {sample.id!r} has no choices, so it cannot be scored as multiple choice. "
            "Give multiple-choice samples a 'choices' list, or use exact_match."
        )
    if len(choices) > len(LETTERS):
        raise DataError(
            f"Sample {sample.id!r} has {len(choices)} choices; at most 26 can be lettered."
        )
    correct = {i for i in (_target_index(t, choices) for t in sample.targets) if i is not None}
    if not correct:
        raise DataError(
            f"Sample {sample.id!r}: the target {sample.target!r} names none of the "
            f"{len(choices)} choices. Use a letter (A-{LETTERS[len(choices) - 1]}), an "
            "option's exact text, or a 0-based index."
        )
    return correct


@component("scorer")
def strict_choice() -> Callable[[Sample, TaskState], Score]:
    """Score 1 when the reply names the correct option in the strict format.

    Unlike ``choice``, this ignores ``state.choice`` and reads the output with
    ``extract_choice_strict``: a correct answer buried in prose scores 0 here and 1 under
    ``choice``, so a format failure shows as the gap between the two.

    Returns:
        A scorer whose ``Score.answer`` is the letter found, if any.

    Raises:
        ConfigError / DataError: as ``correct_indices``.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "2+2?", "B", choices=("3", "4", "5"))
        >>> strict_choice()(sample, TaskState(sample, output=ModelOutput("Answer: B"))).value
        1.0
        >>> strict_choice()(sample, TaskState(sample, output=ModelOutput("**B**"))).value
        0.0
    """

    def score(sample: Sample, state: TaskState) -> Score:
        correct = correct_indices(sample)
        picked = extract_choice_strict(state.completion, len(sample.choices or ()))
        if picked is None:
            return Score(0.0, explanation="The reply is not a bare letter or 'Answer: X'.")
        letter = LETTERS[picked]
        if picked in correct:
            return Score(1.0, answer=letter)
        expected = ", ".join(LETTERS[i] for i in sorted(correct))
        return Score(0.0, answer=letter, explanation=f"Expected {expected}; chose {letter}.")

    return score
