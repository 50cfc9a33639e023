"""The lead baseline for docs/summarization.md: the article's first sentences as its summary.

A classic summarization baseline (strong on news, where the first sentences carry the story).
It copies the article, so every sentence is supported: a floor for faithfulness checks. Use
it as `-m python/examples/summarization/lead.py:lead`, with `-M sentences=N` (default 2).
"""

import re


def lead(prompt: str, sentences: int = 2) -> str:
    article = prompt.split("Article:\n", 1)[-1].rsplit("\n\nSummary:", 1)[0]
    parts = re.split(r"(?<=[.!?])\s+", article.strip())
    return " ".join(parts[: int(sentences)])
