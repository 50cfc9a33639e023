"""Viewer page times: the runs page and a run page with 10,000 samples (issue 6).

Builds a store with a 10,000-sample run and a 100-sample run (real runs of the mock echo
model), serves the viewer with uvicorn on loopback, and times each page over HTTP: the median
of ``--repeats`` requests after one warm-up.

Targets: the runs page and the 10,000-sample run page each render in under 1 s, and the
10,000-sample run page takes at most 2x the 100-sample one (sample tables are paginated on the
server, so a run's size barely matters). The ratio is the figure to report: these machines are
noisy, so compare pages measured side by side in one run.

    .venv/bin/python bench/viewer_bench.py [--samples 10000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


def build_store(path: Path, big: int) -> tuple[str, str]:
    from evalstack import RunConfig, Sample, Task, evaluate
    from evalstack.datasets import MemoryDataset
    from evalstack.scorers.match import exact_match
    from evalstack.solvers import generate
    from evalstack.store import Store

    ids = []
    with Store.open(str(path)) as store:
        for n in (big, 100):
            samples = [Sample(f"s{i:06d}", f"question {i}", f"question {i}" if i % 3 else "x",
                              metadata={"category": f"c{i % 8}"}) for i in range(n)]
            task = Task(f"bench{n}", MemoryDataset(f"bench{n}", samples), generate(),
                        [exact_match()])
            result = evaluate([task], ["mock/echo"], RunConfig(progress=False), store=store)
            run_id = result.tasks[0].run_id
            stored, _ = store.count_samples(run_id)
            assert stored == n, f"expected {n} stored samples, found {stored}"
            ids.append(run_id)
    return ids[0], ids[1]


def serve(store: str) -> tuple[str, object]:
    import socket

    import uvicorn

    from evalstack.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store, port=port), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server


def timed(client: object, url: str, repeats: int) -> float:
    client.get(url).raise_for_status()  # type: ignore[attr-defined]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.get(url).raise_for_status()  # type: ignore[attr-defined]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "store.db")
        t0 = time.perf_counter()
        big, small = build_store(Path(store), args.samples)
        print(f"built the store ({args.samples:,} + 100 samples) in "
              f"{time.perf_counter() - t0:.1f} s")
        base, server = serve(store)
        with httpx.Client(base_url=base, timeout=30) as client:
            results = {
                "runs page": timed(client, "/runs", args.repeats),
                f"run page, {args.samples:,} samples": timed(client, f"/runs/{big}",
                                                             args.repeats),
                "run page, 100 samples": timed(client, f"/runs/{small}", args.repeats),
                f"run page, {args.samples:,} samples, last page": timed(
                    client, f"/runs/{big}?after_id=s{args.samples - 30:06d}&after_epoch=1",
                    args.repeats),
            }
        server.should_exit = True  # type: ignore[attr-defined]
    for name, seconds in results.items():
        print(f"{name:45s} {seconds * 1000:8.1f} ms")
    ratio = results[f"run page, {args.samples:,} samples"] / results["run page, 100 samples"]
    print(f"ratio: run page {args.samples:,} samples / 100 samples = {ratio:.2f} (target <= 2)")
    slow = [n for n, s in results.items() if s >= 1.0]
    ok = not slow and ratio <= 2.0
    print("targets met" if ok else f"targets missed: {', '.join(slow) or 'ratio'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
