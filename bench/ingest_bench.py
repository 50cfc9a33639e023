"""Trace ingest: spans per second through OTLP/HTTP into SQLite (and PostgreSQL), and the
memory of ``evalstack serve`` after 100,000 spans (issue 14).

A real ``evalstack serve`` process (its own store, a new project key) receives
ExportTraceServiceRequest protobuf batches, as the SDK's OTLP/HTTP exporter sends them: 500
spans per request, two spans per trace (a parent and a GenAI chat span with models, tokens and
messages), from ``--senders`` concurrent clients. Spans per second is spans sent over the wall
time until the last batch was acknowledged; the memory is the server's resident set size
(``VmRSS``) after 1,000 and after all spans, and their ratio. With ``--postgres URL`` the same
load goes to PostgreSQL in the same invocation, so the two rates compare side by side.

    python bench/ingest_bench.py                      # SQLite, 100,000 spans
    python bench/ingest_bench.py --postgres postgresql+psycopg://user@127.0.0.1/db
    python bench/ingest_bench.py --spans 10000        # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

BATCH = 500


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def batch(index: int) -> bytes:
    """One export request: BATCH spans, BATCH // 2 traces of a parent and a chat span."""
    spans = []
    now = time.time_ns()
    for t in range(BATCH // 2):
        trace_id = secrets.token_bytes(16)
        parent, child = secrets.token_bytes(8), secrets.token_bytes(8)
        n = index * BATCH + t
        messages = json.dumps([{"role": "user", "parts": [
            {"type": "text", "content": f"question {n}: where is my order?"}]}])
        answer = json.dumps([{"role": "assistant", "parts": [
            {"type": "text", "content": "It ships tomorrow."}], "finish_reason": "stop"}])
        spans.append(Span(trace_id=trace_id, span_id=parent, name="handle request", kind=2,
                          start_time_unix_nano=now, end_time_unix_nano=now + 900_000_000))
        spans.append(Span(
            trace_id=trace_id, span_id=child, parent_span_id=parent, name="chat gpt-4o-mini",
            kind=3, start_time_unix_nano=now + 1_000_000, end_time_unix_nano=now + 800_000_000,
            attributes=[_kv("gen_ai.operation.name", "chat"),
                        _kv("gen_ai.request.model", "gpt-4o-mini"),
                        _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                        _kv("gen_ai.usage.input_tokens", 42),
                        _kv("gen_ai.usage.output_tokens", 7),
                        _kv("gen_ai.conversation.id", f"c{n // 3}"),
                        _kv("gen_ai.input.messages", messages),
                        _kv("gen_ai.output.messages", answer)]))
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=None, scope_spans=[ScopeSpans(spans=spans)])])
    request.resource_spans[0].resource.attributes.append(_kv("service.name", "bench"))
    return request.SerializeToString()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else float("nan")


async def _send(url: str, key: str, bodies: list[bytes], senders: int) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(url, data=body, headers=headers) as reply:
                if reply.status != 200:
                    raise SystemExit(f"ingest answered {reply.status}: {await reply.text()}")

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(worker(session) for _ in range(senders)))


def measure(store: str, spans: int, senders: int) -> dict[str, float]:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalstack", "serve", "--store", store, "--port", str(port),
         "--new-project", f"bench-{secrets.token_hex(3)}", "--rate", "100000",
         "--max-body-mb", "64"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        key = re.search(r"ingest key (esk_\S+)", proc.stdout.readline()).group(1)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/runs", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        bodies = [batch(i) for i in range(spans // BATCH)]
        asyncio.run(_send(f"{base}/v1/traces", key, bodies[:2], 1))  # 1,000 spans
        rss_1k = _rss_mb(proc.pid)
        start = time.perf_counter()
        asyncio.run(_send(f"{base}/v1/traces", key, bodies[2:], senders))
        wall = time.perf_counter() - start
        rss = _rss_mb(proc.pid)
        return {"spans_per_s": (len(bodies) - 2) * BATCH / wall, "rss_1k_mb": rss_1k,
                "rss_mb": rss, "rss_ratio": rss / rss_1k}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("EVALSTACK_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(str(Path(tmp) / "ingest.db"), args.spans, args.senders)
    if args.postgres:
        results["postgresql"] = measure(args.postgres, args.spans, args.senders)
    print(f"{args.spans:,} spans, {BATCH} per request, {args.senders} senders")
    print(f"{'store':<12}{'spans/s':>10}{'RSS 1k (MB)':>14}{'RSS end (MB)':>14}{'ratio':>8}")
    for name, r in results.items():
        print(f"{name:<12}{r['spans_per_s']:>10,.0f}{r['rss_1k_mb']:>14.0f}{r['rss_mb']:>14.0f}"
              f"{r['rss_ratio']:>8.2f}")
    if "postgresql" in results:
        ratio = results["postgresql"]["spans_per_s"] / results["sqlite"]["spans_per_s"]
        print(f"PostgreSQL / SQLite ingest rate: {ratio:.2f}x")
    daily = results["sqlite"]["spans_per_s"] * 86_400
    print(f"SQLite at this rate: {daily:,.0f} spans a day "
          f"({daily / 2 / 10_000:,.0f}x the seed's 10,000 two-span conversations)")


if __name__ == "__main__":
    main()
