"""Load stored runs' per-sample scores and match two runs sample by sample.

Samples are matched by ``(sample_id, epoch)``. Nothing is dropped silently: samples present in
only one run, and samples that errored in either run, are listed on the ``Pairing`` so that
reports can say how many were left out and which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from evalstack.core.errors import UserError
from evalstack.core.records import RunRecord, ScoreRow

Key = tuple[str, int]
"""A stored sample: ``(sample_id, epoch)``."""

_KIND_ORDER = {"binary": 0, "ordinal": 1, "continuous": 2}


def widest_kind(*kinds: str) -> str:
    """The most general of some score kinds: binary < ordinal < continuous.

    Examples:
        >>> widest_kind("binary", "ordinal"), widest_kind()
        ('ordinal', 'binary')
    """
    return max(kinds, key=lambda k: _KIND_ORDER.get(k, 2)) if kinds else "binary"


@dataclass(frozen=True)
class RunScores:
    """One run's record and what summaries need of each stored sample, by ``(sample_id, epoch)``.

    Examples:
        >>> rs = RunScores.from_rows(None, [ScoreRow("q1", 0, {"acc": {"value": 1.0}}, None,
        ...                                  False, 12.0, 5, 1, 0.0, "math")])
        >>> rs.metric_names(), rs.epochs
        (['acc'], 1)
    """

    run: RunRecord | None
    rows: dict[Key, ScoreRow]

    @classmethod
    def from_rows(cls, run: RunRecord | None, rows: Iterable[ScoreRow]) -> RunScores:
        return cls(run, {(r.sample_id, r.epoch): r for r in rows})

    @property
    def epochs(self) -> int:
        return len({epoch for _, epoch in self.rows}) or 1

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.rows.values():
            for name in row.scores:
                names.setdefault(name)
        return sorted(names)

    def kind_of(self, metric: str) -> str:
        """The metric's score kind as its scorer declared it (``binary`` if never declared)."""
        kinds = {
            row.scores[metric].get("kind", "binary")
            for row in self.rows.values()
            if metric in row.scores
        }
        return widest_kind(*kinds)

    @property
    def run_id(self) -> str:
        return self.run.id if self.run is not None else "?"

    def resolve_metric(self, metric: str | None) -> str:
        """``metric``, or the run's headline metric; a ``UserError`` if the run lacks it."""
        names = self.metric_names()
        name = metric or primary_metric(self.run, names)
        if name is None or name not in names:
            raise UserError(
                f"Run {self.run_id} has no scores for metric {name!r}; scored metrics: "
                f"{', '.join(names) or 'none'}. Pass one of those with --metric."
            )
        return name

    def values(self, metric: str) -> dict[Key, float]:
        """Each successful sample's value of ``metric``."""
        out: dict[Key, float] = {}
        for key, row in self.rows.items():
            if row.error is None and metric in row.scores:
                value = row.scores[metric].get("value")
                if value is not None:
                    out[key] = float(value)
        return out


def load_scores(store: object, run: RunRecord) -> RunScores:
    """Read a stored run's per-sample scores (everything but the large text columns)."""
    return RunScores.from_rows(run, store.iter_scores(run.id))  # type: ignore[attr-defined]


def primary_metric(run: RunRecord | None, names: Sequence[str]) -> str | None:
    """The run's headline metric: its task's first scorer, when that scorer left scores."""
    if run is not None:
        for scorer in run.task_spec.get("scorers", []) or []:
            name = scorer.get("name") if isinstance(scorer, dict) else None
            if name in names:
                return name
            break
    return names[0] if names else None


