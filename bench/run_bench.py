"""evalstack against the floor: wall and CPU time at N=10,000, and peak memory at N=50,000.

Scenario (issue 2): an exact-match eval of N samples against the local fake
OpenAI-compatible server, concurrency 32, everything stored. The floor is a bare aiohttp
client doing the same requests (bench/floor.py). Both run as separate processes (start-up
included), side by side in one invocation, against the same server; the server runs in its
own process (one at 0 ms latency, one at 50 ms).

Targets (each printed as a ratio with PASS/FAIL):
- N=10,000, 0 ms:  wall(evalstack) <= 2x wall(floor), and CPU(evalstack) <= 2x CPU(floor);
- N=10,000, 50 ms: wall(evalstack) <= 1.1x wall(floor);
- memory, 0 ms:    peak RSS(evalstack, N=50,000) <= 1.3x peak RSS(evalstack, N=1,000),
                   and < 200 MB.

Wall and CPU (user + system, of the child alone, from ``wait4``) are the medians of
``--repeats`` runs; each repeat runs the floor and evalstack back to back.

Both start from bytecode: an installed wheel has its ``.pyc`` files compiled at install
time, but an editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` (as CI and these
machines set) would recompile every changed module in every process, about 0.1 s of
start-up that no user pays. So the evalstack package is byte-compiled once first.

Usage: python bench/run_bench.py [--repeats 3] [--quick] [--cases speed0,speed50,memory]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
CONCURRENCY = 32
CASES = ("speed0", "speed50", "memory")


@dataclass
class Measure:
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Check:
    name: str
    floor: str
    evalstack: str
    ratio: float
    target: float

    @property
    def ok(self) -> bool:
        return self.ratio <= self.target


def make_data(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = f"What is item number {i}?"
            fh.write(json.dumps({"id": f"q{i}", "input": text, "target": text}) + "\n")
    return path


def start_server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [PY, "-m", "evalstack.testing.fake_server", "--host", "127.0.0.1", "--port", "0",
         "--latency-ms", f"{latency_ms:g}"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    url = line.rsplit(" ", 1)[-1].rstrip("/")
    return proc, url + ("" if url.endswith("/v1") else "/v1")


def timed(cmd: list[str]) -> tuple[Measure, str]:
    """Wall seconds, CPU seconds and peak RSS in MB (of that child alone, via wait4), and
    its stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code != 0:
            err_file.seek(0)
            raise SystemExit(f"command failed ({code}): {' '.join(cmd)}\n{err_file.read()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Measure(wall, cpu, usage.ru_maxrss / 1024.0), out


def evalstack_cmd(url: str, data: Path, store: Path) -> list[str]:
    return [PY, "-m", "evalstack", "run", str(data), "--model", "openai/bench",
            "-M", f"base_url={url}", "--concurrency", str(CONCURRENCY), "--store", str(store),
            "--no-progress", "--json"]


def run_evalstack(url: str, data: Path, store: Path, n: int) -> Measure:
    m, out = timed(evalstack_cmd(url, data, store))
    result = json.loads(out)["tasks"][0]
    assert result["samples"] == n and result["errors"] == 0, result
    return m


def run_floor(url: str, data: Path, n: int) -> Measure:
    m, out = timed([PY, str(HERE / "floor.py"), url, str(data), str(CONCURRENCY)])
    assert json.loads(out)["samples"] == n
    return m


def side_by_side(label: str, url: str, data: Path, n: int, repeats: int,
                 tmpdir: Path) -> tuple[Measure, Measure]:
    """Median floor and evalstack measures over ``repeats`` back-to-back pairs."""
    floors, evals = [], []
    for r in range(repeats):
        f = run_floor(url, data, n)
        e = run_evalstack(url, data, tmpdir / f"{label}_{r}.db", n)
        floors.append(f)
        evals.append(e)
        print(f"  {label} repeat {r + 1}: floor wall {f.wall:.2f}s cpu {f.cpu:.2f}s | "
              f"evalstack wall {e.wall:.2f}s cpu {e.cpu:.2f}s "
              f"(wall {e.wall / f.wall:.2f}x, cpu {e.cpu / f.cpu:.2f}x)", flush=True)

    def median(ms: list[Measure]) -> Measure:
        return Measure(statistics.median(m.wall for m in ms),
                       statistics.median(m.cpu for m in ms),
                       statistics.median(m.rss_mb for m in ms))

    return median(floors), median(evals)


def speed_checks(latency: int, n: int, repeats: int, tmpdir: Path) -> list[Check]:
    server, url = start_server(latency)
    try:
        data = make_data(tmpdir / f"speed_{n}.jsonl", n)
        f, e = side_by_side(f"{latency}ms", url, data, n, repeats, tmpdir)
    finally:
        server.terminate()
        server.wait()
    per = 1000.0 / n
    checks = [Check(f"wall, N={n:,}, {latency} ms", f"{f.wall:.2f} s", f"{e.wall:.2f} s",
                    e.wall / f.wall, 2.0 if latency == 0 else 1.1)]
    if latency == 0:
        checks.append(Check(f"CPU,  N={n:,}, {latency} ms",
                            f"{f.cpu:.2f} s ({f.cpu * per:.3f} ms/sample)",
                            f"{e.cpu:.2f} s ({e.cpu * per:.3f} ms/sample)",
                            e.cpu / f.cpu, 2.0))
    return checks


def memory_checks(n_small: int, n_big: int, tmpdir: Path) -> list[Check]:
    server, url = start_server(0)
    try:
        small = run_evalstack(url, make_data(tmpdir / f"mem_{n_small}.jsonl", n_small),
                              tmpdir / "mem_small.db", n_small)
        big = run_evalstack(url, make_data(tmpdir / f"mem_{n_big}.jsonl", n_big),
                            tmpdir / "mem_big.db", n_big)
    finally:
        server.terminate()
        server.wait()
    print(f"  memory: N={n_small:,} {small.rss_mb:.0f} MB, N={n_big:,} {big.rss_mb:.0f} MB "
          f"({big.wall:.1f} s)", flush=True)
    return [
        Check(f"peak RSS N={n_big:,} / N={n_small:,}", f"{small.rss_mb:.0f} MB (N={n_small:,})",
              f"{big.rss_mb:.0f} MB (N={n_big:,})", big.rss_mb / small.rss_mb, 1.3),
        Check(f"peak RSS N={n_big:,} / 200 MB", "200 MB", f"{big.rss_mb:.0f} MB",
              big.rss_mb / 200.0, 1.0),
    ]


def print_table(checks: list[Check]) -> None:
    head = ("check", "floor / base", "evalstack", "ratio", "target", "result")
    rows = [(c.name, c.floor, c.evalstack, f"{c.ratio:.2f}x", f"<= {c.target:g}x",
             "PASS" if c.ok else "FAIL") for c in checks]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for r in [head, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    print(line)


def compile_package() -> None:
    """Write the evalstack package's bytecode, as installing a wheel does."""
    import evalstack

    compileall.compile_dir(Path(evalstack.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller N, for a smoke test")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of {', '.join(CASES)}")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    n_speed, n_small, n_big = (1_000, 200, 5_000) if args.quick else (10_000, 1_000, 50_000)
    compile_package()
    checks: list[Check] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        if "speed0" in cases:
            checks += speed_checks(0, n_speed, args.repeats, tmpdir)
        if "speed50" in cases:
            checks += speed_checks(50, n_speed, args.repeats, tmpdir)
        if "memory" in cases:
            checks += memory_checks(n_small, n_big, tmpdir)
    print(f"concurrency {CONCURRENCY}; medians of {args.repeats} side-by-side repeats")
    print_table(checks)
    ok = all(c.ok for c in checks)
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
