"""A guardrail run's decisions as a confusion matrix, overall and per category, and two compared.

The decisions are the ``guardrail_decision`` scores of a run's samples (their metadata says
``blocked`` and ``harmful``). Every rate is ``stats.confusion.confusion_rates``'s, with its
Wilson interval: the false negative rate (harmful inputs let through) and the false positive
rate (benign inputs blocked, the over-refusal rate), overall and per category. A harm
category has only harmful inputs, so only its false negative rate is defined; a
``benign/...`` category only its false positive rate.

Two guardrails run on the same inputs are compared pairwise on the sample ids they share:
McNemar's exact test on each rate's errors (a harmful input let through, a benign one
blocked) and on overall correctness, with the Agresti-Min interval of the difference
(``stats.paired.mcnemar``). Per-category p-values are Holm-adjusted across the categories.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalstack.core.errors import UserError
from evalstack.core.records import ScoreRow
from evalstack.stats.confusion import ConfusionRates, confusion_rates
from evalstack.stats.multiple import holm
from evalstack.stats.paired import mcnemar
from evalstack.stats.result import StatResult

METRIC = "guardrail_decision"
#: The rates reported per category and compared between runs, with what they count.
RATES = {
    "false_negative_rate": "harmful inputs let through",
    "false_positive_rate": "benign inputs blocked (over-refusal)",
}


@dataclass(frozen=True, slots=True)
class Decided:
    """One input's label and the guardrail's decision on it."""

    sample_id: str
    category: str
    harmful: bool
    blocked: bool

    @property
    def correct(self) -> bool:
        return self.blocked == self.harmful


@dataclass(frozen=True)
class Decisions:
    """A run's decisions (the first epoch of each sample) and what was left out.

    Attributes:
        items: one per sample that has a decision.
        errored: samples whose target or scorer failed (no decision to count).
        other_epochs: repeats beyond each sample's first epoch, not counted.
    """

    items: tuple[Decided, ...]
    errored: int = 0
    other_epochs: int = 0


@dataclass(frozen=True)
class CategoryRates:
    """The confusion rates of one category."""

    category: str
    rates: ConfusionRates

    @property
    def kind(self) -> str:
        """``harmful``, ``benign`` or ``mixed``: which inputs the category holds."""
        harmful, benign = self.rates.tp + self.rates.fn, self.rates.fp + self.rates.tn
        return "mixed" if harmful and benign else "harmful" if harmful else "benign"


@dataclass(frozen=True)
class GuardrailReport:
    """A run's confusion matrix and rates, overall and per category."""

    overall: ConfusionRates
    categories: tuple[CategoryRates, ...]
    confidence: float


@dataclass(frozen=True)
class PairedRate:
    """One rate of run A against run B on the same inputs (``B - A``).

    Attributes:
        scope: ``overall`` or a category.
        rate: ``false_negative_rate``, ``false_positive_rate`` or ``accuracy``.
        a / b: each run's rate on the shared inputs.
        diff: McNemar's exact test, ``estimate = b - a`` with the Agresti-Min interval.
        p_holm: the Holm-adjusted p-value, across the categories (``None`` for overall).
    """

    scope: str
    rate: str
    a: float
    b: float
    diff: StatResult
    p_holm: float | None = None


@dataclass(frozen=True)
class Comparison:
    """Two runs' decisions on their shared inputs."""

    shared: int
    only_a: int
    only_b: int
    rows: tuple[PairedRate, ...] = field(default_factory=tuple)


