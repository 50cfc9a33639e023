"""Run each public benchmark on a model and write the results table in docs/benchmarks.md.

Usage:
    python scripts/benchmark_table.py [--model local/smollm2] [--only mmlu,gsm8k] [--out FILE]

Each run goes through the CLI (`evalstack run NAME --json`) with the limits below, offline,
against the data mirror in $EVALSTACK_DATA_DIR; the table records every metric with its 95%
interval and n, and the wall time of the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (benchmark, extra CLI arguments); limits keep the whole table within about half an hour.
RUNS: list[tuple[str, list[str]]] = [
    ("mmlu", ["--limit", "200"]),
    ("hellaswag", ["--limit", "200"]),
    ("truthfulqa_mc1", ["--limit", "200"]),
    ("truthfulqa_mc2", ["--limit", "200"]),
    ("arc_easy", ["--limit", "200"]),
    ("arc_challenge", ["--limit", "200"]),
    ("gpqa", ["--limit", "100"]),
    ("gsm8k", ["--limit", "50"]),
    ("math", ["--limit", "50"]),
    ("bbh", ["-T", "subtask=boolean_expressions", "--limit", "50"]),
    ("humaneval", ["--limit", "30"]),
    ("mbpp", ["--limit", "30"]),
    ("mt_bench", ["--limit", "10"]),
]


def run_one(model: str, name: str, extra: list[str], store: str) -> tuple[dict | None, float, str]:
    cmd = [sys.executable, "-m", "evalstack", "run", name, "--model", model, "--store", store,
           "--no-progress", "--json", *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        return None, elapsed, (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout), elapsed, ""


def fmt(m: dict) -> str:
    if m.get("estimate") is None:
        return "n/a"
    return f"{m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/smollm2")
    parser.add_argument("--only", default="")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--store", default=str(ROOT / ".benchmark-table.db"))
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s}
    rows = []
    for name, extra in RUNS:
        if only and name not in only:
            continue
        result, elapsed, error = run_one(args.model, name, extra, args.store)
        limit = " ".join(extra)
        if result is None:
            rows.append(f"| `{name}` | `{limit}` | not run: {error} | | {elapsed:.0f} s |")
            print(f"{name}: not run ({error})", flush=True)
            continue
        task = result["tasks"][0]
        metrics = "<br>".join(f"{k} {fmt(m)}" for k, m in task["metrics"].items())
        n = max((m["n"] for m in task["metrics"].values()), default=0)
        rows.append(f"| `{name}` v{task['task_version']} | `{limit}` | {metrics} | {n} | "
                    f"{elapsed:.0f} s |")
        print(f"{name}: {metrics} ({elapsed:.0f} s)", flush=True)
    header = (
        "| benchmark | arguments | metrics, 95% interval | n | wall time |\n"
        "|---|---|---|---|---|\n"
    )
    section = header + "\n".join(rows) + "\n"
    out = Path(args.out)
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    start, end = "<!-- table:start -->", "<!-- table:end -->"
    if start in text and end in text:
        text = text[: text.index(start) + len(start)] + "\n" + section + text[text.index(end):]
    else:
        text += f"\n{start}\n{section}{end}\n"
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
