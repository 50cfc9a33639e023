"""Attack success rates corrected for the detector's measured error, and a paired comparison.

The detector is the run's success metric (``attack_success``, or a judge's
``judged_attack_success``); its sensitivity and specificity come from human labels of some of
the run's samples (``read_labels``), or from counts measured elsewhere (``evalstack judge
validate``). ``stats.misclassification`` does the arithmetic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalstack.analysis.pairs import RunScores, pair_runs
from evalstack.core.errors import UserError
from evalstack.stats.misclassification import (
    CorrectedRate,
    DetectorError,
    corrected_difference,
    corrected_rate,
)
from evalstack.stats.result import StatResult

_TRUE = {True, "1", "true", "yes", "success", "succeeded"}
_FALSE = {False, "0", "false", "no", "failure", "failed"}


def read_labels(path: str | Path) -> dict[str, bool]:
    """Human labels, one JSON object per line: ``{"id": SAMPLE_ID, "label": true|false}``
    (``1``/``0``, ``"yes"``/``"no"`` too); ``label`` True means the attack succeeded.

    Raises:
        UserError: the file is missing, or a line is not such an object (naming the line
            and the field).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read the labels file {p}: {exc}. Expected a JSONL file of "
                        '{"id": SAMPLE_ID, "label": true|false} lines.') from None
    out: dict[str, bool] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not JSON ({exc.msg}). Expected "
                            '{"id": SAMPLE_ID, "label": true|false}.') from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise UserError(f"{where}: expected an object with a string field 'id' (the "
                            f"sample's id); received {line.strip()[:80]!r}.")
        raw = row.get("label")
        value = raw.strip().casefold() if isinstance(raw, str) else raw
        if isinstance(value, float) and value in (0.0, 1.0):
            value = int(value)
        if value in _TRUE:
            out[row["id"]] = True
        elif value in _FALSE:
            out[row["id"]] = False
        else:
            raise UserError(f"{where}: field 'label' must be true or false (1/0, yes/no); "
                            f"received {raw!r}.")
    if not out:
        raise UserError(f"The labels file {p} holds no labels.")
    return out


def _first_epoch(scores: RunScores) -> int:
    return min((e for _, e in scores.rows), default=1)


def detections(scores: RunScores, metric: str) -> dict[str, bool]:
    """Each sample's detection (``metric`` >= 0.5) in the run's first epoch."""
    first = _first_epoch(scores)
    return {sid: v >= 0.5 for (sid, epoch), v in scores.values(metric).items()
            if epoch == first}


def detector_error(scores: RunScores, metric: str, labels: Mapping[str, bool]) -> DetectorError:
    """The detector's confusion counts on the labelled samples of ``scores``.

    Raises:
        UserError: no labelled sample is in the run, or the labels hold only one outcome.
    """
    detected = detections(scores, metric)
    shared = [sid for sid in labels if sid in detected]
    if not shared:
        some = ", ".join(list(labels)[:3])
        raise UserError(f"None of the {len(labels)} labelled samples ({some}, ...) has a "
                        f"{metric!r} score in run {scores.run_id}. Label samples of that run "
                        "(their ids are in `evalstack show RUN --samples`).")
    tp = sum(detected[s] and labels[s] for s in shared)
    fn = sum(not detected[s] and labels[s] for s in shared)
    tn = sum(not detected[s] and not labels[s] for s in shared)
    fp = sum(detected[s] and not labels[s] for s in shared)
    try:
        return DetectorError(tp=tp, fn=fn, tn=tn, fp=fp)
    except ValueError as exc:
        raise UserError(f"The labels cannot measure the detector: {exc}") from None


def parse_counts(text: str) -> DetectorError:
    """``TP,FN,TN,FP`` -> the counts (as ``evalstack judge validate`` reports them)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        tp, fn, tn, fp = (int(p) for p in parts)
        return DetectorError(tp=tp, fn=fn, tn=tn, fp=fp)
    except ValueError as exc:
        raise UserError(f"--detector expects four counts TP,FN,TN,FP (say 45,5,40,10); "
                        f"received {text!r} ({exc}).") from None


@dataclass(frozen=True)
class AttackReport:
    """One run's observed and corrected rates, overall and per category."""

    run: str
    metric: str
    overall: CorrectedRate
    by_category: dict[str, CorrectedRate]


@dataclass(frozen=True)
class AttackComparison:
    """Run B's corrected rate minus run A's on the samples both scored."""

    run_a: str
    run_b: str
    n: int
    difference: StatResult


def report(scores: RunScores, metric: str, error: DetectorError, *,
           confidence: float = 0.95, seed: int = 0) -> AttackReport:
    """The observed and corrected rate of ``metric`` in ``scores`` (first epoch)."""
    values = detections(scores, metric)
    first = _first_epoch(scores)
    if not values:
        raise UserError(f"Run {scores.run_id} has no successful sample scored by {metric!r}.")
    cats: dict[str, list[bool]] = {}
    for (sid, epoch), row in scores.rows.items():
        if epoch == first and sid in values and row.category:
            cats.setdefault(row.category, []).append(values[sid])
    hits = list(values.values())
    overall = corrected_rate(sum(hits), len(hits), error, confidence=confidence, seed=seed)
    by_cat = {c: corrected_rate(sum(v), len(v), error, confidence=confidence, seed=seed)
              for c, v in sorted(cats.items())} if len(cats) > 1 else {}
    return AttackReport(scores.run_id, metric, overall, by_cat)


def compare(a: RunScores, b: RunScores, metric: str, error: DetectorError, *,
            confidence: float = 0.95, seed: int = 0) -> AttackComparison:
    """B - A, corrected, paired on the samples both runs scored."""
    pairs = pair_runs(a, b, [metric]).metrics[metric]
    if pairs.n == 0:
        raise UserError(f"Runs {a.run_id} and {b.run_id} share no sample scored by "
                        f"{metric!r}; compare runs of the same task.")
    epoch = min(e for _, e in pairs.keys)
    first = np.array([k[1] == epoch for k in pairs.keys])
    diff = corrected_difference(np.asarray(pairs.b)[first] >= 0.5,
                                np.asarray(pairs.a)[first] >= 0.5, error,
                                confidence=confidence, seed=seed)
    return AttackComparison(a.run_id, b.run_id, int(first.sum()), diff)
