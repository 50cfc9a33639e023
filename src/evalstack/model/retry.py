"""Exponential backoff with full jitter that honours ``Retry-After``."""

from __future__ import annotations

import random

from evalstack.core.errors import ProviderError


def backoff_delay(
    attempt: int, error: ProviderError, *, base: float, cap: float, rng: random.Random
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based) after ``error``.

    The server's ``Retry-After`` wins when given (plus a little jitter so that many waiting
    requests do not return at once); otherwise full jitter over ``base * 2**(attempt-1)``,
    capped at ``cap`` (Brooker, "Exponential Backoff and Jitter", AWS 2015).

    Examples:
        >>> e = ProviderError("429", retryable=True, retry_after=2.0)
        >>> 2.0 <= backoff_delay(1, e, base=0.5, cap=30, rng=random.Random(0)) <= 2.5
        True
    """
    if error.retry_after is not None:
        return max(0.0, error.retry_after) + rng.uniform(0, min(0.5, base))
    return rng.uniform(0, min(cap, base * (2 ** (attempt - 1))))