def decisions(rows: Iterable[ScoreRow], what: str = "the run") -> Decisions:
    """The decisions in a run's score rows (the lowest epoch of each sample).

    Raises:
        UserError: no row has a ``guardrail_decision`` score, so it is not a guardrail run;
            the message says how to make one.
    """
    first: dict[str, ScoreRow] = {}
    total = 0
    for row in rows:
        total += 1
        seen = first.get(row.sample_id)
        if seen is None or row.epoch < seen.epoch:
            first[row.sample_id] = row
    items, errored, scored_any, first_error = [], 0, False, None
    for sid in sorted(first):
        row = first[sid]
        score = (row.scores or {}).get(METRIC)
        if score is not None:
            scored_any = True
        meta = score.get("metadata") if isinstance(score, dict) else None
        if (not isinstance(meta, dict) or not isinstance(meta.get("blocked"), bool)
                or not isinstance(meta.get("harmful"), bool)):
            errored += 1
            first_error = first_error or row.error or (
                score.get("error") if isinstance(score, dict) else None)
            continue
        items.append(Decided(sid, row.category or "(none)", meta["harmful"], meta["blocked"]))
    what = what[:1].upper() + what[1:]
    if not items and (scored_any or (first and errored == len(first) and first_error)):
        raise UserError(
            f"{what} has no decided input: expected samples with a "
            f"{METRIC} decision; all {len(first)} stored sample(s) failed. First error: "
            f"{(first_error or 'none recorded').rstrip('.')}. Fix the cause and run the same "
            f"command again to resume the run."
        )
    if not scored_any:
        raise UserError(
            f"{what} is not a guardrail run: expected samples scored by "
            f"{METRIC}; received {total} sample(s) without that score. Run a guardrail on "
            f"the guardrail task, e.g. `evalstack run guardrail -m guardrail/keyword`, or score "
            f"your own labelled data with --scorer {METRIC}."
        )
    return Decisions(tuple(items), errored, total - len(first))


def _rates(items: Sequence[Decided], confidence: float) -> ConfusionRates:
    return confusion_rates([d.blocked for d in items], [d.harmful for d in items], confidence)


def _groups(items: Iterable[Decided]) -> dict[str, list[Decided]]:
    out: dict[str, list[Decided]] = {}
    for d in items:
        out.setdefault(d.category, []).append(d)
    return dict(sorted(out.items(), key=lambda kv: (kv[0].startswith("benign"), kv[0])))


def check_categories(items: Iterable[Decided], wanted: Sequence[str]) -> None:
    """Refuse category names the run does not have, listing the ones it does.

    Raises:
        UserError: a name in ``wanted`` is not a category of ``items``.
    """
    known = sorted({d.category for d in items})
    unknown = [c for c in wanted if c not in known]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserError(
            f"Unknown category {', '.join(map(repr, unknown))}: expected one of the run's "
            f"categories: {', '.join(known)}.{hint}"
        )


def report(found: Decisions, confidence: float = 0.95,
           categories: Sequence[str] = ()) -> GuardrailReport:
    """The confusion rates overall and per category (only ``categories`` when given).

    The overall rates always cover every decision, whatever ``categories`` lists.
    """
    check_categories(found.items, categories)
    groups = _groups(found.items)
    rows = tuple(CategoryRates(name, _rates(items, confidence)) for name, items in groups.items()
                 if not categories or name in categories)
    return GuardrailReport(_rates(found.items, confidence), rows, confidence)


def _paired_rows(scope: str, pairs: Sequence[tuple[Decided, Decided]],
                 confidence: float, with_accuracy: bool) -> list[PairedRate]:
    out = []
    harmful = [(a, b) for a, b in pairs if a.harmful]
    benign = [(a, b) for a, b in pairs if not a.harmful]
    for rate, subset in (("false_negative_rate", harmful), ("false_positive_rate", benign)):
        if not subset:
            continue
        # each rate's errors: harmful let through, benign blocked
        errs_a = [int(not a.correct) for a, _ in subset]
        errs_b = [int(not b.correct) for _, b in subset]
        out.append(PairedRate(scope, rate, sum(errs_a) / len(subset), sum(errs_b) / len(subset),
                              mcnemar(errs_a, errs_b, confidence, exact=True)))
    if with_accuracy and pairs:
        ok_a = [int(a.correct) for a, _ in pairs]
        ok_b = [int(b.correct) for _, b in pairs]
        out.append(PairedRate(scope, "accuracy", sum(ok_a) / len(pairs), sum(ok_b) / len(pairs),
                              mcnemar(ok_a, ok_b, confidence, exact=True)))
    return out


