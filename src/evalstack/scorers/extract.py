r"""Answer extraction from free text, and the ``strict_match``/``flexible_extract`` scorers.

Generative benchmarks report two numbers, as lm-evaluation-harness does: ``strict_match``
reads the answer only where the prompt's format puts it (``#### 42``, ``Final Answer: The
final answer is 42``, ``So the answer is (B).``), ``flexible_extract`` finds it wherever a
model put it (the last number, the last ``\boxed{}``, "**42**", "The answer is B"). A large
gap between them is a format failure, not a reasoning failure.

Extractors (the ``extract`` argument) and comparators (``compare``) are chosen by name, so
every stored score names exactly how it was made:

================== =========================================================================
extractor          reads
================== =========================================================================
``gsm8k``          the first ``#### N`` (lm-eval's gsm8k ``strict-match`` regex)
``number``         the last number (lm-eval's gsm8k ``flexible-extract`` regex)
``final_number``   the number of the last answer statement ("The answer is 18.", a line
                   starting "Answer:" or "Final answer:", ``\boxed{18}``, ``#### 18``), else
                   the last number: what follows the statement ("(9 eggs at $2)") is ignored
``answer_is``      the last "answer is X" / "Answer: X" statement
``answer_is_first`` the first "the answer is X", to the end of its line (lm-eval's BBH regex)
``boxed``          the last ``\boxed{...}``
``math_final``     "Final Answer: The final answer is X", else the last ``\boxed{...}``
``math``           the last ``\boxed{}``, else "answer is X" (its one ``$...$`` span if it has
                   one, without a trailing clause, parenthesis or plain words after a number:
                   "$5$ (for 2 cases)", "5 apples"), else the last ``$...$``, else the last
                   number
``bbh``            per BIG-Bench Hard answer type: an option letter, a label (True/False,
                   Yes/No, valid/invalid), a number, a bracket sequence or a word list, read
                   from the "answer is" statement or else the last ``\boxed{}``
================== =========================================================================

Comparators: ``number`` (commas, ``$`` and trailing periods ignored; equal decimal values
match, so ``42.0`` equals ``42``), ``exact`` (surrounding whitespace ignored), ``text``
(case, whitespace and a trailing period ignored) and ``math`` (``math_equiv.math_equal``).
A sample matches when the extracted answer matches any of its targets.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample
from evalstack.scorers.choice import extract_choice

Extractor = Callable[[str, Sample], "str | None"]
Comparator = Callable[[str, str], bool]
ScoreFn = Callable[[Sample, TaskState], Score]

#: lm-evaluation-harness gsm8k ``strict-match``: the number after ``#### ``.
GSM8K_STRICT_PATTERN = r"#### (\-?[0-9\.\,]+)"
#: lm-evaluation-harness gsm8k ``flexible-extract``: number-like runs; the last one is taken.
GSM8K_FLEXIBLE_PATTERN = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"

_STRICT = re.compile(GSM8K_STRICT_PATTERN)
_FLEXIBLE = re.compile(GSM8K_FLEXIBLE_PATTERN)
_ANSWER_IS = re.compile(r"\banswer\b[*_]*\s*(?:is\b\s*:?|:|=)[*_]*", re.IGNORECASE)
_FINAL_ANSWER = re.compile(r"Final Answer:\s*The final answer is\s*(?P<rest>[^\n]*)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)|`")
_DOLLAR_MATH = re.compile(r"\$\$?([^$]+)\$\$?")
_PLAIN_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_INTEGER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s*(.*)$", re.MULTILINE)
# "the (final) answer is X" anywhere, or a line that starts "Answer:" / "**Final Answer:**".
_FINAL_STATEMENT = re.compile(
    r"\banswer\b[*_]*\s+is\b\s*:?[*_]*"
    r"|^[ \t#>*_-]*(?:final[ \t]+)?answer\b[*_]*[ \t]*[:=][*_]*",
    re.IGNORECASE | re.MULTILINE,
)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_TRAILING_CLAUSE = re.compile(
    r",\s+(?:since|because|as|which|where|so|for|given|meaning|i\.e\.|e\.g\.)\b.*$",
    re.DOTALL,
)
_TRAILING_WORDS = re.compile(
    r"^(?P<core>.*?[\d}])\s+(?:\([^()]*\)|[A-Za-z]{3,}(?:\s+[A-Za-z]+)*)$"
)
_TEXT_WRAP = re.compile(r"\\text\s*\{([^{}]*)\}")
_NUMBER_WORDS = {
    w: str(i) for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_LABEL_SETS = (("true", "false"), ("yes", "no"), ("valid", "invalid"))


def normalize_number_text(text: str) -> str:
    """``text`` without commas, ``$`` signs, surrounding whitespace and trailing periods.

    The normalisation lm-evaluation-harness's gsm8k applies before comparing (its
    ``regexes_to_ignore``), except that every trailing period goes, not just one.

    Examples:
        >>> normalize_number_text(" $1,234.50. ")
        '1234.50'
    """
    return text.replace(",", "").replace("$", "").strip().rstrip(".").strip()


def extract_number(text: str, mode: str = "flexible") -> str | None:
    """The answer number of a GSM8K-style response, normalised, or ``None``.

    Args:
        text: the model's output.
        mode: ``"strict"``: the first number after ``#### ``; ``"flexible"``: the last
            number-like run in the text (runs without a digit, such as ``...``, are skipped).

    Examples:
        >>> extract_number("The answer is **$1,234.50**."), extract_number("Answer: -3")
        ('1234.50', '-3')
        >>> extract_number("So 6 * 7 = 42.\\n#### 42", mode="strict")
        '42'
        >>> extract_number("The answer is 42.", mode="strict") is None
        True
    """
    if mode == "strict":
        found = _STRICT.search(text)
        return normalize_number_text(found.group(1)) if found else None
    if mode != "flexible":
        raise ConfigError(f"extract_number mode must be 'strict' or 'flexible'; got {mode!r}.")
    for match in reversed(list(_FLEXIBLE.finditer(text))):
        value = normalize_number_text(match.group(0))
        if any(ch.isdigit() for ch in value):
            return value
    return None


def _first_number(value: str) -> str | None:
    """The first number-like run with a digit in ``value`` (after its last ``=``), normalised."""
    value = value.rsplit("=", 1)[-1]
    for match in _FLEXIBLE.finditer(value):
        number = normalize_number_text(match.group(0))
        if any(ch.isdigit() for ch in number):
            return number
    return None


def extract_final_number(text: str) -> str | None:
    r"""The number a response gives as its answer, or ``None``.

    The answer statements are "the answer is N", a line starting "Answer:" or "Final answer:"
    (Markdown emphasis and headings allowed), ``oxed{N}`` and ``#### N``; the last of them
    that holds a number gives its first number (after the last ``=``: "The answer is 9 * 2 =
    18"), so what follows it ("(9 eggs at $2 each)", "Let me know...") is ignored. Without a
    statement, the last number, as ``extract_number`` (lm-eval's flexible-extract).

    Examples:
        >>> extract_final_number("The answer is 18. (She sells 9 eggs at $2 each.)")
        '18'
        >>> extract_final_number("**Answer:** $1,234\n\nLet me know if step 2 is unclear.")
        '1234'
        >>> extract_final_number("So she makes 9 * 2 = $18 a day.")
        '18'
    """
    found: list[tuple[int, str]] = []
    for marker in _FINAL_STATEMENT.finditer(text):
        lines = text[marker.end():].split("\n")
        value = _clean_statement(lines[0]) or _clean_statement(
            next((line for line in lines[1:] if line.strip()), ""))
        if not re.match(r"not\b", value, re.IGNORECASE):  # "the answer is not 16"
            found.append((marker.start(), value))
    for marker in re.finditer(r"\\(?:boxed|fbox)", text):
        boxed = extract_boxed(text[marker.start():])
        if boxed is not None:
            found.append((marker.start(), boxed))
    found += [(m.start(), m.group(1)) for m in _STRICT.finditer(text)]
    for _, value in sorted(found, reverse=True):
        number = _first_number(value)
        if number is not None:
            return number
    return extract_number(text, "flexible")


def balanced_end(text: str, start: int) -> int | None:
    """The index just past the ``{...}`` group opening at ``start``, or ``None``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def extract_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` (or ``\fbox{...}``), nested braces included.

    ``\boxed 5`` (no braces) gives ``5``. An unclosed box gives ``None``.

    Examples:
        >>> extract_boxed(r"so $x = \boxed{\frac{1}{2}}$ and \boxed{\dfrac{3}{4}}.")
        '\\dfrac{3}{4}'
        >>> extract_boxed(r"\boxed 7$") , extract_boxed("no box") is None
        ('7', True)
    """
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)", text)]
    for start in reversed(starts):
        pos = start
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            end = balanced_end(text, pos)
            return None if end is None else text[pos + 1 : end - 1].strip()
        if pos > start:
            bare = re.match(r"[^\s$]+", text[pos:])
            if bare:
                return bare.group(0).rstrip(".")
    return None


def _clean_statement(text: str) -> str:
    """An answer statement's value: emphasis, quotes and what follows the sentence removed."""
    text = _EMPHASIS.sub("", text).strip()
    end = _SENTENCE_END.search(text)
    if end is not None:
        text = text[: end.start()]
    return text.strip().strip("\"'").rstrip(".,;:!").strip()


def extract_answer_is(text: str) -> str | None:
    """The value of the last "answer is X" / "Answer: X" statement, or ``None``.

    Markdown emphasis, quotes and a trailing period are removed, and the value stops at the
    end of its sentence; a statement whose value is on the next line ("**Answer:**\\n42")
    takes that line.

    Examples:
        >>> extract_answer_is("So the answer is **42**.")
        '42'
        >>> extract_answer_is("Final Answer: The final answer is $5$. I hope it is correct.")
        '$5$'
        >>> extract_answer_is("**Answer:** B) Paris")
        'B) Paris'
    """
    for marker in reversed(list(_ANSWER_IS.finditer(text))):
        lines = text[marker.end():].split("\n")
        value = _clean_statement(lines[0])
        if not value:  # the value is on the next non-empty line
            value = _clean_statement(next((line for line in lines[1:] if line.strip()), ""))
        if value:
            return value
    return None


def _answer_is_first(text: str, sample: Sample) -> str | None:
    """lm-eval's BBH ``(?<=the answer is )(.*)(?=.)``: the first statement, to its line's end."""
    found = re.search(r"the answer is (.*)", text)
    if found is None:
        return None
    return found.group(1).strip().removesuffix(".").strip()


def _math_final(text: str, sample: Sample) -> str | None:
    """"Final Answer: The final answer is X" (the Minerva prompt's format), else the last box."""
    matches = list(_FINAL_ANSWER.finditer(text))
    if matches:
        rest = matches[-1].group("rest")
        rest = rest.split("I hope it is correct")[0].strip().rstrip(".").strip()
        if rest:
            return rest
    return extract_boxed(text)


def _math_statement(value: str) -> str:
    r"""An "answer is" value as a maths answer: its one ``$...$`` span if it has exactly one,
    else without a trailing clause (", since ..."), parenthesis or words after a number.

    Examples:
        >>> _math_statement("$\\frac{3}{4}$, since 3 of the 4 outcomes work")
        '\\frac{3}{4}'
        >>> _math_statement("5 apples"), _math_statement("(2, -3)")
        ('5', '(2, -3)')
    """
    spans = list(_MATH_SPAN.finditer(value))
    if len(spans) == 1:
        return next(g for g in spans[0].groups() if g is not None).strip()
    if spans:
        return value
    value = _TRAILING_CLAUSE.sub("", value).strip()
    short = _TRAILING_WORDS.match(value)
    return short.group("core").strip() if short else value


def _math_flexible(text: str, sample: Sample) -> str | None:
    boxed = extract_boxed(text)
    if boxed:
        return boxed
    statement = extract_answer_is(text)
    if statement:
        return _math_statement(statement)
    dollars = _DOLLAR_MATH.findall(text)
    if dollars:
        return str(dollars[-1]).strip()
    numbers = _PLAIN_NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _bbh_question(sample: Sample) -> str:
    question = sample.metadata.get("question")
    return question if isinstance(question, str) else sample.input_text()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _last_option_text(text: str, options: list[str]) -> int | None:
    """The option whose text is mentioned last in ``text`` (ignoring case), if any."""
    best, best_at = None, -1
    for i, option in enumerate(options):
        option = option.strip()
        if not option:
            continue
        for found in re.finditer(rf"(?<!\w){re.escape(option)}(?!\w)", text, re.IGNORECASE):
            if found.start() > best_at:
                best, best_at = i, found.start()
    return best


def _bbh_flexible(text: str, sample: Sample) -> str | None:
    """The answer for a BIG-Bench Hard item, by the kind of answer its target is.

    The question (without the few-shot examples) is read from ``metadata["question"]``.
    """
    target = sample.targets[0].strip()
    statement = extract_answer_is(text)
    if statement is None or "\\boxed" in statement or "\\fbox" in statement:
        boxed = extract_boxed(text)
        if boxed is not None:
            statement = _TEXT_WRAP.sub(r"\1", boxed).strip()
    region = statement if statement is not None else text
    options = _OPTION_LINE.findall(_bbh_question(sample))
    lettered = re.fullmatch(r"\([A-Z]\)", target) is not None
    if options and not lettered and statement is not None:
        return statement  # a few items' targets are text that no option matches exactly
    if options:
        texts = [option for _, option in options]
        picked = extract_choice(region, len(options), texts)
        if picked is None and statement is not None:
            picked = extract_choice(text, len(options), texts)
        if picked is None:
            picked = _last_option_text(region, texts)
        if picked is None:
            return None
        if lettered:
            return f"({options[picked][0]})"
        return str(texts[picked]).strip()
    lowered = target.casefold()
    for labels in _LABEL_SETS:
        if lowered in labels:
            words = re.findall(rf"\b({'|'.join(labels)})\b", region, re.IGNORECASE)
            return str(words[-1]).casefold() if words else None
    if re.fullmatch(r"-?\d+", target):
        numbers = _INTEGER.findall(region)
        if numbers:
            return str(numbers[-1]).replace(",", "")
        words = re.findall(rf"\b({'|'.join(_NUMBER_WORDS)})\b", region, re.IGNORECASE)
        return _NUMBER_WORDS[words[-1].casefold()] if words else None
    line = statement if statement is not None else _last_line(text)
    if target and set(target) <= set(")]}> "):
        closers = [ch for ch in line if ch in ")]}>"]
        return " ".join(closers) or None
    words = re.findall(r"[A-Za-z0-9&'\-]+", line)
    return " ".join(w.casefold() for w in words) or None


def _regex_extractor(pattern: str, last: bool) -> Extractor:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"The pattern {pattern!r} is not a valid regular expression: {exc}. Escape literal "
            "characters such as '(' or '$' with a backslash."
        ) from None

    def extract(text: str, sample: Sample) -> str | None:
        matches = list(compiled.finditer(text))
        for match in reversed(matches) if last else matches:
            groups = [g for g in match.groups() if g]
            value = (groups[0] if groups else match.group(0)).strip()
            if value:
                return value
        return None

    return extract


EXTRACTORS: dict[str, Extractor] = {
    "gsm8k": lambda text, sample: extract_number(text, "strict"),
    "number": lambda text, sample: extract_number(text, "flexible"),
    "final_number": lambda text, sample: extract_final_number(text),
    "answer_is": lambda text, sample: extract_answer_is(text),
    "answer_is_first": _answer_is_first,
    "boxed": lambda text, sample: extract_boxed(text),
    "math_final": _math_final,
    "math": _math_flexible,
    "bbh": _bbh_flexible,
}


def numbers_equal(answer: str, target: str) -> bool:
    """Equal after ``normalize_number_text``: as decimal values, else as casefolded text.

    Examples:
        >>> numbers_equal("$1,234.50", "1234.5"), numbers_equal("42.", "43")
        (True, False)
    """
    a, b = normalize_number_text(answer), normalize_number_text(target)
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        return a.casefold() == b.casefold()


def _text_equal(answer: str, target: str) -> bool:
    def norm(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(".").strip()

    return norm(answer) == norm(target)


def _math_compare(answer: str, target: str) -> bool:
    from evalstack.scorers.math_equiv import math_equal

    return math_equal(answer, target)


COMPARATORS: dict[str, Comparator] = {
    "number": numbers_equal,
    "exact": lambda answer, target: answer.strip() == target.strip(),
    "text": _text_equal,
    "math": _math_compare,
}


def _pick(kind: str, name: str, table: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    if not isinstance(name, str) or name not in table:
        close = difflib.get_close_matches(str(name), list(table), n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"Unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(table)}."
        )
    return table[name]


def _scorer(extract: str, compare: str, pattern: str | None, last: bool) -> ScoreFn:
    if pattern is not None:
        if not isinstance(pattern, str):
            raise ConfigError(f"pattern must be a regular expression string; got {pattern!r}.")
        extractor = _regex_extractor(pattern, last)
        how = f"the pattern {pattern!r}"
    else:
        extractor = _pick("extractor", extract, EXTRACTORS)
        how = f"the {extract!r} extractor"
    comparator = _pick("comparator", compare, COMPARATORS)

    def score(sample: Sample, state: TaskState) -> Score:
        answer = extractor(state.completion, sample)
        if answer is None:
            return Score(0.0, explanation=f"No answer found by {how}.")
        if any(comparator(answer, target) for target in sample.targets):
            return Score(1.0, answer=answer)
        expected = " or ".join(repr(t) for t in sample.targets)
        return Score(0.0, answer=answer, explanation=f"Expected {expected}; got {answer!r}.")

    return score


@component("scorer")
def strict_match(extract: str = "gsm8k", compare: str = "number",
                 pattern: str | None = None) -> ScoreFn:
    """Score 1 when the answer, read only where the prompt's format puts it, matches.

    Args:
        extract: an extractor name (see the module docstring); the default reads GSM8K's
            ``#### N``.
        compare: a comparator name: ``number``, ``exact``, ``text`` or ``math``.
        pattern: a regular expression to use instead of ``extract``; the first match is
            taken, and its first non-empty group (or the whole match).

    Raises:
        ConfigError: an unknown extractor or comparator name, or an invalid pattern.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "2+2?", "4")
        >>> strict_match()(sample, TaskState(sample, output=ModelOutput("#### 4"))).value
        1.0
        >>> strict_match()(sample, TaskState(sample, output=ModelOutput("It is 4."))).value
        0.0
    """
    return _scorer(extract, compare, pattern, last=False)


@component("scorer")
def flexible_extract(extract: str = "number", compare: str = "number",
                     pattern: str | None = None) -> ScoreFn:
    """Score 1 when the answer, found wherever the model put it, matches.

    Args:
        extract: an extractor name (see the module docstring); the default takes the last
            number, as lm-evaluation-harness's gsm8k ``flexible-extract`` does.
        compare: a comparator name: ``number``, ``exact``, ``text`` or ``math``.
        pattern: a regular expression to use instead of ``extract``; the last match is
            taken, and its first non-empty group (or the whole match).

    Raises:
        ConfigError: an unknown extractor or comparator name, or an invalid pattern.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "2+2?", "4")
        >>> r = flexible_extract()(sample, TaskState(sample, output=ModelOutput("It is **4**.")))
        >>> (r.value, r.answer)
        (1.0, '4')
    """
    return _scorer(extract, compare, pattern, last=True)
