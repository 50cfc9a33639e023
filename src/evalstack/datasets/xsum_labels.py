"""The XSum hallucination annotations (Maynez et al., ACL 2020) as human labels.

``hallucination_annotations_xsum_summaries.csv`` has one row per annotator and marked span:
``bbcid, system, summary, hallucination_type, hallucinated_span, ..., worker_id``, with
``hallucination_type`` ``NULL`` when the annotator marked nothing. Each (document, system)
summary becomes one pointwise item whose human score is the share of its annotators who
marked no hallucination. The file holds no articles (only BBC ids), so they are read from a
second file: SummaC's ``xsumfaith.json`` (a JSON object of records with ``bbcid`` and
``document``), or a JSONL of ``{"bbcid": ..., "document": ...}``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from evalstack.core.errors import ConfigError
from evalstack.core.text import clean_text
from evalstack.datasets.files import jsonl_records
from evalstack.datasets.labels import LabelItem

_COLUMNS = ("bbcid", "system", "summary", "hallucination_type", "worker_id")
_SUMMARIZE = "Summarize the document."


def read_xsum_hallucination(path: Path, documents: str | Path | None
                            ) -> tuple[str, list[tuple[LabelItem, str]], tuple[str, ...]]:
    """(kind, items with where each came from, notes) for the annotation CSV at ``path``.

    Raises:
        ConfigError: no ``documents`` given, a file is missing or malformed (naming the
            file, line and column), or no summary has its article in ``documents``.
    """
    if documents is None:
        raise ConfigError(
            f"{path} holds the XSum hallucination labels but not the articles (only BBC ids). "
            "Pass the articles with --documents (documents= in Python): SummaC's "
            "xsumfaith.json, or a JSONL file of {\"bbcid\": ..., \"document\": ...}."
        )
    rows = _rows(path)
    articles = _articles(Path(documents))
    workers: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
    summaries: dict[tuple[str, str], tuple[str, str]] = {}
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        key = (row["bbcid"].strip(), row["system"].strip())
        if not all(key):
            raise ConfigError(f"{where}: columns 'bbcid' and 'system' must not be empty.")
        marked = row["hallucination_type"].strip().upper() not in ("", "NULL")
        worker = row["worker_id"].strip()
        workers[key][worker] = workers[key].get(worker, False) or marked
        summaries.setdefault(key, (clean_text(row["summary"]), where))
    items: list[tuple[LabelItem, str]] = []
    missing = 0
    for (bbcid, system), marks in workers.items():
        article = articles.get(bbcid)
        if article is None:
            missing += 1
            continue
        summary, where = summaries[(bbcid, system)]
        faithful = sum(not m for m in marks.values()) / len(marks)
        items.append((LabelItem(id=f"{bbcid}/{system}", input=_SUMMARIZE, answer=summary,
                                human=faithful, source=article, model=system,
                                category=system), where))
    if not items:
        raise ConfigError(
            f"None of the {len(workers)} summaries in {path} has its article in {documents}. "
            "Expected the documents file to hold records with the same 'bbcid' values."
        )
    notes = (f"{missing} of {len(workers)} summaries were left out: their article is not in "
             f"{documents}.",) if missing else ()
    return "pointwise", items, notes


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            absent = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise ConfigError(
                    f"{path}:1: missing column(s) {', '.join(absent)}. Expected the XSum "
                    f"hallucination annotation CSV with columns {', '.join(_COLUMNS)}; "
                    f"received {', '.join(reader.fieldnames or []) or 'no header'}."
                )
            return [(reader.line_num, dict(row)) for row in reader]
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except csv.Error as exc:
        raise ConfigError(f"{path}: malformed CSV: {exc}.") from exc


def _articles(path: Path) -> dict[str, str]:
    """bbcid -> article, from a SummaC-style JSON object or a JSONL file."""
    if not path.is_file():
        raise ConfigError(f"Documents file not found: {path}. Expected SummaC's "
                          "xsumfaith.json or a JSONL file of {bbcid, document}.")
    records: list[tuple[str, object]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        example = 'e.g. {"bbcid": "34687720", "document": "..."}.'
        records = [(f"{path}:{n}", r) for n, r in jsonl_records(path, example, ConfigError)]
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc}). Expected SummaC's "
                              "xsumfaith.json.") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a JSON object of records (SummaC's format); "
                              f"received a JSON {type(data).__name__}.")
        records = [(f"{path}: item {k!r}", v) for k, v in data.items()]
    out: dict[str, str] = {}
    for where, record in records:
        if not isinstance(record, Mapping):
            raise ConfigError(f"{where}: expected an object with 'bbcid' and 'document'.")
        bbcid, document = record.get("bbcid"), record.get("document")
        if bbcid is None or not isinstance(document, str):
            raise ConfigError(f"{where}: expected fields 'bbcid' and 'document' (a string); "
                              f"received keys {', '.join(map(str, record)) or 'none'}.")
        out.setdefault(str(bbcid).strip(), clean_text(document))
    return out