@dataclass(frozen=True)
class MetricPairs:
    """One metric's values on the samples both runs scored, in matching order.

    Attributes:
        metric: the scorer name.
        kind: ``binary``, ``ordinal`` or ``continuous`` (the more general of the two runs').
        keys: ``(sample_id, epoch)`` of each pair, sorted.
        a / b: the two runs' values, aligned with ``keys``.
        categories: each pair's category (from run A), or ``None``.
    """

    metric: str
    kind: str
    keys: list[Key]
    a: np.ndarray
    b: np.ndarray
    categories: list[str | None]

    @property
    def n(self) -> int:
        return len(self.keys)

    @property
    def items(self) -> int:
        return len({sid for sid, _ in self.keys})

    @property
    def epochs(self) -> int:
        return len({epoch for _, epoch in self.keys}) or 1

    @property
    def clusters(self) -> np.ndarray | None:
        """Sample ids as cluster labels when a sample was repeated, else ``None``."""
        if self.items == self.n:
            return None
        return np.array([sid for sid, _ in self.keys], dtype=object)

    def subset(self, mask: np.ndarray) -> MetricPairs:
        idx = np.flatnonzero(mask)
        return MetricPairs(
            self.metric, self.kind, [self.keys[i] for i in idx], self.a[idx], self.b[idx],
            [self.categories[i] for i in idx],
        )

    def by_category(self) -> dict[str, MetricPairs]:
        cats = np.array([c if c is not None else "" for c in self.categories], dtype=object)
        return {
            str(c): self.subset(cats == c) for c in sorted(set(cats.tolist())) if c != ""
        }

    def per_item(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Each sample's values averaged over its epochs: (sample ids, a, b)."""
        ids = sorted({sid for sid, _ in self.keys})
        index = {sid: i for i, sid in enumerate(ids)}
        pos = np.array([index[sid] for sid, _ in self.keys], dtype=int)
        counts = np.bincount(pos, minlength=len(ids))
        a = np.bincount(pos, weights=self.a, minlength=len(ids)) / counts
        b = np.bincount(pos, weights=self.b, minlength=len(ids)) / counts
        return ids, a, b


@dataclass(frozen=True)
class Pairing:
    """Two runs matched sample by sample.

    Attributes:
        only_a / only_b: samples stored in one run only (e.g. a different ``--limit``).
        errored: samples that errored in either run, so have no score to compare.
        metrics: metric name -> its matched values (metrics scored in both runs).
        only_in_a / only_in_b: metric names scored in one run only.
    """

    a: RunScores
    b: RunScores
    only_a: list[Key]
    only_b: list[Key]
    errored: list[Key]
    metrics: dict[str, MetricPairs] = field(default_factory=dict)
    metrics_only_a: list[str] = field(default_factory=list)
    metrics_only_b: list[str] = field(default_factory=list)


def pair_runs(a: RunScores, b: RunScores, metrics: Sequence[str] | None = None) -> Pairing:
    """Match two runs by ``(sample_id, epoch)``, metric by metric.

    Raises:
        UserError: a requested metric is not scored in both runs.

    Examples:
        >>> def row(sid, v):
        ...     return ScoreRow(sid, 0, {"acc": {"value": v}}, None, False, None, None, None,
        ...                     0.0, None)
        >>> p = pair_runs(RunScores.from_rows(None, [row("1", 1.0), row("2", 0.0)]),
        ...               RunScores.from_rows(None, [row("2", 1.0), row("3", 1.0)]))
        >>> p.only_a, p.only_b, p.metrics["acc"].b.tolist()
        ([('1', 0)], [('3', 0)], [1.0])
    """
    keys_a, keys_b = set(a.rows), set(b.rows)
    common = sorted(keys_a & keys_b)
    errored = [k for k in common if a.rows[k].error is not None or b.rows[k].error is not None]
    names_a, names_b = a.metric_names(), b.metric_names()
    shared = [n for n in names_a if n in names_b]
    if metrics:
        missing = [m for m in metrics if m not in shared]
        if missing:
            raise UserError(
                f"Metric(s) {', '.join(map(repr, missing))} are not scored in both runs; "
                f"metrics scored in both: {', '.join(shared) or 'none'}. "
                "Pass one of those with --metric."
            )
        shared = list(metrics)
    pairs: dict[str, MetricPairs] = {}
    for name in shared:
        va, vb = a.values(name), b.values(name)
        keys = [k for k in common if k in va and k in vb]
        kind = widest_kind(a.kind_of(name), b.kind_of(name))
        xa = np.array([va[k] for k in keys], dtype=float)
        xb = np.array([vb[k] for k in keys], dtype=float)
        if kind == "binary" and not bool(np.all(np.isin(xa, (0, 1)) & np.isin(xb, (0, 1)))):
            kind = "continuous"
        cats = [a.rows[k].category for k in keys]
        pairs[name] = MetricPairs(name, kind, keys, xa, xb, cats)
    return Pairing(
        a, b,
        only_a=sorted(keys_a - keys_b),
        only_b=sorted(keys_b - keys_a),
        errored=errored,
        metrics=pairs,
        metrics_only_a=[n for n in names_a if n not in names_b],
        metrics_only_b=[n for n in names_b if n not in names_a],
    )


def mismatches(a: RunRecord, b: RunRecord) -> list[str]:
    """What makes two runs not comparable sample by sample: task, task version, dataset.

    Examples:
        >>> from types import SimpleNamespace as NS
        >>> mismatches(NS(task_name="t", task_version=1, dataset_hash="aa", dataset_name="d"),
        ...            NS(task_name="t", task_version=2, dataset_hash="aa", dataset_name="d"))
        ['task version differs: 1 vs 2']
    """
    out = []
    if a.task_name != b.task_name:
        out.append(f"task differs: {a.task_name!r} vs {b.task_name!r}")
    if a.task_version != b.task_version:
        out.append(f"task version differs: {a.task_version} vs {b.task_version}")
    if a.dataset_hash != b.dataset_hash:
        out.append(
            f"dataset hash differs: {a.dataset_hash[:12]} ({a.dataset_name}) vs "
            f"{b.dataset_hash[:12]} ({b.dataset_name})"
        )
    return out
