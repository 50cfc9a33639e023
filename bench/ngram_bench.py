"""N-gram contamination check on a synthetic corpus: throughput, flat memory, planted overlaps.

Writes a seeded random-word corpus of ``--size-mb`` MB (128 MB .txt files under a temp dir,
streamed to disk by a child process, so the generator's memory is not counted) with a few item
passages planted in it, half of them straddling a read-chunk boundary. Then it runs
``evalstack.analysis.ngrams.check_overlap`` on 1,000 synthetic items whose words come from the
corpus vocabulary (so almost every corpus token starts some item n-gram: a slow case), and
prints the throughput, the peak RSS at 10% and at 100% of the corpus with their ratio, and
whether every planted overlap was found at its offset. Exits 1 if one was missed.

    python bench/ngram_bench.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VOCAB = 20_000
ITEMS = 1_000
ITEM_WORDS = 60
FILE_MB = 128
PLANTS_PER_FILE = 2
SEED = 1234


def _vocab() -> list[str]:
    rng = np.random.default_rng(SEED)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = set()
    while len(words) < VOCAB:
        k = int(rng.integers(2, 10))
        words.add("".join(rng.choice(letters, k)))
    return sorted(words)


def _items(vocab: list[str]) -> list[str]:
    rng = np.random.default_rng(SEED + 1)
    arr = np.array(vocab, dtype=object)
    out = []
    for _ in range(ITEMS):
        words = arr[rng.integers(0, len(vocab), ITEM_WORDS)].tolist()
        words[0] = words[0].capitalize()  # case and punctuation are normalised away
        out.append(" ".join(words) + "?")
    return out


def write_corpus(directory: Path, size_mb: int, chunk_bytes: int) -> list[dict[str, object]]:
    """Write the corpus; return the planted passages (item index, file, start, straddles)."""
    vocab = _vocab()
    items = _items(vocab)
    arr = np.array(vocab, dtype=object)
    rng = np.random.default_rng(SEED + 2)
    plants: list[dict[str, object]] = []
    total = size_mb * 1024 * 1024
    written_all = 0
    file_no = 0
    block_words = 200_000
    while written_all < total:
        size = min(FILE_MB * 1024 * 1024, total - written_all)
        path = directory / f"part-{file_no:03d}.txt"
        # plant targets: one across a chunk boundary, one anywhere (when the file has room)
        targets: list[tuple[int, bool]] = []
        if size > 3 * chunk_bytes:
            boundary = chunk_bytes * int(rng.integers(1, size // chunk_bytes - 1))
            targets.append((boundary, True))
            targets.append((int(rng.integers(chunk_bytes, size - chunk_bytes)), False))
        targets.sort()
        written = 0
        with open(path, "wb") as out:
            while written < size:
                block = (" ".join(arr[rng.integers(0, VOCAB, block_words)].tolist()) +
                         "\n").encode()
                block = block[:size - written] if written + len(block) > size else block
                while targets and targets[0][0] < written + len(block):
                    where, straddle = targets.pop(0)
                    item = int(rng.integers(0, ITEMS))
                    passage = f" {items[item]} ".encode()
                    cut = max(0, where - written - (len(passage) // 2 if straddle else 0))
                    cut = block.find(b" ", cut)
                    cut = len(block) if cut < 0 else cut
                    out.write(block[:cut])
                    start = written + cut + 1
                    plants.append({"item": item, "file": str(path), "start": start,
                                   "straddles": start // chunk_bytes !=
                                   (start + len(passage) - 2) // chunk_bytes})
                    out.write(passage)
                    written += cut + len(passage)
                    block = block[cut:]
                out.write(block)
                written += len(block)
        written_all += size
        file_no += 1
    return plants


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--write", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    from evalstack.analysis.ngrams import DEFAULT_CHUNK_BYTES, check_overlap

    if args.write:  # the child: write the corpus, print the plants
        print(json.dumps(write_corpus(Path(args.write), args.size_mb, DEFAULT_CHUNK_BYTES)))
        return 0

    from evalstack.core.types import Sample

    with tempfile.TemporaryDirectory(prefix="ngram-bench-") as tmp:
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--size-mb", str(args.size_mb),
                                "--write", tmp], check=True, capture_output=True, text=True)
        plants = json.loads(child.stdout)
        print(f"wrote {args.size_mb} MB corpus in {time.perf_counter() - t0:.1f} s; "
              f"{len(plants)} planted passages "
              f"({sum(bool(p['straddles']) for p in plants)} across a chunk boundary)")
        samples = [Sample(id=f"item-{i}", input=text) for i, text in enumerate(_items(_vocab()))]
        total = sum(f.stat().st_size for f in Path(tmp).iterdir())
        seen = 0
        rss_10: float | None = None

        def progress(k: int) -> None:
            nonlocal seen, rss_10
            seen += k
            if rss_10 is None and seen >= total / 10:
                rss_10 = _rss_mb()

        rss_start = _rss_mb()
        t0 = time.perf_counter()
        report = check_overlap(samples, [tmp], progress=progress)
        wall = time.perf_counter() - t0
        rss_100 = _rss_mb()
    by_id = {it.id: it for it in report.items}
    missed = []
    for p in plants:
        it = by_id[f"item-{p['item']}"]
        if it.found != it.n_ngrams:
            missed.append(p)
    first_ok = all(
        (by_id[f"item-{p['item']}"].first_file, by_id[f"item-{p['item']}"].first_offset) in
        {(q["file"], q["start"]) for q in plants if q["item"] == p["item"]} for p in plants)
    assert rss_10 is not None
    print(f"corpus {total / 1e6:,.0f} MB in {report.corpus_files} files; {len(samples)} items, "
          f"{report.n}-grams; scan {wall:.1f} s = {total / 1e6 / wall:.1f} MB/s")
    print(f"peak RSS: before scan {rss_start:.0f} MB, at 10% {rss_10:.0f} MB, at 100% "
          f"{rss_100:.0f} MB; ratio 100%/10% = {rss_100 / rss_10:.3f}")
    planted = len({p["item"] for p in plants})
    rate = report.rate
    print(f"contaminated items: {len(report.contaminated)} (planted {planted}); rate "
          f"{rate.estimate:.4f} [{rate.ci_low:.4f}, "
          f"{report.rate.ci_high:.4f}] n={report.rate.n}")
    print(f"every planted overlap found with all its n-grams: {'yes' if not missed else 'NO'}"
          f"; first offsets at a planted passage: {'yes' if first_ok else 'NO'}")
    return 0 if not missed and first_ok and len(report.contaminated) == len(
        {p["item"] for p in plants}) else 1


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
