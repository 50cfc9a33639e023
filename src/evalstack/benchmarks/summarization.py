"""The ``summarization`` suite: faithful, complete, readable summaries, and what they cost.

Each sample is a document to summarize. The suite scores every summary on:

- ``faithfulness``: each sentence checked by the judge against the document; the share
  supported, with the unsupported sentences listed (``evalstack.scorers.judge.rag``);
- ``hallucination_free``: 1 when every sentence is supported, so one minus the run's mean is
  the hallucination rate, with its Wilson interval flipped (the judge's checks are the same,
  answered from the cache);
- ``coverage``: the share of the reference's key points (a ``key_points`` list, else the
  reference summary's sentences) that the summary states, judged against the summary;
- ``summary_length`` (words, with the compression against the document) and
  ``readability`` (Flesch reading ease);

and, as every run does, the latency and cost of each document (``evalstack show``).

Data: by default the 485 BBC articles of SummaC's XSumFaith split (Laban et al., 2022;
documents from XSum, Narayan et al., 2018), with the reference ("Gold") summaries from the
XSum hallucination annotations (Maynez et al., 2020, CC BY 4.0); both read from the offline
mirror or downloaded from their repositories, never shipped. Or your own documents:
``-T data=docs.jsonl`` with ``{"id", "document", "reference"?, "key_points"?, "category"?}``
per line.

    evalstack run summarization -m local/smollm2 --limit 20
    evalstack run summarization -m openai/gpt-4o-mini -T judge=openai/gpt-4o -T data=docs.jsonl
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalstack.core.errors import ConfigError, DataError
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.files import jsonl_records
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.scorers.judge.model import DEFAULT_JUDGE
from evalstack.scorers.judge.rag import coverage, faithfulness, hallucination_free
from evalstack.scorers.readability import readability, summary_length
from evalstack.solvers import generate

_SUMMAC = ("https://raw.githubusercontent.com/tingofurro/summac/"
           "24b49de0cd9621d28aac01456691cc0d3765fa27/data")
_XSUM = ("https://raw.githubusercontent.com/google-research-datasets/"
         "xsum_hallucination_annotations/4abdbb2c807cb93c1df1188a1992d20a55cdcc34")
DOCUMENTS = DataSource(name="summarization", mirror="summac_benchmark/data/xsumfaith.json",
                       url=f"{_SUMMAC}/xsumfaith.json",
                       licence="Apache-2.0 (SummaC); articles: XSum (BBC), research use")
REFERENCES = DataSource(
    name="summarization",
    mirror="xsum_hallucination_annotations/hallucination_annotations_xsum_summaries.csv",
    url=f"{_XSUM}/hallucination_annotations_xsum_summaries.csv", licence="CC BY 4.0",
)
INSTRUCTION = "Summarize the article below in one sentence."
_FIELDS = ("id", "document", "reference", "key_points", "category")


def _prompt(instruction: str, document: str) -> str:
    return f"{instruction}\n\nArticle:\n{document}\n\nSummary:"


def _builtin() -> tuple[list[dict[str, Any]], str]:
    docs_path = locate(DOCUMENTS)
    try:
        data = json.loads(docs_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{docs_path}: not valid JSON ({exc}); expected SummaC's "
                        "xsumfaith.json.") from exc
    if not isinstance(data, Mapping):
        raise DataError(f"{docs_path}: expected a JSON object of records (SummaC's format).")
    refs_path = locate(REFERENCES)
    gold = {str(r.get("bbcid", "")).strip(): str(r.get("summary", ""))
            for r in read_records(refs_path, REFERENCES) if r.get("system") == "Gold"}
    rows: dict[str, dict[str, Any]] = {}
    for key, record in data.items():
        if not isinstance(record, Mapping) or not isinstance(record.get("document"), str):
            raise DataError(f"{docs_path}: item {key!r}: expected a 'document' string.")
        bbcid = str(record.get("bbcid", key))
        if bbcid not in rows:
            rows[bbcid] = {"id": bbcid, "document": record["document"],
                           "reference": gold.get(bbcid), "category": "xsum"}
    digest = hashlib.sha256((file_sha256(docs_path) + file_sha256(refs_path)).encode())
    return list(rows.values()), digest.hexdigest()


def _user(path: str) -> tuple[list[dict[str, Any]], str]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"summarization data file not found: {p}. Expected a JSONL file of "
                          '{"id": ..., "document": ..., "reference": ...} per line.')
    example = 'e.g. {"id": "d1", "document": "The article...", "reference": "Its summary."}'
    rows = []
    for lineno, record in jsonl_records(p, example, DataError):
        where = f"{p}:{lineno}"
        if not isinstance(record, Mapping):
            raise DataError(f"{where}: expected a JSON object; {example}.")
        unknown = sorted(set(record) - set(_FIELDS))
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(unknown)}; expected "
                            f"{', '.join(_FIELDS)}.")
        if not isinstance(record.get("document"), str) or not record["document"].strip():
            raise DataError(f"{where}: field 'document' must be a non-empty string.")
        for name in ("reference", "category"):
            if record.get(name) is not None and not isinstance(record[name], str):
                raise DataError(f"{where}: field {name!r} must be a string.")
        points = record.get("key_points")
        if points is not None and not (isinstance(points, list)
                                       and all(isinstance(k, str) for k in points)):
            raise DataError(f"{where}: field 'key_points' must be a list of strings.")
        rows.append({**record, "id": str(record.get("id", lineno))})
    if not rows:
        raise DataError(f"{p} holds no documents.")
    return rows, file_sha256(p)


@task(version=1)
def summarization(data: str | None = None, judge: str = DEFAULT_JUDGE,
                  judge_args: Mapping[str, Any] | None = None, undecided: str = "count",
                  instruction: str = INSTRUCTION, max_tokens: int = 96) -> Task:
    """Summaries scored for faithfulness, hallucinations, coverage, length and readability.

    Args:
        data: a JSONL file of your own documents (default: XSumFaith's BBC articles).
        judge: the judge model for faithfulness, hallucination_free and coverage.
        judge_args: the judge's model arguments (``{"base_url": ...}``).
        undecided: how statements the judge cannot decide count (``count`` or ``exclude``).
        instruction: the instruction before each document.
        max_tokens: the summary's output budget.
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise ConfigError("summarization instruction must be a non-empty string.")
    rows, fingerprint = _user(data) if data else _builtin()
    samples = [Sample(
        id=row["id"], input=_prompt(instruction, row["document"]),
        target=row.get("reference") or "",
        metadata={"document": row["document"], "category": row.get("category") or "",
                  **({"key_points": row["key_points"]} if row.get("key_points") else {})},
    ) for row in rows]
    args: dict[str, Any] = {"judge": judge, "judge_args": judge_args, "undecided": undecided}
    scorers = [faithfulness(context_field="document", **args),
               hallucination_free(context_field="document", **args),
               summary_length(), readability()]
    if all(s.targets or s.metadata.get("key_points") for s in samples):
        scorers.insert(2, coverage(**args))
    return Task("summarization", MemoryDataset("summarization", samples, fingerprint=fingerprint),
                generate(), scorers,
                config=GenerateConfig(max_tokens=max_tokens, temperature=0.0))
