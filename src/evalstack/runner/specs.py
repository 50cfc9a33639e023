"""Scorers and key=value options as the command line and eval files write them.

``name``, ``name:k=v,...`` or ``name:{json}`` names a registered scorer and its arguments;
``-M key=value`` options are parsed as YAML scalars.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from evalstack.core import registry
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Scorer


def parse_value(text: str) -> Any:
    """A command-line value as YAML scalar: ``3`` → 3, ``true`` → True, ``a,b`` stays a string."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_kv(items: Sequence[str], what: str) -> dict[str, Any]:
    """``["k=v", ...]`` into a dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} must look like key=value; received {item!r}.")
        out[key.strip()] = parse_value(value)
    return out


def resolve_scorer(spec: str) -> Scorer:
    """Build a scorer from ``name`` or ``name:k=v,...`` or ``name:{json}``."""
    name, _, rest = spec.partition(":")
    factory = registry.lookup("scorer", name.strip())
    kwargs: dict[str, Any] = {}
    rest = rest.strip()
    if rest.startswith("{"):
        try:
            kwargs = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Scorer {spec!r}: arguments are not valid JSON ({exc}).") from None
    elif rest:
        kwargs = parse_kv(rest.split(","), f"Scorer {name} arguments")
    try:
        built: Scorer = factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"Scorer {spec!r}: {exc}.") from None
    return built
