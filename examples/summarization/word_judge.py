"""A deliberately naive statement checker, for the walkthrough in docs/summarization.md.

It calls a statement supported when every word of it (longer than three letters) appears in
the context. It stands in for a real judge model so that the walkthrough is fast; use
`-T judge=openai/gpt-4o-mini` or any other model for real work. Use it as
`-T judge=python/examples/summarization/word_judge.py:check`.
"""

import json
import re
from collections.abc import Mapping, Sequence

BLOCK = re.compile(r"<<<(?P<label>[A-Z_]+)-(?P<nonce>\w+)>>>\n(?P<body>.*?)\n"
                   r"<<<END-(?P=label)-(?P=nonce)>>>", re.DOTALL)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 3}


def check(messages: Sequence[Mapping[str, str]]) -> str:
    found = {m["label"]: m["body"] for m in BLOCK.finditer(messages[-1]["content"])}
    missing = _words(found.get("STATEMENT", "")) - _words(found.get("CONTEXT", ""))
    verdict = "no" if missing else "yes"
    reason = f"not in the context: {', '.join(sorted(missing))}" if missing else "all stated"
    return json.dumps({"rationale": reason, "verdict": verdict})
