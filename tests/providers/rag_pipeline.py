"""A user's Python pipeline for tests: returns its answer with what it retrieved."""

from __future__ import annotations

from typing import Any


def answer(prompt: str) -> dict[str, Any]:
    if prompt.startswith("bad"):
        return {"text": prompt, "contexts": {"id": "d1"}}
    return {"text": prompt, "contexts": ["loose text", {"id": 7, "text": "seven", "score": 1}],
            "tool_calls": [{"name": "search", "arguments": {"q": prompt}}],
            "usage": {"input_tokens": 5, "output_tokens": 1}, "cost_usd": 0.25,
            "trace_id": "abc"}
