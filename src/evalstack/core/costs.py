"""How a run's cost and tokens read, split into the model's own calls and its judges'.

``show``, the HTML report and the viewer print the same words, from a ``TaskResult`` or
the summary a run stores (its JSON form).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def cost_text(model_usd: float | None, judge_usd: float | None) -> str:
    """The run's cost: the total, and when judges were called, model + judge.

    Examples:
        >>> cost_text(0.0123, 0.0)
        'cost $0.0123'
        >>> cost_text(0.01, 0.0025)
        'cost $0.0125 (model $0.0100 + judge $0.0025)'
    """
    model = model_usd or 0.0
    judge = judge_usd or 0.0
    if not judge:
        return f"cost ${model:.4f}"
    return f"cost ${model + judge:.4f} (model ${model:.4f} + judge ${judge:.4f})"


def tokens_text(model: tuple[object, object], judge: tuple[int | None, int | None]) -> str:
    """The tokens in and out, the judges' after the model's when there are any.

    Examples:
        >>> tokens_text((120, 30), (0, 0))
        'tokens 120 in / 30 out'
        >>> tokens_text((120, 30), (400, 12))
        'tokens 120 in / 30 out, judge 400 in / 12 out'
    """
    text = f"tokens {model[0]} in / {model[1]} out"
    if judge[0] or judge[1]:
        text += f", judge {judge[0] or 0} in / {judge[1] or 0} out"
    return text


def summary_cost_text(summary: Mapping[str, Any]) -> str:
    """``cost_text`` and ``tokens_text`` of a stored run summary (a ``TaskResult`` as JSON).

    Examples:
        >>> summary_cost_text({"cost_usd": 0.002, "judge_cost_usd": 0.001,
        ...                    "input_tokens": 10, "output_tokens": 2,
        ...                    "judge_input_tokens": 50, "judge_output_tokens": 3})
        'cost $0.0030 (model $0.0020 + judge $0.0010), tokens 10 in / 2 out, judge 50 in / 3 out'
    """
    return (f"{cost_text(summary.get('cost_usd'), summary.get('judge_cost_usd'))}, "
            + tokens_text((summary.get("input_tokens"), summary.get("output_tokens")),
                          (summary.get("judge_input_tokens"),
                           summary.get("judge_output_tokens"))))
