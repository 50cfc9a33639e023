"""Write the RAG example's task file from the SQuAD data in the mirror.

    python examples/rag/make_task.py --n 20 --out rag-squad.jsonl

One JSON line per question: ``id``, ``input`` (the question), ``target`` (its answers) and
``relevant`` (the id of the passage it was asked about, the gold for the retrieval scorers).
The ``--n`` questions are spread evenly over the file, so they come from every article. The
data is CC BY-SA 4.0 and is not kept in the repository: make the file when you need it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import load_questions  # noqa: E402


def rows(n: int | None) -> list[dict[str, object]]:
    """The task's rows: every question, or ``n`` spread evenly over the file."""
    questions = load_questions()
    if n is not None and n < len(questions):
        questions = [questions[i * len(questions) // n] for i in range(n)]
    return [{"id": q.id, "input": q.question, "target": list(q.answers),
             "relevant": [q.passage_id]} for q in questions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the RAG example's task file.")
    parser.add_argument("--n", type=int, default=None, help="how many questions (default all)")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    args = parser.parse_args(argv)
    out = rows(args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out),
                        encoding="utf-8")
    print(f"wrote {len(out)} questions to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
