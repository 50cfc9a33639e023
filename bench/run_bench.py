"""evalstack against the floor: wall time at N=10,000 and peak memory at N=50,000.

Scenario (issue 2): an exact-match eval of N samples against the local fake
OpenAI-compatible server at 0 ms latency, concurrency 32, everything stored. The floor is a
bare aiohttp client doing the same requests (bench/floor.py). Both run as separate processes,
side by side in one invocation, against the same server; the server runs in its own process.

Targets: wall(evalstack, 10k) <= 3x wall(floor, 10k); peak RSS(evalstack, 50k) < 200 MB and
<= 1.3x peak RSS(evalstack, 1k).

Usage: python bench/run_bench.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


def make_data(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = f"What is item number {i}?"
            fh.write(json.dumps({"id": f"q{i}", "input": text, "target": text}) + "\n")
    return path


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [PY, "-m", "evalstack.testing.fake_server", "--host", "127.0.0.1", "--port", "0",
         "--latency-ms", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    url = line.rsplit(" ", 1)[-1]
    return proc, url.rstrip("/") + ("" if url.rstrip("/").endswith("/v1") else "/v1")


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of that child alone, via wait4), and stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True, env=env)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code != 0:
            err_file.seek(0)
            raise SystemExit(f"command failed ({code}): {' '.join(cmd)}\n{err_file.read()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, out


def evalstack_cmd(url: str, data: Path, store: Path) -> list[str]:
    return [PY, "-m", "evalstack", "run", str(data), "--model", "openai/bench",
            "-M", f"base_url={url}", "--concurrency", "32", "--store", str(store),
            "--no-progress", "--json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller N, for a smoke test")
    args = parser.parse_args()
    n_speed, n_small, n_big = (1_000, 200, 5_000) if args.quick else (10_000, 1_000, 50_000)

    server, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmpdir = Path(tmp)
            data = make_data(tmpdir / f"speed_{n_speed}.jsonl", n_speed)
            floor_walls, eval_walls = [], []
            for r in range(args.repeats):
                fw, _, _ = timed([PY, str(HERE / "floor.py"), url, str(data), "32"])
                ew, _, out = timed(evalstack_cmd(url, data, tmpdir / f"speed_{r}.db"))
                result = json.loads(out)
                assert result["tasks"][0]["samples"] == n_speed, result
                assert result["tasks"][0]["errors"] == 0, result
                floor_walls.append(fw)
                eval_walls.append(ew)
                print(f"  repeat {r + 1}: floor {fw:.2f}s, evalstack {ew:.2f}s", flush=True)
            floor_wall = statistics.median(floor_walls)
            eval_wall = statistics.median(eval_walls)

            small = make_data(tmpdir / f"mem_{n_small}.jsonl", n_small)
            big = make_data(tmpdir / f"mem_{n_big}.jsonl", n_big)
            _, rss_small, _ = timed(evalstack_cmd(url, small, tmpdir / "mem_small.db"))
            big_wall, rss_big, out = timed(evalstack_cmd(url, big, tmpdir / "mem_big.db"))
            assert json.loads(out)["tasks"][0]["samples"] == n_big
    finally:
        server.terminate()
        server.wait()

    ratio = eval_wall / floor_wall
    mem_ratio = rss_big / rss_small
    print(f"speed:  N={n_speed:,} floor {floor_wall:.2f}s, evalstack {eval_wall:.2f}s "
          f"(median of {args.repeats}) -> ratio {ratio:.2f}x (target <= 3x)")
    print(f"memory: peak RSS N={n_small:,} {rss_small:.0f} MB, N={n_big:,} {rss_big:.0f} MB "
          f"({big_wall:.1f}s) -> ratio {mem_ratio:.2f}x (target <= 1.3x, and < 200 MB)")
    ok = ratio <= 3.0 and mem_ratio <= 1.3 and rss_big < 200
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
