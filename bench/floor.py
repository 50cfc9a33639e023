"""The floor: a bare aiohttp client sending the benchmark's requests, nothing else.

Usage: python bench/floor.py BASE_URL DATA.jsonl CONCURRENCY
Each line's "input" is sent as one chat completion; the reply is parsed and compared with
"target", as the evalstack run does, but nothing is stored.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp


async def main(base_url: str, path: str, concurrency: int) -> None:
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    it = iter(rows)
    correct = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal correct
            for row in it:
                body = {"model": "bench", "messages": [{"role": "user", "content": row["input"]}]}
                async with session.post(f"{base_url}/chat/completions", json=body) as resp:
                    data = await resp.json()
                text = data["choices"][0]["message"]["content"]
                correct += text.strip() == row["target"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(json.dumps({"samples": len(rows), "correct": correct}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
