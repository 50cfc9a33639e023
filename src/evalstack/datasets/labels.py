"""Human labels for validating a judge: scores or pairwise preferences, from several formats.

A judge is validated by comparing its verdicts with human ones on the same items. This
module reads those human labels into one shape, :class:`HumanLabels`, whatever file they
come from:

=================  ==========================================================================
format             file
=================  ==========================================================================
``evalstack``      JSONL, one item per line: ``answer`` + ``human`` (pointwise) or
                   ``answer_a`` + ``answer_b`` + ``preference`` (pairwise)
``llmbar``         LLMBar's ``dataset.json``: a list of ``{input, output_1, output_2, label}``
``summac``         SummaC benchmark files: ``{id: {document, claim, label 0|1, ...}}``
``unieval``        UniEval's QAGS files: a list of ``{source, system_output, system_id,
                   scores: {consistency}}``
``topical_chat``   UniEval's Topical-Chat file: a list of ``{source, context, system_output,
                   system_id, scores: {overall, ...}}``
``xsum_hallucination``  the XSum hallucination annotations (Maynez et al., 2020) as published:
                   ``hallucination_annotations_xsum_summaries.csv``, with the articles from
                   a ``documents`` file (the CSV holds none)
=================  ==========================================================================

A malformed file raises ``ConfigError`` naming the file, the line (JSONL) or item (JSON),
the field, what was expected and what was received.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalstack.core.errors import ConfigError
from evalstack.core.text import clean_text
from evalstack.datasets.files import _open_text, jsonl_records

LABEL_FORMATS = ("evalstack", "llmbar", "summac", "unieval", "topical_chat", "xsum_hallucination")

_POINTWISE_KEYS = ("answer", "human", "model")
_PAIRWISE_KEYS = ("answer_a", "answer_b", "preference", "model_a", "model_b")
_COMMON_KEYS = ("id", "input", "reference", "source", "category")
_EVALSTACK_KEYS = _COMMON_KEYS + _POINTWISE_KEYS + _PAIRWISE_KEYS
_PREFERENCES = {"a": "a", "b": "b", "tie": "tie", "1": "a", "2": "b"}
_SUMMARIZE = "Summarize the document."
_CONTINUE = "Continue the dialogue."
# Human values this close together are one level (averaged ratings such as 2.3333333333).
_LEVEL_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class LabelItem:
    """One human-labelled item: a rated answer (pointwise) or a preference (pairwise).

    Attributes:
        id: the item's id, unique in its file.
        input: the question or instruction ("" when there is none, as for summaries).
        answer: pointwise: the answer the human rated.
        human: pointwise: the human score, on the labels' ``scale``.
        answer_a: pairwise: the first answer.
        answer_b: pairwise: the second answer.
        preference: pairwise: the human preference, ``"a"``, ``"b"`` or ``"tie"``.
        reference: a reference answer, when the data has one.
        source: the source document (summaries) or dialogue context.
        model: pointwise: the model that wrote ``answer`` (for self-preference).
        model_a: pairwise: the model that wrote ``answer_a``.
        model_b: pairwise: the model that wrote ``answer_b``.
        category: a group for breakdowns, such as the source dataset.

    Examples:
        >>> LabelItem(id="1", input="2+2?", answer="4", human=5.0).human
        5.0
    """

    id: str
    input: str
    answer: str | None = None
    human: float | None = None
    answer_a: str | None = None
    answer_b: str | None = None
    preference: Literal["a", "b", "tie"] | None = None
    reference: str | None = None
    source: str | None = None
    model: str | None = None
    model_a: str | None = None
    model_b: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class HumanLabels:
    """A set of human-labelled items, all pointwise or all pairwise.

    Attributes:
        kind: ``"pointwise"`` (each item has ``answer`` and ``human``) or ``"pairwise"``
            (each has ``answer_a``, ``answer_b`` and ``preference``).
        items: the items, in file order.
        scale: pointwise: the ``(min, max)`` of the human scale; ``None`` for pairwise.
        levels: pointwise: the distinct human values in the file, sorted, together with
            the two ends of ``scale``; ``None`` for pairwise. A judge's score is mapped to
            the nearest of these to compare it with the human one.
        name: a short name for reports, such as ``"llmbar/Natural"`` or ``"summeval"``.
        notes: what reading the file left out, and why (shown in the validation report).

    Examples:
        >>> item = LabelItem(id="1", input="", answer="x", human=1.0)
        >>> HumanLabels("pointwise", (item,), (0.0, 1.0), (0.0, 1.0), "demo").kind
        'pointwise'
    """

    kind: Literal["pointwise", "pairwise"]
    items: tuple[LabelItem, ...]
    scale: tuple[float, float] | None
    levels: tuple[float, ...] | None
    name: str
    notes: tuple[str, ...] = ()


def load_labels(
    path: str | Path,
    format: str = "auto",
    *,
    limit: int | None = None,
    scale: tuple[float, float] | None = None,
    documents: str | Path | None = None,
) -> HumanLabels:
    """Read human labels from a file in one of :data:`LABEL_FORMATS`.

    ``format="auto"`` picks the format from the file: ``.jsonl`` (or ``.ndjson``) is
    ``evalstack``; a JSON list of items with ``output_1`` is ``llmbar``; a JSON object whose
    values have ``claim`` and ``document`` is ``summac``; a JSON list with
    ``system_output`` and ``scores.consistency`` is ``unieval``, and with
    ``scores.overall`` is ``topical_chat``.

    How the formats map onto :class:`LabelItem`:

    * ``evalstack``: field for field. ``preference`` also accepts ``1`` (``"a"``) and
      ``2`` (``"b"``); ``id`` defaults to the line number. Pointwise and pairwise lines
      cannot be mixed in one file; unknown keys are an error.
    * ``llmbar``: pairwise; ``input``, ``output_1`` -> ``answer_a``, ``output_2`` ->
      ``answer_b``, ``label`` 1|2 -> ``preference`` ``"a"|"b"``; the id is the item's
      0-based position in the list.
    * ``summac``: pointwise on the scale (0, 1); ``claim`` -> ``answer``, ``document`` ->
      ``source``, ``label`` -> ``human`` (1 = consistent), ``model_name`` -> ``model``,
      ``dataset`` (or ``origin``) -> ``category``, the key -> ``id``; ``input`` is
      "Summarize the document.".
    * ``unieval``: pointwise on the scale (0, 1); ``system_output`` -> ``answer``,
      ``source`` -> ``source``, ``scores.consistency`` (the share of annotators who found
      the summary consistent) -> ``human``, ``system_id`` -> ``model``; ``input`` is
      "Summarize the document.".
    * ``topical_chat``: pointwise, ``scores.overall`` -> ``human`` (1-5, averaged over
      annotators, so in thirds); ``source`` (the dialogue history) plus ``"\\n\\nFact: "``
      plus ``context`` -> ``source``, ``system_output`` -> ``answer``, ``system_id`` ->
      ``model``; ``input`` is "Continue the dialogue.".
    * ``xsum_hallucination`` (a ``.csv`` with a ``hallucination_type`` column; auto-detected):
      pointwise on the scale (0, 1), one item per document and system; ``human`` is the
      share of the annotators who marked no hallucinated span (``hallucination_type``
      ``NULL``), as the paper's "faithful" score; ``summary`` -> ``answer``, ``system`` ->
      ``model`` and ``category``. The articles come from ``documents``: a SummaC
      ``xsumfaith.json`` (records with ``bbcid`` and ``document``) or a JSONL file of
      ``{bbcid, document}``. Summaries whose article is not there are left out, and counted
      in ``notes``.

    Args:
        path: the label file.
        format: one of :data:`LABEL_FORMATS`, or ``"auto"``.
        limit: keep only the first ``limit`` items (in file order). The scale and levels
            still come from the whole file, so a sample is judged on the full scale.
        scale: pointwise: the ``(min, max)`` of the human scale. ``None`` uses the
            format's own scale (0-1 for ``summac`` and ``unieval``) or, for ``evalstack``
            and ``topical_chat``, the smallest and largest human score in the file.
        documents: ``xsum_hallucination``: the file holding the source articles.

    Returns:
        The labels, ``kind`` telling pointwise from pairwise.

    Raises:
        ConfigError: the file is missing, its format unknown or malformed (the message
            names ``file:line`` or the item, and the field), it has no items, a human
            score lies outside ``scale``, or ``limit`` or ``scale`` are invalid.

    Examples:
        >>> import json, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl"
        >>> rows = [{"input": "2+2?", "answer": "4", "human": 5},
        ...         {"input": "2+2?", "answer": "5", "human": 1}]
        >>> _ = path.write_text("".join(json.dumps(r) + "\\n" for r in rows))
        >>> labels = load_labels(path, scale=(1, 5))
        >>> (labels.kind, len(labels.items), labels.scale, labels.levels)
        ('pointwise', 2, (1.0, 5.0), (1.0, 5.0))
        >>> labels.items[1].id
        '2'
    """
    p = Path(path)
    if format != "auto" and format not in LABEL_FORMATS:
        raise ConfigError(
            f"Unknown label format {format!r}. Expected 'auto' or one of "
            f"{', '.join(LABEL_FORMATS)}."
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a whole number of items, at least 1; got {limit!r}.")
    given_scale = _check_scale(scale)
    if not p.is_file():
        raise ConfigError(
            f"Label file not found: {p}. Expected a JSONL file of labelled items or a JSON "
            f"file in one of the formats {', '.join(LABEL_FORMATS)}."
        )
    notes: tuple[str, ...] = ()
    if format == "evalstack" or (format == "auto" and p.suffix.lower() in (".jsonl", ".ndjson")):
        kind, items = _read_evalstack(p)
        fmt = "evalstack"
    elif format == "xsum_hallucination" or (format == "auto" and p.suffix.lower() == ".csv"):
        from evalstack.datasets.xsum_labels import read_xsum_hallucination

        kind, items, notes = read_xsum_hallucination(p, documents)
        fmt = "xsum_hallucination"
    else:
        data = _read_json(p)
        fmt = _detect(p, data) if format == "auto" else format
        kind, items = _READERS[fmt](p, data)
    if not items:
        raise ConfigError(f"{p} holds no labelled items. Expected at least one.")
    name = _name(p, fmt)
    if kind == "pairwise":
        if given_scale is not None:
            raise ConfigError(
                f"scale was given as {scale!r}, but {p} holds pairwise preferences, which "
                "have no scale. Drop the scale."
            )
        kept = items if limit is None else items[:limit]
        return HumanLabels("pairwise", tuple(item for item, _ in kept), None, None, name, notes)
    fixed = given_scale or _FIXED_SCALES.get(fmt)
    final_scale = fixed or _infer_scale(p, items)
    _check_in_scale(p, items, final_scale, given=given_scale is not None)
    levels = scale_levels([item.human for item, _ in items if item.human is not None], final_scale)
    kept = items if limit is None else items[:limit]
    return HumanLabels("pointwise", tuple(item for item, _ in kept), final_scale, levels, name,
                       notes)


# --- evalstack JSONL -------------------------------------------------------------------


def _read_evalstack(path: Path) -> tuple[str, list[tuple[LabelItem, str]]]:
    items: list[tuple[LabelItem, str]] = []
    kind: str | None = None
    first_line = 0
    seen: dict[str, int] = {}
    example = 'e.g. {"input": "2+2?", "answer": "4", "human": 5}.'
    for lineno, record in jsonl_records(path, example, ConfigError):
        where = f"{path}:{lineno}"
        item, item_kind = _evalstack_item(record, where, lineno)
        if kind is None:
            kind, first_line = item_kind, lineno
        elif item_kind != kind:
            raise ConfigError(
                f"{where}: a {item_kind} item, but line {first_line} was {kind}. Expected "
                f"every line of a label file to be {kind} ("
                + ("'answer' + 'human'" if kind == "pointwise"
                   else "'answer_a' + 'answer_b' + 'preference'")
                + "). Put pointwise scores and pairwise preferences in separate files."
            )
        if item.id in seen:
            raise ConfigError(
                f"{where}: field 'id': duplicate id {item.id!r} (first seen on line "
                f"{seen[item.id]}). Expected a unique id per item."
            )
        seen[item.id] = lineno
        items.append((item, where))
    return kind or "pointwise", items


def _evalstack_item(record: Any, where: str, lineno: int) -> tuple[LabelItem, str]:
    if not isinstance(record, Mapping):
        raise ConfigError(
            f"{where}: expected a JSON object; received {_kind_of(record)} {_preview(record)}."
        )
    for key in record:
        if key not in _EVALSTACK_KEYS:
            close = difflib.get_close_matches(str(key), _EVALSTACK_KEYS, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{where}: unknown field {key!r}.{hint} Expected only the fields "
                f"{', '.join(_EVALSTACK_KEYS)}."
            )
    present = {k for k, v in record.items() if v is not None}
    pointwise = present & set(_POINTWISE_KEYS)
    pairwise = present & set(_PAIRWISE_KEYS)
    if pointwise and pairwise:
        raise ConfigError(
            f"{where}: mixes pointwise fields ({', '.join(sorted(pointwise))}) with pairwise "
            f"ones ({', '.join(sorted(pairwise))}). Expected either 'answer' + 'human' or "
            "'answer_a' + 'answer_b' + 'preference'."
        )
    if not pointwise and not pairwise:
        raise ConfigError(
            f"{where}: no label. Expected either 'answer' + 'human' (a pointwise score) or "
            "'answer_a' + 'answer_b' + 'preference' (a pairwise preference)."
        )
    common: dict[str, Any] = {
        "id": _id(record.get("id"), where, str(lineno)),
        "input": _text(record.get("input", ""), where, "input") or "",
        "reference": _text(record.get("reference"), where, "reference"),
        "source": _text(record.get("source"), where, "source"),
        "category": _text(record.get("category"), where, "category"),
    }
    if pointwise:
        for key in ("answer", "human"):
            if key not in present:
                raise ConfigError(f"{where}: missing field {key!r}. A pointwise item needs "
                                  "'answer' (the rated text) and 'human' (its score).")
        item = LabelItem(
            **common,
            answer=_text(record["answer"], where, "answer"),
            human=_number(record["human"], where, "human"),
            model=_text(record.get("model"), where, "model"),
        )
        return item, "pointwise"
    for key in ("answer_a", "answer_b", "preference"):
        if key not in present:
            raise ConfigError(f"{where}: missing field {key!r}. A pairwise item needs "
                              "'answer_a', 'answer_b' and 'preference'.")
    item = LabelItem(
        **common,
        answer_a=_text(record["answer_a"], where, "answer_a"),
        answer_b=_text(record["answer_b"], where, "answer_b"),
        preference=_preference(record["preference"], where, "preference"),
        model_a=_text(record.get("model_a"), where, "model_a"),
        model_b=_text(record.get("model_b"), where, "model_b"),
    )
    return item, "pairwise"


# --- the public datasets' formats ------------------------------------------------------


def _read_json(path: Path) -> Any:
    with _open_text(path) as fh:
        text = fh.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = (" If it holds one JSON object per line, name it .jsonl or pass "
                "format='evalstack'." if exc.msg == "Extra data" else "")
        raise ConfigError(
            f"{path}:{exc.lineno}: invalid JSON at column {exc.colno}: {exc.msg}. Expected a "
            f"JSON file in one of the formats {', '.join(LABEL_FORMATS[1:])}.{hint}"
        ) from None


def _detect(path: Path, data: Any) -> str:
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        first = data[0]
        if "output_1" in first:
            return "llmbar"
        scores = first.get("scores")
        if "system_output" in first and isinstance(scores, Mapping):
            if "consistency" in scores:
                return "unieval"
            if "overall" in scores:
                return "topical_chat"
    if isinstance(data, Mapping) and data:
        first_value = next(iter(data.values()))
        if isinstance(first_value, Mapping) and {"claim", "document"} <= set(first_value):
            return "summac"
    raise ConfigError(
        f"Cannot tell the label format of {path}: received {_kind_of(data)} "
        f"{_preview(data)}. Expected one of: evalstack (.jsonl, one item per line), llmbar "
        "(a JSON list of {input, output_1, output_2, label}), summac (a JSON object of "
        "{document, claim, label}), unieval (a JSON list of {source, system_output, "
        "scores: {consistency}}), topical_chat (the same with scores: {overall}), "
        "xsum_hallucination (the .csv of Maynez et al., with --documents). Pass --format "
        "(format= in Python) to choose one."
    )


def _json_items(path: Path, data: Any, fmt: str, shape: str) -> Iterator[tuple[str, Any, str]]:
    """(where, record, default id) for each item of a JSON list (or object, for summac)."""
    if fmt == "summac":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a JSON object {shape}; received "
                              f"{_kind_of(data)} {_preview(data)}.")
        for key, record in data.items():
            yield f"{path}: item {key!r}", record, str(key)
        return
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list {shape}; received {_kind_of(data)} "
                          f"{_preview(data)}.")
    for index, record in enumerate(data):
        yield f"{path}: item [{index}]", record, str(index)


def _record(record: Any, where: str, required: tuple[str, ...], shape: str) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise ConfigError(f"{where}: expected a JSON object {shape}; received "
                          f"{_kind_of(record)} {_preview(record)}.")
    for key in required:
        if record.get(key) is None:
            raise ConfigError(f"{where}: missing field {key!r}. Expected an object {shape}.")
    return record


def _read_llmbar(path: Path, data: Any) -> tuple[str, list[tuple[LabelItem, str]]]:
    shape = "of {input, output_1, output_2, label: 1|2}"
    items = []
    for where, raw, default_id in _json_items(path, data, "llmbar", shape):
        record = _record(raw, where, ("input", "output_1", "output_2", "label"), shape)
        label = record["label"]
        if isinstance(label, bool) or str(label).strip() not in ("1", "2"):
            raise ConfigError(f"{where}: field 'label' must be 1 (output_1 is better) or 2 "
                              f"(output_2 is better); received {_preview(label)}.")
        items.append((LabelItem(
            id=default_id,
            input=_text(record["input"], where, "input") or "",
            answer_a=_text(record["output_1"], where, "output_1"),
            answer_b=_text(record["output_2"], where, "output_2"),
            preference="a" if str(label).strip() == "1" else "b",
        ), where))
    return "pairwise", items


def _read_summac(path: Path, data: Any) -> tuple[str, list[tuple[LabelItem, str]]]:
    shape = "of {document, claim, label: 0|1, model_name?, dataset?}"
    items = []
    for where, raw, default_id in _json_items(path, data, "summac", shape):
        record = _record(raw, where, ("document", "claim", "label"), shape)
        human = _number(record["label"], where, "label", numeric_text=True)
        if human not in (0.0, 1.0):
            raise ConfigError(f"{where}: field 'label' must be 0 (inconsistent) or 1 "
                              f"(consistent); received {_preview(record['label'])}.")
        items.append((LabelItem(
            id=default_id,
            input=_SUMMARIZE,
            answer=_text(record["claim"], where, "claim"),
            human=human,
            source=_text(record["document"], where, "document"),
            model=_text(record.get("model_name"), where, "model_name"),
            category=_text(record.get("dataset") or record.get("origin"), where, "dataset"),
        ), where))
    return "pointwise", items


def _read_unieval(path: Path, data: Any) -> tuple[str, list[tuple[LabelItem, str]]]:
    shape = "of {source, system_output, system_id, scores: {consistency}}"
    items = []
    for where, raw, default_id in _json_items(path, data, "unieval", shape):
        record = _record(raw, where, ("source", "system_output", "scores"), shape)
        human = _score(record, where, "consistency")
        items.append((LabelItem(
            id=default_id,
            input=_SUMMARIZE,
            answer=_text(record["system_output"], where, "system_output"),
            human=human,
            source=_text(record["source"], where, "source"),
            model=_text(record.get("system_id"), where, "system_id"),
        ), where))
    return "pointwise", items


def _read_topical_chat(path: Path, data: Any) -> tuple[str, list[tuple[LabelItem, str]]]:
    shape = "of {source, context, system_output, system_id, scores: {overall}}"
    items = []
    for where, raw, default_id in _json_items(path, data, "topical_chat", shape):
        record = _record(raw, where, ("source", "system_output", "scores"), shape)
        history = _text(record["source"], where, "source") or ""
        fact = _text(record.get("context"), where, "context")
        items.append((LabelItem(
            id=default_id,
            input=_CONTINUE,
            answer=_text(record["system_output"], where, "system_output"),
            human=_score(record, where, "overall"),
            source=history if fact is None else f"{history}\n\nFact: {fact}",
            model=_text(record.get("system_id"), where, "system_id"),
        ), where))
    return "pointwise", items


_READERS = {
    "llmbar": _read_llmbar,
    "summac": _read_summac,
    "unieval": _read_unieval,
    "topical_chat": _read_topical_chat,
}
_FIXED_SCALES: dict[str, tuple[float, float]] = {"summac": (0.0, 1.0), "unieval": (0.0, 1.0),
                                                 "xsum_hallucination": (0.0, 1.0)}


def _score(record: Mapping[str, Any], where: str, key: str) -> float:
    scores = record["scores"]
    if not isinstance(scores, Mapping) or key not in scores:
        raise ConfigError(f"{where}: field 'scores' must be an object with a {key!r} score; "
                          f"received {_preview(scores)}.")
    return _number(scores[key], where, f"scores.{key}")


# --- scales and levels -----------------------------------------------------------------


def _check_scale(scale: Any) -> tuple[float, float] | None:
    if scale is None:
        return None
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError(
            f"scale must be two numbers (min, max) with min < max, such as (1, 5); got "
            f"{scale!r}."
        )
    return (lo, hi)


def _infer_scale(path: Path, items: list[tuple[LabelItem, str]]) -> tuple[float, float]:
    values = [item.human for item, _ in items if item.human is not None]
    lo, hi = min(values), max(values)
    if not lo < hi:
        raise ConfigError(
            f"Cannot infer the human scale of {path}: every human score is {lo:g}. Pass the "
            "scale explicitly, e.g. scale=(1, 5) (--scale 1 5)."
        )
    return (float(lo), float(hi))


def _check_in_scale(path: Path, items: list[tuple[LabelItem, str]],
                    scale: tuple[float, float], given: bool) -> None:
    lo, hi = scale
    for item, where in items:
        assert item.human is not None
        if not lo - _LEVEL_TOLERANCE <= item.human <= hi + _LEVEL_TOLERANCE:
            fix = ("Fix the score or widen the scale." if given
                   else "Pass the scale that fits the data.")
            raise ConfigError(
                f"{where}: field 'human' must lie on the scale {lo:g}-{hi:g}; received "
                f"{item.human:g}. {fix}"
            )


def scale_levels(values: list[float], scale: tuple[float, float]) -> tuple[float, ...]:
    """The distinct values and the scale's ends, sorted; near-equal values merged."""
    out: list[float] = []
    for v in sorted([*values, *scale]):
        if not out or v - out[-1] > _LEVEL_TOLERANCE:
            out.append(float(v))
    return tuple(out)


