"""Statistics as pure functions: arrays in, small frozen results out.

This package imports nothing from the rest of evalstack (only numpy and the standard
library), so it can be used, and tested, on its own.

Examples:
    >>> from evalstack.stats import wilson_ci
    >>> wilson_ci(45, 50).method
    'wilson'
"""

from evalstack.stats.intervals import bootstrap_ci, mean_ci, wilson_ci
from evalstack.stats.passk import PassAtK, pass_at_k, pass_at_k_by_problem
from evalstack.stats.result import StatResult

__all__ = [
    "PassAtK",
    "StatResult",
    "bootstrap_ci",
    "mean_ci",
    "pass_at_k",
    "pass_at_k_by_problem",
    "wilson_ci",
]
