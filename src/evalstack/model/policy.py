"""``CallPolicy``: how calls to one model are made (limits, timeouts, retries, cache)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """The limits and retry settings every model call obeys.

    A run builds one from its ``RunConfig`` (``RunConfig.call_policy()``), and its judges,
    paraphrasers and attackers get the same one, so ``--rpm``, ``--timeout`` and
    ``--max-retries`` hold for every model a run calls.

    Attributes:
        concurrency: calls in flight at once (a provider may impose fewer).
        rpm: requests per minute at most, or ``None`` for no limit.
        tpm: tokens per minute at most (estimated before the call), or ``None``.
        timeout: seconds one attempt may take.
        retry_time: seconds one call may take in all, attempts and backoffs included.
        max_retries: retries of a retryable error (429, 5xx, a timeout) per call.
        retry_base: the first backoff in seconds (doubled per retry, with full jitter).
        retry_max: the longest backoff in seconds.
        seed: seeds the backoff jitter.
        cache: whether stored responses are reused for identical requests.

    Examples:
        >>> CallPolicy(rpm=60).with_concurrency(4).concurrency
        4
    """

    concurrency: int = 32
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    retry_time: float = 300.0
    max_retries: int = 8
    retry_base: float = 0.5
    retry_max: float = 30.0
    seed: int = 0
    cache: bool = True

    def with_concurrency(self, limit: int | None) -> CallPolicy:
        """This policy with at most ``limit`` calls in flight (``None`` leaves it)."""
        if limit is None or limit >= self.concurrency:
            return self
        return dataclasses.replace(self, concurrency=max(1, limit))
