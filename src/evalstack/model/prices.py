"""Prices in USD per million tokens, from a built-in table the user can override.

Override with a JSON or YAML file (``--prices FILE`` or ``EVALSTACK_PRICES``) mapping a model
name, or a prefix of one, to ``{"input": USD_per_1M, "output": USD_per_1M}``. Local and mock
models cost nothing. Unknown remote models cost 0 and are reported as unpriced.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from evalstack.core.errors import ConfigError

# USD per 1M tokens (input, output), list prices; override with --prices.
BUILTIN: dict[str, tuple[float, float]] = {
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4o": (2.50, 10.00),
    "openai/gpt-4.1-nano": (0.10, 0.40),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "openai/gpt-4.1": (2.00, 8.00),
    "openai/o3-mini": (1.10, 4.40),
    "anthropic/claude-3-5-haiku": (0.80, 4.00),
    "anthropic/claude-3-5-sonnet": (3.00, 15.00),
    "anthropic/claude-3-7-sonnet": (3.00, 15.00),
    "anthropic/claude-sonnet-4": (3.00, 15.00),
    "anthropic/claude-opus-4": (15.00, 75.00),
}
FREE_PREFIXES = ("local/", "llamacpp/", "transformers/", "mock/", "python/")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens; ``known`` is false for an unpriced model."""

    input_per_m: float
    output_per_m: float
    known: bool = True

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return ((input_tokens or 0) * self.input_per_m
                + (output_tokens or 0) * self.output_per_m) / 1_000_000


#: What local, mock and in-process models cost.
FREE = Price(0.0, 0.0)


def load_table(path: str | None) -> dict[str, tuple[float, float]]:
    """The built-in table updated with the user's file, if any."""
    table = dict(BUILTIN)
    path = path or os.environ.get("EVALSTACK_PRICES")
    if not path:
        return table
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) if p.suffix in (".yaml", ".yml") \
            else json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read price table {p}: {exc}.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"Price table {p}: expected a mapping of model -> {{input, output}}.")
    for model, entry in raw.items():
        if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
            raise ConfigError(
                f"Price table {p}, model {model!r}: expected {{\"input\": USD per 1M tokens, "
                f"\"output\": USD per 1M tokens}}; received {entry!r}."
            )
        table[str(model)] = (float(entry["input"]), float(entry["output"]))
    return table


def price_for(model: str, table: dict[str, tuple[float, float]]) -> Price:
    """The price of ``model`` (``provider/name``): exact match, else the longest prefix."""
    if model in table:
        return Price(*table[model])
    matches = [k for k in table if model.startswith(k)]
    if matches:
        return Price(*table[max(matches, key=len)])
    bare = model.split("/", 1)[-1]
    if bare in table:
        return Price(*table[bare])
    if model.startswith(FREE_PREFIXES):
        return Price(0.0, 0.0)
    return Price(0.0, 0.0, known=False)
