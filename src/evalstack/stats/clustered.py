"""The cluster-robust standard error of a mean, for scores that come in correlated groups.

Several questions about one passage, or several epochs of one sample, are not independent:
treating them as such makes a standard error too small. The cluster-robust ("sandwich")
variance sums the residuals within each cluster first, so only the clusters count as
independent.

References:
    Liang, K.-Y. and Zeger, S. L. (1986). Longitudinal data analysis using generalized
    linear models. Biometrika 73(1), 13-22.

    Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. Journal of Human Resources 50(2), 317-372. Section II.C (the CR1
    small-sample factor G / (G - 1)) and section VI.D (t critical values with G - 1
    degrees of freedom).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.intervals import _as_values, _critical_value, _Groups
from evalstack.stats.result import StatResult


def clustered_se(values: ArrayLike, clusters: ArrayLike, confidence: float = 0.95) -> StatResult:
    """The mean with its cluster-robust (CR1) standard error (Liang & Zeger 1986).

    The variance of the mean is ``G / (G - 1) * sum_g (sum_{i in g} (x_i - mean))^2 / n^2``
    over ``G`` clusters, the CR1 estimator that ``statsmodels`` uses for an intercept-only
    OLS with ``cov_type="cluster"``. The interval is ``mean +/- t_{G-1} * se``, with ``G - 1``
    degrees of freedom (Cameron & Miller 2015), which keeps it honest with few clusters.
    With one value per cluster, ``se`` is the usual ``sd / sqrt(n)``.

    Args:
        values: a one-dimensional array of finite numbers.
        clusters: one cluster label per value (any labels numpy can sort).
        confidence: the two-sided confidence level, strictly between 0 and 1.

    Returns:
        The mean with ``se`` and its interval; ``method`` is ``"clustered_se"`` and ``n``
        the number of values. With a single cluster the standard error is not identified,
        so ``se`` and the bounds are ``nan``. All fields but ``n`` are ``nan`` when
        ``values`` is empty.

    Raises:
        ValueError: ``values`` is not one-dimensional or holds non-finite numbers,
            ``clusters`` has a different length, or ``confidence`` is outside (0, 1).
        TypeError: ``clusters`` is ``None``.

    Examples:
        >>> r = clustered_se([1.0, 1.0, 0.0, 0.0, 1.0, 0.0], clusters=[0, 0, 1, 1, 2, 2])
        >>> (r.estimate, round(r.se, 4), r.method)
        (0.5, 0.2887, 'clustered_se')
    """
    _critical_value(confidence)
    if clusters is None:
        raise TypeError(
            "clusters must hold one label per value; got None. Use mean_ci or bootstrap_ci "
            "for independent values."
        )
    x = _as_values(values)
    groups = _Groups.build(clusters, x)
    if x.size == 0:
        return StatResult(math.nan, math.nan, math.nan, 0, "clustered_se", se=math.nan)
    mean, se, n_clusters = _cluster_mean_se(x, groups)
    if n_clusters < 2:
        return StatResult(mean, math.nan, math.nan, int(x.size), "clustered_se", se=math.nan)
    half = _t_quantile(1 - (1 - confidence) / 2, n_clusters - 1) * se
    return StatResult(mean, mean - half, mean + half, int(x.size), "clustered_se", se=se)


# --- helpers shared with the paired tests ------------------------------------------------


def _cluster_mean_se(x: np.ndarray, groups: _Groups) -> tuple[float, float, int]:
    """The mean, its CR1 standard error (``nan`` for one cluster) and the cluster count."""
    n_clusters = int(groups.sizes.size)
    mean = float(x.mean())
    if n_clusters < 2:
        return mean, math.nan, n_clusters
    resid = np.bincount(groups.inverse, weights=x - mean, minlength=n_clusters)
    var = n_clusters / (n_clusters - 1) * float(np.dot(resid, resid)) / (x.size * x.size)
    return mean, math.sqrt(var), n_clusters


def _t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (scipy, lazily)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, q))


def _t_sf(t: float, df: float) -> float:
    """The upper tail ``P(T > t)`` of Student's t with ``df`` degrees of freedom."""
    from scipy.special import stdtr

    return float(stdtr(df, -t))