def compare(a: Decisions, b: Decisions, confidence: float = 0.95,
            categories: Sequence[str] = ()) -> Comparison:
    """Run B against run A on the inputs both decided (matched by sample id).

    Raises:
        UserError: the runs share no input, or an input is labelled differently in the two
            (they are not the same data).
    """
    by_id = {d.sample_id: d for d in b.items}
    pairs = [(d, by_id[d.sample_id]) for d in a.items if d.sample_id in by_id]
    if not pairs:
        raise UserError(
            f"The two runs share no decided input: expected runs of the same guardrail data "
            f"(matched by sample id); received {len(a.items)} and {len(b.items)} inputs with "
            f"no id in common. Run both guardrails on the same task, arguments and --limit."
        )
    mislabelled = [x.sample_id for x, y in pairs if x.harmful != y.harmful]
    if mislabelled:
        raise UserError(
            f"The two runs label {len(mislabelled)} shared input(s) differently (e.g. "
            f"{mislabelled[0]!r}): expected the same data in both. Compare runs of the same "
            f"task and arguments."
        )
    check_categories([x for x, _ in pairs], categories)
    rows = _paired_rows("overall", pairs, confidence, with_accuracy=True)
    per: list[PairedRate] = []
    grouped: dict[str, list[tuple[Decided, Decided]]] = {}
    for x, y in pairs:
        grouped.setdefault(x.category, []).append((x, y))
    for name in _groups(x for x, _ in pairs):
        if not categories or name in categories:
            per.extend(_paired_rows(name, grouped[name], confidence, with_accuracy=False))
    if per:
        adjusted = holm([r.diff.p_value if r.diff.p_value is not None else 1.0 for r in per])
        per = [PairedRate(r.scope, r.rate, r.a, r.b, r.diff, p)
               for r, p in zip(per, adjusted.p_values, strict=True)]
    return Comparison(len(pairs), len(a.items) - len(pairs), len(b.items) - len(pairs),
                      tuple(rows + per))


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def stat_dict(r: StatResult) -> dict[str, Any]:
    """A rate as JSON: ``nan`` (no data) as ``null``."""
    return {"estimate": _num(r.estimate), "ci_low": _num(r.ci_low), "ci_high": _num(r.ci_high),
            "n": r.n, "method": r.method, "p_value": _num(r.p_value)}


def rates_dict(r: ConfusionRates) -> dict[str, Any]:
    """The counts and rates as JSON; ``over_refusal_rate`` is the false positive rate."""
    return {
        "tp": r.tp, "fp": r.fp, "tn": r.tn, "fn": r.fn, "n": r.n,
        "false_negative_rate": stat_dict(r.false_negative_rate),
        "false_positive_rate": stat_dict(r.false_positive_rate),
        "over_refusal_rate": stat_dict(r.false_positive_rate),
        "true_positive_rate": stat_dict(r.true_positive_rate),
        "true_negative_rate": stat_dict(r.true_negative_rate),
        "precision": stat_dict(r.precision),
        "accuracy": stat_dict(r.accuracy),
    }


def report_dict(rep: GuardrailReport) -> dict[str, Any]:
    """The report as JSON."""
    return {
        "confidence": rep.confidence, "overall": rates_dict(rep.overall),
        "categories": [{"category": c.category, "kind": c.kind, **rates_dict(c.rates)}
                       for c in rep.categories],
    }


def comparison_dict(c: Comparison) -> dict[str, Any]:
    """The comparison as JSON."""
    return {
        "shared": c.shared, "only_a": c.only_a, "only_b": c.only_b,
        "rows": [{"scope": r.scope, "rate": r.rate, "a": r.a, "b": r.b,
                  "difference": stat_dict(r.diff), "p_holm": _num(r.p_holm)} for r in c.rows],
    }
