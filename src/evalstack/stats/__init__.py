"""Statistics as pure functions: arrays in, small frozen results out.

This package imports nothing from the rest of evalstack (only numpy, the standard library
and, lazily inside the functions that need it, scipy), so it can be used, and tested, on
its own.

Examples:
    >>> from evalstack.stats import wilson_ci
    >>> wilson_ci(45, 50).method
    'wilson'
"""

from evalstack.stats.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from evalstack.stats.clustered import clustered_se
from evalstack.stats.confusion import ConfusionRates, confusion_rates
from evalstack.stats.intervals import bootstrap_ci, mean_ci, wilson_ci
from evalstack.stats.multiple import benjamini_hochberg, holm
from evalstack.stats.noninferiority import noninferiority
from evalstack.stats.paired import (
    mcnemar,
    paired_bootstrap,
    paired_permutation,
    wilcoxon_signed_rank,
)
from evalstack.stats.passk import PassAtK, pass_at_k, pass_at_k_by_problem
from evalstack.stats.power import (
    minimum_detectable_effect,
    sample_size_noninferiority,
    sample_size_paired,
    sample_size_unpaired,
)
from evalstack.stats.ppi import ppi_mean
from evalstack.stats.result import Adjusted, PowerResult, StatResult
from evalstack.stats.retrieval import (
    average_precision,
    hit_rate_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    retrieval_summary,
)
from evalstack.stats.windows import (
    Cohort,
    WindowStat,
    decline_test,
    retention_cohorts,
    wilson_rate,
    window_at,
    window_index,
    window_start,
    windowed_mean,
    windowed_rate,
)

__all__ = [
    "Adjusted",
    "Cohort",
    "ConfusionRates",
    "PassAtK",
    "PowerResult",
    "StatResult",
    "WindowStat",
    "average_precision",
    "benjamini_hochberg",
    "bootstrap_ci",
    "clustered_se",
    "cohen_kappa",
    "confusion_rates",
    "decline_test",
    "fleiss_kappa",
    "hit_rate_at_k",
    "holm",
    "krippendorff_alpha",
    "mcnemar",
    "mean_ci",
    "minimum_detectable_effect",
    "mrr",
    "ndcg_at_k",
    "noninferiority",
    "paired_bootstrap",
    "paired_permutation",
    "pass_at_k",
    "pass_at_k_by_problem",
    "ppi_mean",
    "precision_at_k",
    "recall_at_k",
    "retention_cohorts",
    "retrieval_summary",
    "sample_size_noninferiority",
    "sample_size_paired",
    "sample_size_unpaired",
    "wilcoxon_signed_rank",
    "wilson_ci",
    "wilson_rate",
    "window_at",
    "window_index",
    "window_start",
    "windowed_mean",
    "windowed_rate",
]
