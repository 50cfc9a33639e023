"""Two simulated models for the contamination tests, with a known truth, as Python targets.

Both know MMLU's answers (they read the items as the task does) and recognise an item from its
options, whatever their order, labels or the question's wording.

- ``memorised``: has memorised the items whose id hashes even (``is_memorised``): right in the
  original wording, at chance (a label picked by a hash of the prompt) in any other. The rest
  it answers as ``clean`` does.
- ``clean``: right with probability ``SKILL`` in every wording alike (decided by a hash of the
  prompt, so a rerun gives the same answers).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re

SKILL = 0.7
ITEMS = 500
_OPTION = re.compile(r"^(?P<label>[A-Za-z0-9]+)\. (?P<text>.*)$")


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_memorised(item_id: str) -> bool:
    return _unit("memorised", item_id) < 0.5


@functools.cache
def _items() -> dict[tuple[str, ...], list[tuple[str, str, tuple[str, ...], int]]]:
    from itertools import islice

    from evalstack.benchmarks.mmlu import mmlu
    from evalstack.solvers.templates import LETTERS, target_letter

    table: dict[tuple[str, ...], list[tuple[str, str, tuple[str, ...], int]]] = {}
    for s in islice(mmlu().dataset, ITEMS):
        choices = tuple(s.choices or ())
        answer = LETTERS.index(target_letter(s))
        table.setdefault(tuple(sorted(choices)), []).append(
            (s.id, s.input_text(), choices, answer))
    return table


def _parse(prompt: str) -> tuple[str, list[str], list[str]] | None:
    head = prompt.rpartition("\nAnswer:")[0]
    lines = head.split("\n")
    if len(lines) < 5:
        return None
    options = [_OPTION.match(line) for line in lines[-4:]]
    if not all(options):
        return None
    question = "\n".join(lines[:-4]).split("\n\n", 1)[-1]
    return (question, [m.group("label") for m in options if m],
            [m.group("text") for m in options if m])


def _answer(prompt: str, memorising: bool) -> str:
    parsed = _parse(prompt)
    if parsed is None:
        return "I don't know."
    question, labels, texts = parsed
    found = _items().get(tuple(sorted(texts)))
    if not found:
        return "I don't know."
    item_id, original_q, choices, answer = max(
        found, key=lambda f: difflib.SequenceMatcher(None, f[1], question).ratio())
    right = labels[texts.index(choices[answer])]
    chance = labels[int(_unit("chance", prompt) * len(labels))]
    if memorising and is_memorised(item_id):
        original = question == original_q and tuple(texts) == choices and labels == list("ABCD")
        return right if original else chance
    if _unit("skill", prompt) < SKILL:
        return right
    wrong = [label for label in labels if label != right]
    return wrong[int(_unit("wrong", prompt) * len(wrong))]


def memorised(prompt: str) -> str:
    return _answer(prompt, True)


def clean(prompt: str) -> str:
    return _answer(prompt, False)
