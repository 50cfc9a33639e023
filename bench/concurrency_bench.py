"""Issue 19: `--concurrency` of any size is safe. Runs `evalstack run` on a 2-sample file with
--concurrency 100000000 and with --concurrency 2, side by side as whole processes, and reports
each one's wall time and peak RSS (its own `ru_maxrss` from `wait4`).

Targets: the huge value finishes in under 5 s and under 300 MB, and costs at most 1.5x the
time and 1.2x the memory of --concurrency 2 (the workers are bounded by the samples left).
Exits non-zero on a miss.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "evalstack", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"evalstack run failed: {err}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "two.jsonl"
        data.write_text("".join(json.dumps({"input": f"q{i}", "target": f"q{i}"}) + "\n"
                                for i in range(2)))
        results: dict[str, list[tuple[float, float]]] = {"huge": [], "two": []}
        for i in range(repeats):
            for name, value in (("huge", "100000000"), ("two", "2")):
                store = Path(tmp) / f"{name}{i}.db"
                results[name].append(measure(["run", str(data), "-m", "mock/echo",
                                              "--concurrency", value, "--store", str(store)]))
    t_huge = statistics.median(t for t, _ in results["huge"])
    t_two = statistics.median(t for t, _ in results["two"])
    m_huge = max(m for _, m in results["huge"])
    m_two = max(m for _, m in results["two"])
    print(f"--concurrency 100000000: {t_huge:.2f} s, {m_huge:.0f} MB peak RSS")
    print(f"--concurrency 2:         {t_two:.2f} s, {m_two:.0f} MB peak RSS")
    print(f"ratios: time {t_huge / t_two:.2f}x, memory {m_huge / m_two:.2f}x")
    ok = t_huge < 5 and m_huge < 300 and t_huge / t_two <= 1.5 and m_huge / m_two <= 1.2
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
