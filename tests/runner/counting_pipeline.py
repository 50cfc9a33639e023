"""A user pipeline for tests: counts its calls per prompt and can be told to fail."""

from __future__ import annotations

import asyncio
from collections import Counter

CALLS: Counter[str] = Counter()
FAIL_ON: set[str] = set()
DELAY = {"seconds": 0.0}


async def answer(prompt: str) -> dict:
    CALLS[prompt] += 1
    if DELAY["seconds"]:
        await asyncio.sleep(DELAY["seconds"])
    if prompt in FAIL_ON:
        raise RuntimeError(f"pipeline failed on {prompt!r}")
    return {"text": prompt.upper(), "input_tokens": 3, "output_tokens": 2}


def reset() -> None:
    CALLS.clear()
    FAIL_ON.clear()
    DELAY["seconds"] = 0.0
