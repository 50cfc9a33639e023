"""Delivering alerts: one JSON POST per alert episode, retried with backoff.

``fire`` stores an alert once per rule and episode (``production.store.record_alert``) and,
only when the episode is new, posts its payload to the webhook. A failed attempt (a
connection error, a timeout, HTTP 408, 429 or 5xx) is retried with full-jitter exponential
backoff, honouring ``Retry-After``, up to ``max_attempts``; a 4xx other than those is not
retried (the receiver refused the payload). Every attempt's outcome is stored with the alert,
so an undelivered alert is visible (``evalstack alerts``) and is never sent twice for one
episode.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from evalstack.core.errors import ProviderError
from evalstack.model.retry import backoff_delay
from evalstack.production.store import mark_delivery, record_alert
from evalstack.store import Store

_RETRYABLE = {408, 429}


@dataclass(frozen=True, slots=True)
class Delivery:
    """How an alert's delivery went.

    Attributes:
        alert_id: the stored alert, or ``None`` when the episode had already alerted.
        delivered: the receiver answered 2xx.
        attempts: POSTs made.
        error: the last failure, if any.
    """

    alert_id: str | None
    delivered: bool
    attempts: int
    error: str | None = None


async def post_json(url: str, payload: dict[str, Any], *, max_attempts: int = 5,
                    base_delay: float = 0.5, cap: float = 30.0, timeout: float = 10.0,
                    seed: int | None = None) -> tuple[bool, int, str | None]:
    """POST ``payload`` to ``url`` until a 2xx or ``max_attempts``; (ok, attempts, error)."""
    rng = random.Random(seed)
    error: str | None = None
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        for attempt in range(1, max_attempts + 1):
            retry_after: float | None = None
            try:
                async with session.post(url, json=payload) as reply:
                    if 200 <= reply.status < 300:
                        return True, attempt, None
                    error = f"HTTP {reply.status}"
                    if reply.status < 500 and reply.status not in _RETRYABLE:
                        return False, attempt, error + " (not retried: the receiver refused it)"
                    header = reply.headers.get("Retry-After")
                    retry_after = float(header) if header and header.isdigit() else None
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < max_attempts:
                wait = backoff_delay(attempt, ProviderError(error or "", retryable=True,
                                                            retry_after=retry_after),
                                     base=base_delay, cap=cap, rng=rng)
                await asyncio.sleep(wait)
    return False, max_attempts, error


async def fire(store: Store, project: str, rule: str, episode_start: datetime,
               payload: dict[str, Any], webhook: str | None, **options: Any) -> Delivery:
    """Store the alert for this rule and episode and, if it is new, deliver it once."""
    alert_id = record_alert(store, project, rule, episode_start, payload)
    if alert_id is None:
        return Delivery(None, False, 0)
    if webhook is None:
        return Delivery(alert_id, False, 0, "no webhook configured")
    ok, attempts, error = await post_json(webhook, {"alert_id": alert_id, **payload},
                                          **options)
    mark_delivery(store, alert_id, delivered=ok, attempts=attempts, error=error)
    return Delivery(alert_id, ok, attempts, error)
