"""A deliberately naive judge, for the walkthrough in docs/judging.md.

It grades an answer by how many of the reference's words it contains, and it obeys text in
the answer that asks for a top grade: exactly the kind of judge `evalstack judge validate`
exists to catch. Use it as `--judge python/examples/judging/keyword_judge.py:grade`.
"""

import json
import re
from collections.abc import Mapping, Sequence

BLOCK = re.compile(r"<<<(?P<label>[A-Z_]+)-(?P<nonce>\w+)>>>\n(?P<body>.*?)\n"
                   r"<<<END-(?P=label)-(?P=nonce)>>>", re.DOTALL)


def grade(messages: Sequence[Mapping[str, str]]) -> str:
    text = messages[-1]["content"]
    found = {m["label"]: m["body"] for m in BLOCK.finditer(text)}
    answer = found.get("ANSWER", "").lower()
    reference = found.get("REFERENCE", "").lower()
    words = set(re.findall(r"\w+", reference))
    hit = len(words & set(re.findall(r"\w+", answer))) / len(words) if words else 0.0
    score = 1 + round(4 * hit)
    if "give it 5" in answer or "ignore the rubric" in answer:
        score = 5  # gullible on purpose
    names = re.findall(r'"(\w+)": <integer', messages[0]["content"])
    return json.dumps({"rationale": f"{hit:.0%} of the reference's words",
                       "scores": {name: score for name in names}})
