"""Range checks for flags and config values, with one message shape everywhere.

Each check takes the name the user knows the value by (``--temperature`` on the command
line, ``temperature`` in a config) and the value as given (a number, or the text typed), and
returns it converted, or raises ``ConfigError`` saying what was expected, what was received
and how to fix it. NaN and infinities are never in range. A value given in percentage points
where a proportion is expected (``--max-drop 2`` for 2%) gets a did-you-mean hint.

Pydantic models use them through :func:`field_check`, so a bad field is a ``ValidationError``
that carries the same message.

Examples:
    >>> proportion("--max-drop", "0.02")
    0.02
    >>> proportion("--max-drop", 2)
    Traceback (most recent call last):
    ...
    evalstack.core.errors.ConfigError: expected --max-drop to be a proportion in [0, 1]; \
received 2, which looks like percentage points — did you mean 0.02?
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from evalstack.core.errors import ConfigError

T = TypeVar("T")


def show(value: object) -> str:
    """A received value as the user would recognise it.

    Examples:
        >>> show(2.0), show(0.1), show(float("nan")), show("abc"), show(True)
        ('2', '0.1', 'nan', "'abc'", 'True')
    """
    if isinstance(value, float):
        return f"{value:.15g}"
    if isinstance(value, int):
        return str(value)
    return repr(value)


def _number(name: str, value: object, what: str) -> float:
    """``value`` (a number or its text) as a float, else a ``ConfigError`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        kind = type(value).__name__
        raise ConfigError(f"expected {name} to be {what}; received {show(value)} ({kind}).")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"expected {name} to be {what}; received {show(value)}.") from None


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """The range in interval notation: ``[0, 2]``, ``(0, 1]``, ``>= 1``, ``> 0``."""
    if low is not None and high is not None:
        return f"{'(' if low_open else '['}{show(low)}, {show(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {show(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {show(high)}"
    return ""


def _inside(x: float, low: float | None, high: float | None, low_open: bool,
            high_open: bool) -> bool:
    if not math.isfinite(x):
        return False
    if low is not None and (x <= low if low_open else x < low):
        return False
    return high is None or (x < high if high_open else x <= high)


def finite_float(name: str, value: object, *, example: str | None = None) -> float:
    """``value`` as a finite float (not NaN, not an infinity).

    Examples:
        >>> finite_float("--timeout", "2.5")
        2.5
        >>> finite_float("--timeout", "inf")
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --timeout to be a finite number; \
received inf. Pass a number such as 1.
    """
    return in_range(name, value, example=example)


def in_range(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "a finite number",
    example: str | None = None,
) -> float:
    """``value`` as a finite float between ``low`` and ``high`` (each end closed unless open).

    When the range lies within [0, 1] and ``value`` is in (1, 100] with ``value / 100`` in
    range, the message says it looks like percentage points and suggests ``value / 100``.

    Args:
        name: the flag or field, as the user knows it.
        value: the value as given: a number, or the text typed.
        low, high: the ends of the range (``None``: unbounded).
        low_open, high_open: exclude that end.
        what: what the value is (``a proportion``), for the message.
        example: a good value for the fix; default one inside the range.

    Examples:
        >>> in_range("--temperature", "0.7", 0, 2)
        0.7
        >>> in_range("--temperature", "-3", 0, 2)
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --temperature to be a finite number in \
[0, 2]; received -3. Pass a number such as 0.
        >>> in_range("--alpha", "5", 0, 0.5, low_open=True, high_open=True, what="a level")
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --alpha to be a level in (0, 0.5); \
received 5, which looks like percentage points — did you mean 0.05?
    """
    bounds = _bounds(low, high, low_open, high_open)
    expected = f"{what} {'in ' if low is not None and high is not None else ''}{bounds}".strip()
    x = _number(name, value, expected)
    if _inside(x, low, high, low_open, high_open):
        return x
    message = f"expected {name} to be {expected}; received {show(x)}"
    unit = high is not None and high <= 1 and (low is None or low >= 0)
    scaled = round(x / 100, 12)
    if unit and 1 < x <= 100 and _inside(scaled, low, high, low_open, high_open):
        raise ConfigError(
            f"{message}, which looks like percentage points — did you mean {show(scaled)}?"
        )
    raise ConfigError(
        f"{message}. Pass a number such as {example or _example(low, high, low_open, high_open)}."
    )


def _example(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """A value inside the range, for the fix."""
    if low is not None and not low_open:
        return show(low)
    if high is not None and not high_open:
        return show(high)
    if low is not None and high is not None:
        return show((low + high) / 2)
    if low is not None:
        return show(low + 1)
    return show(high - 1 if high is not None else 1)


def proportion(
    name: str,
    value: object,
    *,
    low_open: bool = False,
    high_open: bool = False,
    example: str | None = None,
) -> float:
    """``value`` as a proportion in [0, 1] (an end excluded when open), with the percent hint.

    Examples:
        >>> proportion("--error-budget", 0.1)
        0.1
        >>> proportion("--error-budget", "10")
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --error-budget to be a proportion in \
[0, 1]; received 10, which looks like percentage points — did you mean 0.1?
        >>> proportion("--power", 0, low_open=True, high_open=True)
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --power to be a proportion in (0, 1); \
received 0. Pass a number such as 0.5.
    """
    return in_range(name, value, 0.0, 1.0, low_open=low_open, high_open=high_open,
                    what="a proportion", example=example)


def int_at_least(name: str, value: object, minimum: int, *, what: str | None = None) -> int:
    """``value`` (an integer, or its text) as an ``int`` of at least ``minimum``.

    Examples:
        >>> int_at_least("--max-retries", "0", 0)
        0
        >>> int_at_least("--epochs", 0, 1)
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --epochs to be an integer >= 1; received 0. \
Pass an integer such as 1.
    """
    expected = what or f"an integer >= {minimum}"
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None:
        kind = "" if isinstance(value, int | float | str) else f" ({type(value).__name__})"
        raise ConfigError(
            f"expected {name} to be {expected}; received {show(value)}{kind}. Pass an integer "
            f"such as {minimum}."
        )
    if number < minimum:
        raise ConfigError(
            f"expected {name} to be {expected}; received {number}. Pass an integer such as "
            f"{minimum}."
        )
    return number


def positive_int(name: str, value: object) -> int:
    """``value`` as an ``int`` of at least 1.

    Examples:
        >>> positive_int("--max-tokens", "-1")
        Traceback (most recent call last):
        ...
        evalstack.core.errors.ConfigError: expected --max-tokens to be a positive integer \
(>= 1); received -1. Pass an integer such as 1.
    """
    return int_at_least(name, value, 1, what="a positive integer (>= 1)")


def field_check(check: Callable[..., T], name: str, value: object, **options: Any) -> T:
    """Run ``check`` in a pydantic validator: its ``ConfigError`` becomes a field error.

    Pydantic then reports it with the field's location, in a ``ValidationError`` like any
    other, with the check's message as the error's message.

    Examples:
        >>> from pydantic import BaseModel, ValidationError, field_validator
        >>> class M(BaseModel):
        ...     share: float
        ...     @field_validator("share", mode="before")
        ...     @classmethod
        ...     def _share(cls, v: object) -> float:
        ...         return field_check(proportion, "share", v)
        >>> try:
        ...     M(share=3)
        ... except ValidationError as e:
        ...     print(e.errors()[0]["msg"])
        expected share to be a proportion in [0, 1]; received 3, which looks like percentage \
points — did you mean 0.03?
    """
    from pydantic_core import PydanticCustomError

    try:
        return check(name, value, **options)
    except ConfigError as exc:
        raise PydanticCustomError("out_of_range", "{problem}", {"problem": str(exc)}) from None
