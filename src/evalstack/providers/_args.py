"""Checking model arguments (``-M key=value``) for in-process providers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

from evalstack.core.errors import ConfigError


@overload
def int_arg(args: Mapping[str, Any], name: str, default: int, minimum: int) -> int: ...
@overload
def int_arg(args: Mapping[str, Any], name: str, default: None, minimum: int) -> int | None: ...


def int_arg(args: Mapping[str, Any], name: str, default: int | None, minimum: int) -> int | None:
    """``args[name]`` as an integer of at least ``minimum`` (``default`` when absent).

    Raises:
        ConfigError: naming the argument, what was expected and what was received.
    """
    value = args.get(name, default)
    if value is None:
        return None
    try:
        number = int(value)
        if isinstance(value, bool) or float(value) != number:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(
            f"Model argument {name} must be an integer >= {minimum}; received {value!r}."
        ) from None
    if number < minimum:
        raise ConfigError(
            f"Model argument {name} must be an integer >= {minimum}; received {number}."
        )
    return number
