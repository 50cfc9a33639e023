"""``numbers``: a GSM8K-style item with new quantities and its answer recomputed.

Each number in the question that the solution's calculator annotations (``<<48/2=24>>``) use
is mapped to a new value of the same magnitude (seeded; integers stay integers, round numbers
stay round: ``80,000`` becomes ``k0,000``). Every annotation's expression is then evaluated
again, in order, with the question's numbers and the earlier annotations' results put in
their place; literal constants that are neither (``/ 2`` for "half") stay as they are. The
new answer is the last annotation's new result.

The arithmetic is exact (``fractions.Fraction``), parsed with ``ast``: only numbers,
``+ - * / **`` and parentheses; nothing is ever ``eval``-ed.

An item is left out (``variants`` returns ``None``) when its answer cannot be recomputed
with confidence:

- it has no solution with annotations, or an annotation does not parse or does not give the
  result it states (GSM8K has a few rounded ones);
- the last annotation's result is not the ``####`` answer;
- a literal equals both a question number and an earlier result (which one it is is
  ambiguous), or looks derived from a question number (``120`` from "2 hours": x60, x100,
  x1000, x12, x24, x7, x52, or divided by one of those);
- no seeded mapping (up to a few tries per variant) keeps every result positive and whole
  where the original's was.

Numbers next to ``%``, ``/`` or ``:`` (percentages, fractions, times) or glued to letters
(``3rd``) are never changed, nor are numbers the annotations do not use.
"""

from __future__ import annotations

import ast
import dataclasses
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from evalstack.core.errors import ConfigError
from evalstack.core.types import ChatMessage, Sample
from evalstack.perturb.base import Perturbation

_ANNOTATION = re.compile(r"<<([^<>]*)=([^<>=]*)>>")
# A number in text: 80,000 or 2.50 or 16, not inside a word or another number.
_NUMBER = re.compile(r"(?<![\w.,/:])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w%/:]|[.,]\d)")
_DERIVED = (Fraction(100), Fraction(1000), Fraction(60), Fraction(12), Fraction(24),
            Fraction(7), Fraction(52))
_TRIES_PER_VARIANT = 8


class Unusable(Exception):
    """The item's answer cannot be recomputed (the reason is the message)."""


def _value(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace("$", "").strip())


