"""The robustness report: an original run against its perturbed variants, item by item.

For each item, the original score and the mean over its variants (every variant run given,
pooled). The drop is ``original - variants``, paired by item: McNemar's exact test when the
metric is binary and each item has one variant, else a paired permutation (sign-flip) test
over items with a bootstrap interval; per category too (categories of at least
``MIN_CATEGORY`` items), with Holm's correction across categories. For binary metrics the
suspect items come from ``stats.contamination.memorisation_posterior``: right in the
original wording, wrong in most variants, with a posterior probability of memorisation of at
least 1/2, and only when the run's drop is itself significant (a clean run flags nothing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from evalstack.analysis.pairs import RunScores
from evalstack.core.errors import UserError
from evalstack.stats.contamination import memorisation_posterior
from evalstack.stats.multiple import holm
from evalstack.stats.paired import mcnemar, paired_permutation
from evalstack.stats.result import StatResult

SUSPECT_POSTERIOR = 0.5
MIN_CATEGORY = 5


@dataclass(frozen=True)
class ItemResult:
    """One item: its original score, its variants' mean, and the memorisation evidence."""

    item_id: str
    category: str | None
    original: float
    variant_mean: float
    variants: int
    variants_right: int
    posterior: float | None = None
    suspect: bool = False


@dataclass(frozen=True)
class Drop:
    """The paired drop ``original - variants`` over one scope (all items, or a category)."""

    scope: str
    n: int
    original: float
    perturbed: float
    drop: StatResult
    p_adjusted: float | None = None

    @property
    def significant(self) -> bool:
        p = self.p_adjusted if self.p_adjusted is not None else self.drop.p_value
        return p is not None and p < 0.05


@dataclass(frozen=True)
class RobustReport:
    metric: str
    original_run: str
    variant_runs: list[tuple[str, str]]  # (run id, perturbation description)
    overall: Drop
    by_perturbation: list[Drop]
    by_category: list[Drop]
    items: list[ItemResult]
    memorised_share: float | None
    unpaired: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def suspects(self) -> list[ItemResult]:
        return sorted((i for i in self.items if i.suspect),
                      key=lambda i: (-(i.posterior or 0.0), i.item_id))


def _by_item(scores: RunScores, metric: str) -> tuple[dict[str, float], dict[str, str | None]]:
    sums: dict[str, list[float]] = defaultdict(list)
    categories: dict[str, str | None] = {}
    for (sample_id, _epoch), value in scores.values(metric).items():
        sums[sample_id].append(value)
        categories[sample_id] = scores.rows[(sample_id, _epoch)].category
    return {k: float(np.mean(v)) for k, v in sums.items()}, categories


def original_id(variant_id: str, originals: Mapping[str, object]) -> str | None:
    """``q1`` for ``q1~rotate2`` when ``q1`` is an original item, else ``None``."""
    head, sep, _ = variant_id.rpartition("~")
    return head if sep and head in originals else None


def _drop(scope: str, orig: np.ndarray, pert: np.ndarray, binary_single: bool,
          seed: int) -> Drop:
    if binary_single:
        test = mcnemar(pert, orig)  # the delta orig - pert
    else:
        test = paired_permutation(pert, orig, rng=np.random.default_rng(seed))
    return Drop(scope, int(orig.size), float(orig.mean()), float(pert.mean()), test)


