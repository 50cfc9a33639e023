"""Decisions from stored runs: paired comparison, model selection, regression gates, planning.

This layer sits between the store and the reports: it loads runs' per-sample scores, matches
them sample by sample, and applies the tests of ``evalstack.stats``. The CLI commands
``compare``, ``select``, ``gate`` and ``plan`` only render what it returns.
"""

from evalstack.analysis.pairs import (
    MetricPairs,
    Pairing,
    RunScores,
    load_scores,
    mismatches,
    pair_runs,
    primary_metric,
)

__all__ = [
    "MetricPairs",
    "Pairing",
    "RunScores",
    "load_scores",
    "mismatches",
    "pair_runs",
    "primary_metric",
]