def _name(path: Path, fmt: str) -> str:
    if fmt == "llmbar":
        return "llmbar/" + (path.parent.name if path.stem == "dataset" else path.stem)
    return path.stem


# --- field helpers ---------------------------------------------------------------------


def _text(value: Any, where: str, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(
        f"{where}: field {field!r} must be a string; received {_kind_of(value)} "
        f"{_preview(value)}."
    )


def _id(value: Any, where: str, default: str) -> str:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{where}: field 'id' must be a string or a whole number; received "
                          f"{_kind_of(value)} {_preview(value)}.")
    return clean_text(str(value))


def _number(value: Any, where: str, field: str, numeric_text: bool = False) -> float:
    if numeric_text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: field {field!r} must be a number; received "
                          f"{_kind_of(value)} {_preview(value)}.")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{where}: field {field!r} must be a finite number; received "
                          f"{value!r}.")
    return number


def _preference(value: Any, where: str, field: str) -> Literal["a", "b", "tie"]:
    key = str(value).strip().lower() if isinstance(value, str | int) else None
    if isinstance(value, bool) or key not in _PREFERENCES:
        raise ConfigError(
            f"{where}: field {field!r} must be 'a', 'b' or 'tie' (or 1 for a, 2 for b); "
            f"received {_preview(value)}."
        )
    found = _PREFERENCES[key]
    return "a" if found == "a" else "b" if found == "b" else "tie"


def _kind_of(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return type(value).__name__


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