def robustness(original: RunScores, variants: Sequence[tuple[RunScores, str]],
               metric: str | None = None, seed: int = 0) -> RobustReport:
    """Compare ``original`` with its perturbed ``variants`` runs (see the module docstring).

    Raises:
        UserError: the runs share no items, or lack the metric.
    """
    name = original.resolve_metric(metric)
    orig, categories = _by_item(original, name)
    pooled: dict[str, list[float]] = defaultdict(list)
    per_run: list[tuple[str, dict[str, list[float]]]] = []
    unpaired = 0
    binary = original.kind_of(name) == "binary"
    for scores, label in variants:
        scores.resolve_metric(name)
        binary = binary and scores.kind_of(name) == "binary"
        own: dict[str, list[float]] = defaultdict(list)
        for (sample_id, _epoch), value in scores.values(name).items():
            item = original_id(sample_id, orig)
            if item is None:
                unpaired += 1
                continue
            own[item].append(value)
            pooled[item].append(value)
        per_run.append((label, own))
    ids = sorted(i for i in orig if i in pooled)
    if not ids:
        raise UserError(
            f"The variant runs share no items with run {original.run_id}: their sample ids "
            "should be the original ids followed by ~<perturbation><k>. Pass the variant runs "
            "made from this run (evalstack robust RUN --perturb NAME makes them)."
        )
    single = all(len(pooled[i]) == 1 for i in ids)
    o = np.array([orig[i] for i in ids])
    pm = np.array([float(np.mean(pooled[i])) for i in ids])
    overall = _drop("all", o, pm, binary and single, seed)
    by_pert = []
    for label, values in per_run:
        common = [i for i in ids if i in values]
        if common:
            one = all(len(values[i]) == 1 for i in common)
            by_pert.append(_drop(label, np.array([orig[i] for i in common]),
                                 np.array([float(np.mean(values[i])) for i in common]),
                                 binary and one, seed))
    by_category = _categories(ids, categories, o, pm, binary and single, seed)
    items, share, notes = _items(ids, categories, orig, pooled, o, binary, overall)
    runs = [(scores.run_id, label) for scores, label in variants]
    return RobustReport(name, original.run_id, runs, overall, by_pert, by_category, items,
                        share, unpaired, notes)


def _categories(ids: list[str], categories: Mapping[str, str | None], o: np.ndarray,
                pm: np.ndarray, binary_single: bool, seed: int) -> list[Drop]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(ids):
        groups[categories.get(item) or "(none)"].append(index)
    if len(groups) < 2:
        return []
    drops = [_drop(cat, o[idx], pm[idx], binary_single, seed)
             for cat, idx in sorted(groups.items()) if len(idx) >= MIN_CATEGORY]
    if not drops:
        return []
    p = [d.drop.p_value if d.drop.p_value is not None else 1.0 for d in drops]
    adjusted = holm(p).p_values
    return [Drop(d.scope, d.n, d.original, d.perturbed, d.drop, float(a))
            for d, a in zip(drops, adjusted, strict=True)]


def _items(ids: list[str], categories: Mapping[str, str | None], orig: Mapping[str, float],
           pooled: Mapping[str, list[float]], o: np.ndarray, binary: bool,
           overall: Drop) -> tuple[list[ItemResult], float | None, list[str]]:
    notes = []
    right = [int(round(sum(pooled[i]))) for i in ids]
    counts = [len(pooled[i]) for i in ids]
    posterior: np.ndarray | None = None
    share = None
    if binary:
        fit = memorisation_posterior(o, right, counts)
        posterior, share = fit.posterior, fit.share
        if not (overall.significant and overall.drop.estimate > 0):
            notes.append("The drop is not significant, so no item is flagged as suspect.")
        if max(counts) < 4:
            notes.append(f"Each item has at most {max(counts)} variant(s): too few to tell a "
                         "memorised item from a lucky guess; add variants (shuffle:variants=N, "
                         "typos:variants=N, ...) for item flags.")
    else:
        notes.append("Item flags need a binary metric; this one is not.")
    gate = binary and overall.significant and overall.drop.estimate > 0
    items = []
    for index, item in enumerate(ids):
        post = None if posterior is None else float(posterior[index])
        suspect = bool(gate and orig[item] == 1 and right[index] / counts[index] < 0.5
                       and post is not None and post >= SUSPECT_POSTERIOR)
        items.append(ItemResult(item, categories.get(item), orig[item],
                                float(np.mean(pooled[item])), counts[index], right[index],
                                post, suspect))
    return items, share, notes
