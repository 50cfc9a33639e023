"""The fake server's capacity model (``capacity``) and its overload degradation
(``degrade_above``)."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from evalstack.core.errors import ConfigError
from evalstack.testing import FakeServer
from evalstack.testing.fake_server import _parse_args


def _chat(server: FakeServer, text: str) -> tuple[str, float]:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]})
    req = urllib.request.Request(
        server.url + "/chat/completions", body.encode(), {"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        reply: dict[str, Any] = json.load(resp)
    return reply["choices"][0]["message"]["content"], time.perf_counter() - start


def _burst(server: FakeServer, n: int) -> list[tuple[str, float]]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: _chat(server, f"q{i}"), range(n)))


def test_in_flight_never_exceeds_capacity() -> None:
    with FakeServer(capacity=4, latency_ms=50) as server:
        replies = _burst(server, 16)
        stats = server.stats()
    assert [r for r, _ in replies] == [f"q{i}" for i in range(16)]
    assert stats["max_serving"] == 4
    assert stats["max_in_flight"] > 4  # the others queued
    assert stats["in_flight"] == 0
    # 16 requests through 4 slots of 50 ms: four rounds, so the slowest waited about 200 ms
    assert max(s for _, s in replies) >= 0.19


def test_unlimited_by_default() -> None:
    with FakeServer(latency_ms=50) as server:
        replies = _burst(server, 12)
        stats = server.stats()
    assert stats["max_serving"] == stats["max_in_flight"] > 4
    assert stats["degraded"] == 0
    assert max(s for _, s in replies) < 0.19  # nothing queued
    assert all(r == f"q{i}" for i, (r, _) in enumerate(replies))


def test_degrades_while_overloaded() -> None:
    with FakeServer(degrade_above=3, latency_ms=100) as server:
        replies = [r for r, _ in _burst(server, 10)]
        stats = server.stats()
        alone, _ = _chat(server, "calm")
    wrong = [r for r in replies if not r.startswith("q")]
    assert stats["degraded"] == len(wrong) > 0
    assert all(r.startswith("degraded: ") for r in wrong)
    assert alone == "calm"  # one request in flight is never degraded


def test_reset_zeroes_the_maxima() -> None:
    with FakeServer(capacity=2, latency_ms=20) as server:
        _burst(server, 4)
        server.reset()
        stats = server.stats()
    assert (stats["max_serving"], stats["max_in_flight"], stats["degraded"]) == (0, 0, 0)


@pytest.mark.parametrize("options", [{"capacity": 0}, {"capacity": 2.5}, {"degrade_above": -1},
                                     {"capacity": True}])
def test_bad_values_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="integer"):
        FakeServer(**options)


def test_command_line_flags() -> None:
    _, options = _parse_args(["--capacity", "8", "--degrade-above", "16"])
    assert (options.capacity, options.degrade_above) == (8, 16)
    _, default = _parse_args([])
    assert (default.capacity, default.degrade_above) == (None, None)
