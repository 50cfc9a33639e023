import asyncio
import random
import time

import pytest

from evalstack.core.errors import ProviderError
from evalstack.model.cache import BatchedCacheReader
from evalstack.model.ratelimit import RateLimiter
from evalstack.model.retry import backoff_delay


def test_retry_after_is_honoured():
    rng = random.Random(0)
    err = ProviderError("429", retryable=True, retry_after=3.0)
    delays = [backoff_delay(1, err, base=0.5, cap=30, rng=rng) for _ in range(100)]
    assert min(delays) >= 3.0 and max(delays) <= 3.5


def test_exponential_backoff_with_full_jitter_is_capped():
    rng = random.Random(0)
    err = ProviderError("500", retryable=True)
    first = [backoff_delay(1, err, base=1.0, cap=8.0, rng=rng) for _ in range(500)]
    fifth = [backoff_delay(5, err, base=1.0, cap=8.0, rng=rng) for _ in range(500)]
    late = [backoff_delay(12, err, base=1.0, cap=8.0, rng=rng) for _ in range(500)]
    assert max(first) <= 1.0 and max(fifth) <= 8.0 and max(late) <= 8.0
    assert sum(fifth) / 500 > 3 * sum(first) / 500  # grows with the attempt
    assert len({round(d, 6) for d in first}) > 400  # jittered, not synchronised


def test_requests_per_minute_limit():
    async def go() -> float:
        limiter = RateLimiter(rpm=600, tpm=None)  # 10 per second, burst 10
        start = time.monotonic()
        for _ in range(25):
            await limiter.acquire(1)
        return time.monotonic() - start

    elapsed = asyncio.run(go())
    assert 1.3 <= elapsed <= 2.5  # 10 at once, then 15 at 10/s


def test_tokens_per_minute_limit():
    async def go() -> float:
        limiter = RateLimiter(rpm=None, tpm=60_000)  # 1,000 tokens per second
        start = time.monotonic()
        for _ in range(6):
            await limiter.acquire(500)
        return time.monotonic() - start

    assert 1.8 <= asyncio.run(go()) <= 3.0


def test_batched_cache_reader_coalesces_lookups_of_one_loop_turn():
    calls = []

    def fetch(keys):
        calls.append(sorted(keys))
        return {k: {"v": k} for k in keys if k != "missing"}

    async def go():
        reader = BatchedCacheReader(fetch)
        results = await asyncio.gather(*(reader.get(k) for k in ["a", "b", "a", "missing"]))
        later = await reader.get("c")
        return results, later, reader.queries

    results, later, queries = asyncio.run(go())
    assert results == [{"v": "a"}, {"v": "b"}, {"v": "a"}, None]
    assert later == {"v": "c"}
    assert queries == 2 and calls[0] == ["a", "b", "missing"]


def test_batched_cache_reader_propagates_store_errors():
    def fetch(keys):
        raise RuntimeError("store down")

    async def go():
        reader = BatchedCacheReader(fetch)
        await reader.get("a")

    with pytest.raises(RuntimeError, match="store down"):
        asyncio.run(go())