def _literals(expr: str) -> list[Fraction]:
    """The numeric literals of ``expr``, in order (checked for the allowed syntax)."""
    try:
        tree = ast.parse(expr.replace(",", "").replace("$", "").strip(), mode="eval")
    except SyntaxError as exc:
        raise Unusable(f"annotation {expr!r} does not parse") from exc
    out: list[Fraction] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            walk(node.body)
        elif isinstance(node, ast.BinOp) and isinstance(
                node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            walk(node.operand)
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            out.append(Fraction(ast.get_source_segment(
                expr.replace(",", "").replace("$", "").strip(), node) or repr(node.value)))
        else:
            raise Unusable(f"annotation {expr!r} holds {type(node).__name__}, not arithmetic")

    walk(tree)
    return out


def evaluate(expr: str, values: list[Fraction] | None = None) -> Fraction:
    """``expr`` evaluated exactly, its literals replaced in order by ``values`` if given.

    Examples:
        >>> evaluate("16-3-4")
        Fraction(9, 1)
        >>> evaluate("2/2 + 1", [Fraction(6), Fraction(2), Fraction(1)])
        Fraction(4, 1)
    """
    clean = expr.replace(",", "").replace("$", "").strip()
    literals = iter(values if values is not None else _literals(expr))
    tree = ast.parse(clean, mode="eval")

    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return next(literals)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                if b == 0:
                    raise Unusable(f"division by zero in {expr!r}")
                return a / b
            if isinstance(node.op, ast.Pow):
                if b.denominator != 1 or abs(b) > 12:
                    raise Unusable(f"power {b} in {expr!r} is not a small whole number")
                return Fraction(a) ** int(b)
        raise Unusable(f"annotation {expr!r} is not arithmetic")

    return ev(tree)


@dataclass(frozen=True)
class _Step:
    expr: str
    result: Fraction
    # per literal: ("q", question value) | ("r", index of an earlier step) | ("c", constant)
    sources: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Plan:
    """How an item's answer is computed from its question's numbers."""

    question: str
    solution: str
    spans: tuple[tuple[int, int, Fraction, int], ...]  # start, end, value, decimals
    changed: frozenset[Fraction]
    steps: tuple[_Step, ...]


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def plan(question: str, solution: str) -> Plan:
    """Read ``solution``'s annotations against ``question``'s numbers.

    Raises:
        Unusable: the answer cannot be recomputed (see the module docstring).
    """
    annotations = _ANNOTATION.findall(solution)
    if not annotations:
        raise Unusable("the solution has no <<...=...>> annotations")
    spans = tuple((m.start(), m.end(), _value(m.group(1)), _decimals(m.group(1)))
                  for m in _NUMBER.finditer(question))
    in_question = {v for _, _, v, _ in spans}
    literals_used: set[Fraction] = set()
    steps: list[_Step] = []
    results: list[Fraction] = []
    for expr, stated in annotations:
        try:
            result = _value(stated)
        except (ValueError, ZeroDivisionError) as exc:
            raise Unusable(f"annotation result {stated!r} is not a number") from exc
        literals = _literals(expr)
        if evaluate(expr) != result:
            raise Unusable(f"annotation <<{expr}={stated}>> does not give its stated result")
        sources: list[tuple[str, Any]] = []
        for lit in literals:
            earlier = [i for i, r in enumerate(results) if r == lit]
            if lit in in_question and earlier:
                raise Unusable(f"{_show(lit)} in <<{expr}={stated}>> is both a number of the "
                               "question and an earlier result (ambiguous)")
            if lit in in_question:
                sources.append(("q", lit))
                literals_used.add(lit)
            elif earlier:
                sources.append(("r", earlier[-1]))
            else:
                for q in in_question:
                    if q != 0 and any(lit in (q * f, q / f) for f in _DERIVED):
                        raise Unusable(f"{_show(lit)} in <<{expr}={stated}>> looks derived "
                                       f"from the question's {_show(q)}")
                sources.append(("c", lit))
        for lit in set(literals) & in_question:
            if literals.count(lit) > sum(1 for _, _, v, _ in spans if v == lit):
                raise Unusable(f"{_show(lit)} appears more often in <<{expr}={stated}>> than "
                               "in the question: a constant or the question's number "
                               "(ambiguous)")
        steps.append(_Step(expr, result, tuple(sources)))
        results.append(result)
    answer = solution.rsplit("####", 1)
    if len(answer) != 2:
        raise Unusable("the solution has no '#### answer' line")
    try:
        final = _value(answer[1])
    except (ValueError, ZeroDivisionError) as exc:
        raise Unusable(f"the final answer {answer[1].strip()!r} is not a number") from exc
    if results[-1] != final:
        raise Unusable(f"the last annotation's result {_show(results[-1])} is not the "
                       f"final answer {_show(final)}")
    if not literals_used:
        raise Unusable("no number of the question is used by the annotations")
    return Plan(question, solution, spans, frozenset(literals_used), tuple(steps))


def _show(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    text = f"{float(v):.6f}".rstrip("0").rstrip(".")
    return text


def _fmt(v: Fraction, decimals: int, commas: bool) -> str:
    if decimals:
        text = f"{float(v):,.{decimals}f}" if commas else f"{float(v):.{decimals}f}"
    else:
        text = f"{v.numerator:,}" if commas else str(v.numerator)
    return text


def new_value(v: Fraction, decimals: int, rng: random.Random) -> Fraction:
    """A seeded value of the same magnitude as ``v``: the same digits before trailing zeros
    (``80000`` -> ``k0000``), between half and twice the original, never ``v`` itself when
    another is possible."""
    scale = 10 ** decimals
    n = int(v * scale)
    zeros = 0
    while n and n % 10 == 0 and n // 10:
        n //= 10
        zeros += 1
    digits = len(str(n))
    low = max(10 ** (digits - 1), (n + 1) // 2, 1)
    high = max(low, min(10 ** digits - 1, 2 * n))
    choices = [k for k in range(low, high + 1) if k != n] or [n]
    k = rng.choice(choices)
    return Fraction(k * 10 ** zeros, scale)


def recompute(p: Plan, mapping: dict[Fraction, Fraction]) -> list[Fraction] | None:
    """Every step's new result under ``mapping`` (question value -> new value), or ``None``
    when a result stops being positive or whole where the original was."""
    results: list[Fraction] = []
    for step in p.steps:
        values = [mapping.get(v, v) if kind == "q" else results[v] if kind == "r" else v
                  for kind, v in step.sources]
        try:
            r = evaluate(step.expr, values)
        except (Unusable, OverflowError, ZeroDivisionError):
            return None
        if step.result > 0 and r <= 0:
            return None
        if step.result.denominator == 1 and r.denominator != 1:
            return None
        if abs(r) > 10 ** 12 or (r * 10 ** 6).denominator != 1:  # written exactly
            return None
        results.append(r)
    return results


def rewrite(p: Plan, mapping: dict[Fraction, Fraction],
            results: list[Fraction]) -> tuple[str, str]:
    """The new question and the new solution text."""
    parts, last = [], 0
    for start, end, v, decimals in p.spans:
        parts.append(p.question[last:start])
        text = p.question[start:end]
        parts.append(_fmt(mapping[v], decimals, "," in text) if v in mapping else text)
        last = end
    parts.append(p.question[last:])
    question = "".join(parts)

    steps = iter(zip(p.steps, results, strict=True))
    out, last = [], 0
    for m in _ANNOTATION.finditer(p.solution):
        step, r = next(steps)
        values = [mapping.get(v, v) if kind == "q" else results[v] if kind == "r" else v
                  for kind, v in step.sources]
        expr = _substitute(m.group(1), values)
        out.append(p.solution[last:m.start()])
        out.append(f"<<{expr}={_show(r)}>>")
        last = m.end()
        # the result written right after the annotation
        after = re.match(r"\$?(\d[\d,]*(?:\.\d+)?)", p.solution[last:])
        if after:
            out.append(p.solution[last:last + after.start(1)]
                       + _fmt(r, _decimals(after.group(1)), "," in after.group(1)))
            last += after.end()
    body = _retext("".join(out) + p.solution[last:], p, mapping, results)
    head, sep, _ = body.rpartition("####")
    return question, f"{head}{sep} {_show(results[-1])}"


def _retext(text: str, p: Plan, mapping: dict[Fraction, Fraction],
            results: list[Fraction]) -> str:
    """The solution's prose outside annotations with each number that is a changed question
    number or a result replaced by its new value, when that is unambiguous."""
    news: dict[Fraction, set[Fraction]] = {}
    for old, new in mapping.items():
        news.setdefault(old, set()).add(new)
    for step, r in zip(p.steps, results, strict=True):
        news.setdefault(step.result, set()).add(r)

    def one(m: re.Match[str]) -> str:
        found = news.get(_value(m.group(1)))
        if not found or len(found) != 1:
            return m.group(0)
        return _fmt(next(iter(found)), _decimals(m.group(1)), "," in m.group(1))

    pieces = re.split(r"(<<[^<>]*>>\$?[\d,.]*)", text)
    return "".join(piece if piece.startswith("<<") else _NUMBER.sub(one, piece)
                   for piece in pieces)


def _substitute(expr: str, values: list[Fraction]) -> str:
    it = iter(values)
    return re.sub(r"\d[\d,]*(?:\.\d+)?|\.\d+", lambda _: _show(next(it)), expr)


def _with_question(sample: Sample, old: str, new: str) -> Sample | None:
    if isinstance(sample.input, str):
        head, sep, tail = sample.input.rpartition(old)
        return dataclasses.replace(sample, input=head + new + tail) if sep else None
    messages = list(sample.input)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            head, sep, tail = messages[i].content.rpartition(old)
            if not sep:
                return None
            messages[i] = ChatMessage("user", head + new + tail)
            return dataclasses.replace(sample, input=tuple(messages))
    return None


class Numbers(Perturbation):
    """New quantities in a maths word problem, the answer recomputed from its solution."""

    name: ClassVar[str] = "numbers"
    summary: ClassVar[str] = ("a GSM8K item's quantities changed and its answer recomputed from "
                              "the solution's arithmetic (variants=1)")

    def __init__(self, variants: int = 1) -> None:
        if not isinstance(variants, int) or isinstance(variants, bool) or variants < 1:
            raise ConfigError(f"numbers: variants must be a whole number of at least 1; got "
                              f"{variants!r}.")
        super().__init__(variants=variants)

    def check(self, task: Any) -> None:
        first = next(iter(task.dataset), None)
        if first is not None and not isinstance(first.metadata.get("solution"), str):
            raise ConfigError(
                f"The perturbation 'numbers' recomputes an answer from the worked solution in "
                f"a sample's metadata['solution'] (GSM8K's, with <<a*b=c>> annotations), but "
                f"task {task.name!r}'s first sample, {first.id!r}, has none. Use it on gsm8k, "
                "or a text perturbation (typos, paraphrase, ...) here.")

    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        question = sample.metadata.get("question") or sample.input_text()
        solution = sample.metadata.get("solution")
        if not isinstance(question, str) or not isinstance(solution, str):
            return None
        try:
            p = plan(question, solution)
        except Unusable:
            return None
        decimals = {v: d for _, _, v, d in p.spans}
        out: list[Sample] = []
        seen: set[tuple[tuple[Fraction, Fraction], ...]] = set()
        for _ in range(self.params["variants"] * _TRIES_PER_VARIANT):
            if len(out) == self.params["variants"]:
                break
            mapping = {v: new_value(v, decimals[v], rng) for v in sorted(p.changed)}
            key = tuple(sorted(mapping.items()))
            if key in seen or all(k == v for k, v in mapping.items()):
                continue
            results = recompute(p, mapping)
            if results is None:
                continue
            seen.add(key)
            new_q, new_solution = rewrite(p, mapping, results)
            made = _with_question(sample, question, new_q)
            if made is None:
                return None
            meta = {**sample.metadata, "question": new_q, "solution": new_solution,
                    "original_target": sample.target,
                    "numbers": {_show(k): _show(v) for k, v in mapping.items()}}
            out.append(dataclasses.replace(made, target=_show(results[-1]), metadata=meta))
        return out or None
