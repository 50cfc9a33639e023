"""MATH answer normalisation and equivalence: LaTeX, fractions, units, and (optionally) sympy.

``normalize_math_answer`` follows the two well-known normalisations of final answers to
competition-mathematics problems, written afresh here and made safer where they mangle text:

- Hendrycks et al. (2021), the MATH paper's ``is_equiv``/``strip_string``: line breaks and
  ``\\!`` removed, ``\\tfrac``/``\\dfrac`` to ``\\frac``, ``\\left``/``\\right`` dropped,
  degrees, dollar and percent signs dropped, units written as ``\\text{ ...}`` dropped, a
  leading ``.5`` read as ``0.5``, a short left-hand side (``x = 5``) dropped, ``\\sqrt3`` and
  ``\\frac12`` braced, spaces removed, ``a/b`` of integers written ``\\frac{a}{b}``.
- Lewkowycz et al. (2022), Minerva's ``normalize_final_answer`` (appendix D): ``\\text{...}``,
  ``\\textbf{...}``, ``\\boxed{...}`` unwrapped, ``$...$`` stripped, unit words removed
  (``dollars``, ``inches``, ``degrees``, ...), ``\\text{and}`` read as a comma, ``100,000`` read
  as ``100000``. Unit words are removed only as whole words after a number, so ``\\left(``
  and ``\\infty`` survive (Minerva's plain substring replacement turns ``\\left`` into
  ``\\le``).

``math_equal`` then compares two answers: equal normal forms; equal exact rational values
(``0.5``, ``1/2``, ``\\frac{1}{2}``, ``\\dfrac12``); element by element for tuples, intervals and
comma-separated lists (lists without brackets in any order); and, when sympy is installed,
symbolic equality (``sympy.simplify(a - b) == 0``) under a time limit. Sympy is optional: only
a whitelisted subset of LaTeX (numbers, single-letter variables, ``\\frac``, ``\\sqrt``, ``\\pi``,
``^``, ``\\cdot``) is ever handed to it, so model output is never evaluated as code.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeVar

from evalstack.scorers.extract import balanced_end, extract_boxed

T = TypeVar("T")

#: Seconds allowed for one symbolic comparison.
DEFAULT_TIMEOUT = 2.0

# Unit words dropped after a number (Minerva's list plus singulars and common units).
_UNIT_WORDS = (
    "square units", "sq units", "square feet", "square inches", "square meters", "square cm",
    "units", "unit", "ways", "integers", "dollars", "dollar", "cents", "cent", "mph", "inches",
    "inch", "feet", "foot", "ft", "hours", "hour", "minutes", "minute", "seconds", "second",
    "days", "day", "weeks", "years", "km", "cm", "mm", "meters", "meter", "miles", "mile",
    "points", "digits", "degrees", "degree", "pounds", "gm", "meals", "edges", "students",
    "multiples", "percent", "people", "marbles",
)
_UNITS_RE = "|".join(re.escape(w) for w in sorted(_UNIT_WORDS, key=len, reverse=True))
_UNIT_AFTER_NUMBER = re.compile(rf"(?<=[\d}}])\s*(?:{_UNITS_RE})\b(?:\^\{{?[23]\}}?)?",
                                re.IGNORECASE)
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|mbox|mathrm|mathbf|mathit|boldsymbol|operatorname)"
    r"\s*\{([^{}]*)\}(\^\{?[23]\}?)?"
)
_TEXT_AND = re.compile(r"\s*\\(?:text|mbox|mathrm)\{\s*and\s*\}\s*")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![A-Za-z])")
_SHORT_LHS = re.compile(r"[A-Za-z](?:_\{?\w+\}?)?(?:\([A-Za-z]\))?|[A-Za-z]{1,2}")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SLASH_FRACTION = re.compile(r"(-?)(\d+)/(\d+)")
_BRACED_FRACTION = re.compile(r"(-?)\\frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}")
_LETTER_OPTION = re.compile(r"\(([A-Z])\)")


def _unwrap_text(match: re.Match[str]) -> str:
    content = match.group(1).strip()
    if re.fullmatch(rf"(?:{_UNITS_RE})", content, re.IGNORECASE) and match.start() > 0:
        return ""
    return content


def _argument(text: str, pos: int) -> tuple[str, int] | None:
    """One LaTeX argument at ``pos``: a braced group (kept with braces) or a single character."""
    if pos >= len(text):
        return None
    if text[pos] == "{":
        end = balanced_end(text, pos)
        return (text[pos:end], end) if end is not None else None
    if text[pos] == "\\":
        return None
    return "{" + text[pos] + "}", pos + 1


def _brace_shorthand(text: str, command: str, n_args: int) -> str:
    r"""``\frac12`` -> ``\frac{1}{2}``, ``\sqrt3`` -> ``\sqrt{3}``."""
    out, pos = [], 0
    while (found := text.find(command, pos)) >= 0:
        end = found + len(command)
        if text.startswith("[", end) and "]" in text[end:]:  # \sqrt[3]{x}: an optional argument
            end = text.index("]", end) + 1
        out.append(text[pos:end])
        pos = end
        for _ in range(n_args):
            arg = _argument(text, pos)
            if arg is None:
                break
            out.append(arg[0])
            pos = arg[1]
    out.append(text[pos:])
    return "".join(out)


def _strip_outer_braces(text: str) -> str:
    while text.startswith("{") and balanced_end(text, 0) == len(text):
        text = text[1:-1]
    return text


def _canonical_number(text: str) -> str:
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if re.fullmatch(r"[-+]?\d+\.\d*|[-+]?\.\d+|[-+]?\d+", text):
        sign = "-" if text.startswith("-") else ""
        body = text.lstrip("+-")
        if "." in body:
            body = body.rstrip("0").rstrip(".")
        body = body.lstrip("0") or "0"
        if body.startswith("."):
            body = "0" + body
        return body if body == "0" else sign + body
    return text


def normalize_math_answer(answer: str) -> str:
    r"""A final answer in a canonical form, so that equal answers compare equal as strings.

    Examples:
        >>> normalize_math_answer(r"\boxed{\dfrac{3}{4}}")
        '\\frac{3}{4}'
        >>> normalize_math_answer(r"$x = 5$."), normalize_math_answer(r"10\%")
        ('5', '10')
        >>> normalize_math_answer(r"\text{(A)}"), normalize_math_answer(r"12 \text{ inches}")
        ('A', '12')
        >>> normalize_math_answer(r"\left( 3, \frac{\pi}{2} \right)")
        '(3,\\frac{\\pi}{2})'
    """
    text = answer.strip()
    boxed = extract_boxed(text)
    if boxed is not None:
        text = boxed
    text = text.replace("\n", " ").replace("\\!", "").replace("{,}", "")
    for spacing in ("\\,", "\\;", "\\:", "\\ ", "~", "\\quad", "\\qquad", "\\displaystyle"):
        text = text.replace(spacing, " ")
    text = text.replace("\\$", "").replace("$", "")
    text = re.sub(r"^\\[(\[]|\\[)\]]$", "", text.strip())
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = _LEFT_RIGHT.sub("", text)
    for degree in ("^{\\circ}", "^\\circ", "\\circ", "°", "\\degree"):
        text = text.replace(degree, "")
    text = text.replace("\\%", "").replace("%", "")
    for long, short in (("\\leq", "\\le"), ("\\geq", "\\ge"), ("\\neq", "\\ne")):
        text = re.sub(re.escape(long) + r"(?![A-Za-z])", short.replace("\\", "\\\\"), text)
    text = _TEXT_AND.sub(",", text)
    previous = None
    while previous != text:
        previous = text
        text = _TEXT_CMD.sub(_unwrap_text, text)
    text = _UNIT_AFTER_NUMBER.sub("", text)
    if text.count("=") == 1:
        lhs, rhs = text.split("=")
        if _SHORT_LHS.fullmatch(lhs.strip().replace(" ", "")):
            text = rhs
    text = re.sub(r"\s+", "", text)
    text = text.rstrip(".")
    text = _brace_shorthand(text, "\\frac", 2)
    text = _brace_shorthand(text, "\\sqrt", 1)
    text = text.replace("{.", "{0.").replace("(.", "(0.").replace(",.", ",0.")
    text = re.sub(r"^(-?)\.(\d)", r"\g<1>0.\2", text)
    text = _strip_outer_braces(text)
    text = _canonical_number(text)
    slash = _SLASH_FRACTION.fullmatch(text)
    if slash:
        text = f"{slash.group(1)}\\frac{{{slash.group(2)}}}{{{slash.group(3)}}}"
    option = _LETTER_OPTION.fullmatch(text)
    if option:
        text = option.group(1)
    return text


def _rational(text: str) -> Fraction | None:
    """The exact value of a normalised number or numeric fraction, else ``None``."""
    try:
        if _NUMBER.fullmatch(text):
            return Fraction(text)
        frac = _BRACED_FRACTION.fullmatch(text)
        if frac:
            value = Fraction(frac.group(2)) / Fraction(frac.group(3))
            return -value if frac.group(1) else value
    except (ValueError, ZeroDivisionError):
        return None
    return None


_PAIRS = {"(": ")", "[": "]", "\\{": "\\}"}


def _elements(text: str) -> tuple[str, str, list[str]] | None:
    """``(open, close, items)`` of a tuple, interval or list with top-level commas."""
    opening = closing = ""
    inner = text
    for left, right in (("\\{", "\\}"), ("(", ")"), ("[", "]"), ("(", "]"), ("[", ")")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left + right):
            opening, closing, inner = left, right, text[len(left): -len(right)]
            break
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    if len(items) < 2:
        return None
    return opening, closing, items


class _Timeout(Exception):
    pass


def run_with_timeout(fn: Callable[[], T], seconds: float) -> T | None:
    """``fn()``, or ``None`` when it takes longer than ``seconds``.

    In the main thread a ``SIGALRM`` timer interrupts the work (unless another timer is already
    running); elsewhere the work runs in a daemon thread that is abandoned when it overruns.
    """
    usable_signal = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if usable_signal:
        def on_alarm(signum: int, frame: Any) -> None:
            raise _Timeout

        previous = signal.signal(signal.SIGALRM, on_alarm)
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, seconds)
                return fn()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Timeout:  # also when the alarm fires just as fn returns
            return None
        finally:
            signal.signal(signal.SIGALRM, previous)
    box: list[T] = []
    worker = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    return box[0] if box else None


_SAFE_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z]+)|(\*\*|[-+*/(),]))")
_SAFE_NAMES = {"sqrt", "pi", "oo"}
_MAX_POWERS = 2
_MAX_EXPONENT = 100


def _latex_to_sympy_text(text: str) -> str | None:
    """A sympy-parsable string for simple LaTeX, or ``None`` when the text is out of scope.

    Only numbers (at most 30 digits), single-letter variables, ``sqrt``, ``pi``, ``oo``,
    arithmetic operators and parentheses pass, with at most two powers.
    """
    if len(text) > 200:
        return None
    out = text.replace("\\pi", " pi ").replace("\\infty", " oo ")
    out = out.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/")
    out = re.sub(r"\\sqrt\[([^\[\]{}]+)\]\{", r"root{\1}{", out)
    previous = None
    while previous != out:
        previous = out
        out = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", out)
        out = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", out)
        out = re.sub(r"root\{([^{}]*)\}\{([^{}]*)\}", r"((\2)**(1/(\1)))", out)
    out = out.replace("{", "(").replace("}", ")").replace("^", "**")
    if "\\" in out or out.count("**") > _MAX_POWERS:
        return None
    pos = 0
    while pos < len(out):
        token = _SAFE_TOKEN.match(out, pos)
        if token is None:
            return None
        number, name, _ = token.groups()
        if number is not None and len(number) > 30:
            return None
        if name is not None and len(name) > 1 and name not in _SAFE_NAMES:
            return None
        pos = token.end()
    return out.strip() or None


def _huge_power(expr: Any) -> bool:
    """Whether an unevaluated expression raises something to a large numeric exponent."""
    import sympy

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and not node.exp.free_symbols:
            try:
                if abs(complex(node.exp)) > _MAX_EXPONENT:
                    return True
            except (TypeError, ValueError, OverflowError):
                return True
    return False


def _sympy_equal(a: str, b: str, timeout: float) -> bool:
    try:
        import sympy
        from sympy.parsing.sympy_parser import (
            implicit_multiplication,
            parse_expr,
            standard_transformations,
        )
    except ImportError:
        return False
    first, second = _latex_to_sympy_text(a), _latex_to_sympy_text(b)
    if first is None or second is None:
        return False
    texts = (first, second)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    transformations = (*standard_transformations, implicit_multiplication)

    def parse(text: str, evaluate: bool) -> Any:
        # Single letters are plain symbols (not E, I, N, S, O or Q from sympy's namespace).
        symbols = {c: sympy.Symbol(c) for c in letters}
        return parse_expr(text, local_dict=symbols, transformations=transformations,
                          evaluate=evaluate)

    def compare() -> bool:
        try:
            if any(_huge_power(parse(t, evaluate=False)) for t in texts):
                return False
            left, right = (parse(t, evaluate=True) for t in texts)
            diff = left - right
            if sympy.simplify(diff) == 0:
                return True
            if diff.free_symbols or diff.has(sympy.Float):
                return False
            value = complex(sympy.N(diff, 30))
            scale = max(1.0, abs(complex(sympy.N(right, 30))))
            return abs(value) < 1e-12 * scale
        except Exception:  # sympy raises many kinds on odd input: unequal then
            return False

    return bool(run_with_timeout(compare, timeout))


def _equal_normalized(a: str, b: str, timeout: float, use_sympy: bool) -> bool:
    if a == b:
        return True
    if not a or not b:
        return False
    ra, rb = _rational(a), _rational(b)
    if ra is not None and rb is not None:
        return ra == rb
    ea, eb = _elements(a), _elements(b)
    if ea is not None and eb is not None:
        (oa, ca, ia), (ob, cb, ib) = ea, eb
        if (oa, ca) != (ob, cb) or len(ia) != len(ib):
            return False
        if not oa:  # a bare list of solutions: any order
            remaining = list(ib)
            for item in ia:
                hit = next((j for j, other in enumerate(remaining)
                            if _equal_normalized(item, other, timeout, use_sympy)), None)
                if hit is None:
                    return False
                remaining.pop(hit)
            return True
        return all(_equal_normalized(x, y, timeout, use_sympy) for x, y in zip(ia, ib,
                                                                              strict=True))
    if ea is not None or eb is not None:
        return False
    return use_sympy and _sympy_equal(a, b, timeout)


def math_equal(prediction: str | None, reference: str, *, timeout: float = DEFAULT_TIMEOUT,
               use_sympy: bool = True) -> bool:
    r"""Whether two final answers to a MATH problem are equivalent.

    Args:
        prediction: the model's extracted answer (``None`` when none was found).
        reference: the reference answer.
        timeout: seconds allowed for the symbolic comparison.
        use_sympy: try symbolic equality (when sympy is installed) after the cheap checks.

    Examples:
        >>> math_equal(r"\frac{1}{2}", "0.5"), math_equal("1/2", r"\dfrac12")
        (True, True)
        >>> math_equal(r"\boxed{\dfrac{3}{4}}", "0.75"), math_equal("x=5", "5")
        (True, True)
        >>> math_equal("0.33", r"\frac13")
        False
    """
    if prediction is None:
        return False
    a, b = normalize_math_answer(prediction), normalize_math_answer(reference)
    return _equal_normalized(a, b, timeout, use_sympy)
