"""Confidence intervals: Wilson's for proportions, the bootstrap for everything else.

Every function is pure: it takes arrays (and, for resampling, an explicit
``numpy.random.Generator``) and returns a frozen ``StatResult``.

References:
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. Journal of the American Statistical Association 22(158), 209-212.

    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
    Hall. Chapter 13 (percentile interval) and chapter 14 (BCa interval, with the
    jackknife estimate of the acceleration, eq. 14.15).

    Davison, A. C. and Hinkley, D. V. (1997). Bootstrap Methods and their Application.
    Cambridge University Press. Section 3.8 (resampling whole clusters of dependent data).
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.result import StatResult

BootstrapMethod = Literal["percentile", "bca"]

_NORMAL = NormalDist()
# Index and gathered-value arrays of one chunk of resamples each hold at most this many
# elements (8 MB apiece as int64/float64), so memory stays flat however large the input.
_CHUNK_ELEMENTS = 1 << 20
# Below this many resampled elements in total, threads cost more than they save.
_PARALLEL_MIN_ELEMENTS = 1 << 24
_MAX_WORKERS = 4
# Data with this few distinct values is resampled as multinomial counts over the values,
# which draws the same distribution as resampling items, orders of magnitude faster.
_MAX_DISTINCT_FOR_COUNTS = 256

_Stat2D = Callable[[np.ndarray], np.ndarray]


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> StatResult:
    """The Wilson score interval for a binomial proportion (Wilson 1927).

    Unlike the normal-approximation ("Wald") interval, it stays inside [0, 1] and keeps
    close to its nominal coverage for small ``n`` and for proportions near 0 or 1.

    Args:
        successes: the number of successes, ``0 <= successes <= n``.
        n: the number of trials.
        confidence: the two-sided confidence level, strictly between 0 and 1.

    Returns:
        The proportion ``successes / n`` with its interval; every field but ``n`` is
        ``nan`` when ``n == 0``. ``method`` is ``"wilson"``.

    Raises:
        ValueError: a count is negative or fractional, ``successes > n``, or
            ``confidence`` is outside (0, 1).

    Examples:
        >>> r = wilson_ci(8, 10)
        >>> (r.estimate, round(r.ci_low, 4), round(r.ci_high, 4))
        (0.8, 0.4902, 0.9433)
    """
    z = _critical_value(confidence)
    k = _as_count(successes, "successes")
    m = _as_count(n, "n")
    if m == 0:
        return StatResult(math.nan, math.nan, math.nan, 0, "wilson")
    if k > m:
        raise ValueError(
            f"successes must be at most n; got successes={k}, n={m}. Count each trial once."
        )
    z2 = z * z
    p = k / m
    denom = 1 + z2 / m
    center = (p + z2 / (2 * m)) / denom
    half = z * math.sqrt(p * (1 - p) / m + z2 / (4 * m * m)) / denom
    # Exact at the edges, where rounding would otherwise leave a bound like 1e-17.
    low = 0.0 if k == 0 else max(0.0, center - half)
    high = 1.0 if k == m else min(1.0, center + half)
    return StatResult(p, min(low, p), max(high, p), m, "wilson")


def bootstrap_ci(
    values: ArrayLike,
    statistic: str | Callable[..., Any] = "mean",
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    clusters: ArrayLike | None = None,
    rng: np.random.Generator | None = None,
    method: BootstrapMethod = "percentile",
) -> StatResult:
    """A bootstrap confidence interval for a statistic of one sample (Efron & Tibshirani 1993).

    ``method="percentile"`` takes the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles of the bootstrap distribution (ch. 13). ``method="bca"`` shifts those
    quantiles by the bias-correction ``z0`` and the jackknife acceleration ``a`` (ch. 14),
    which corrects for bias and skew; it matches ``scipy.stats.bootstrap(method="BCa")``.

    With ``clusters``, whole clusters are resampled instead of items (Davison & Hinkley
    1997, sec. 3.8): use it when items are not independent, such as several questions
    about one passage or several epochs of one sample. The interval is then usually wider.

    Resampling is vectorised and done in chunks of about 8 MB, so memory stays flat;
    large problems with the built-in statistics are spread over a few threads. Results
    depend only on the inputs and ``rng``, never on the number of threads.

    Args:
        values: a one-dimensional array of finite numbers.
        statistic: ``"mean"``, ``"median"``, or a callable. A callable that accepts an
            ``axis`` keyword (like ``numpy.mean``) is called once per chunk of resamples
            with a 2-D array and ``axis=-1``; any other callable is called with each
            resample as a 1-D array and must return a number.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        n_resamples: the number of bootstrap resamples.
        clusters: one cluster label per value (any hashable numpy can sort), or ``None``
            for independent items.
        rng: the random generator; ``None`` uses ``numpy.random.default_rng(0)`` so that
            repeated calls give the same interval.
        method: ``"percentile"`` or ``"bca"``.

    Returns:
        The statistic of ``values`` with its interval. ``method`` is
        ``bootstrap_percentile`` or ``bootstrap_bca``, prefixed by ``cluster_`` when
        clustered. If BCa is undefined because the estimate lies outside the whole
        bootstrap distribution, the percentile interval is returned and ``method`` says so.
        The interval is widened, if need be, to contain the estimate. All fields but ``n``
        are ``nan`` when ``values`` is empty.

    Raises:
        ValueError: an argument is out of range, ``values`` is not one-dimensional or
            holds non-finite numbers, or ``clusters`` has a different length.
        TypeError: ``statistic`` is neither a known name nor callable, or ``rng`` is not a
            ``numpy.random.Generator``.

    Examples:
        >>> r = bootstrap_ci([0.2, 0.4, 0.4, 0.9, 1.0], n_resamples=2000)
        >>> (r.estimate, r.ci_low <= r.estimate <= r.ci_high, r.method)
        (0.58, True, 'bootstrap_percentile')
    """
    alpha = (1 - confidence) / 2
    _critical_value(confidence)
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca'; got {method!r}.")
    n_resamples = _check_resamples(n_resamples)
    rng = _check_rng(rng)
    x = _as_values(values)
    name, stat2d = _resolve_statistic(statistic)
    groups = None if clusters is None else _Groups.build(clusters, x)
    label = ("cluster_" if groups is not None else "") + "bootstrap_"
    n = int(x.size)
    if n == 0:
        return StatResult(math.nan, math.nan, math.nan, 0, label + method)

    theta = float(stat2d(x[np.newaxis, :])[0])
    boot = _bootstrap_distribution(x, name, stat2d, groups, n_resamples, rng)
    levels = (alpha, 1 - alpha)
    used = method
    if method == "bca":
        bca = _bca_levels(boot, theta, _jackknife(x, name, stat2d, groups), alpha)
        if bca is None:
            used = "percentile"
        else:
            levels = bca
    low, high = (float(q) for q in np.quantile(boot, levels))
    return StatResult(theta, min(low, theta), max(high, theta), n, label + used)


def mean_ci(
    values: ArrayLike,
    kind: str | None = None,
    *,
    confidence: float = 0.95,
    clusters: ArrayLike | None = None,
    n_resamples: int = 10_000,
    rng: np.random.Generator | None = None,
    method: BootstrapMethod = "percentile",
) -> StatResult:
    """The mean of per-sample scores with the interval that suits their kind.

    Binary scores (0/1) get the Wilson interval (Wilson 1927); continuous and ordinal
    scores, and binary scores with ``clusters``, get a bootstrap interval of the mean
    (Efron & Tibshirani 1993), resampling clusters when they are given.

    Args:
        values: the per-sample scores.
        kind: ``"binary"``, ``"continuous"`` or ``"ordinal"`` (a ``Score.kind``), or
            ``None`` to treat the values as binary when every one is 0 or 1.
        confidence: the two-sided confidence level.
        clusters: one cluster label per value, or ``None``.
        n_resamples: bootstrap resamples (unused for the Wilson interval).
        rng: random generator for the bootstrap; ``None`` means ``default_rng(0)``.
        method: bootstrap interval, ``"percentile"`` or ``"bca"``.

    Returns:
        A ``StatResult`` whose ``method`` says which interval was used.

    Raises:
        ValueError: ``kind`` is unknown, or ``kind="binary"`` values are not all 0 or 1.

    Examples:
        >>> mean_ci([1, 0, 1, 1]).method
        'wilson'
        >>> mean_ci([0.5, 0.25, 1.0], kind="continuous").method
        'bootstrap_percentile'
    """
    if kind not in (None, "binary", "continuous", "ordinal"):
        raise ValueError(
            f"kind must be 'binary', 'continuous', 'ordinal' or None; got {kind!r}."
        )
    x = _as_values(values)
    binary = bool(x.size) and bool(np.all((x == 0) | (x == 1)))
    if kind == "binary" and not binary and x.size:
        bad = float(x[(x != 0) & (x != 1)][0])
        raise ValueError(
            f"binary scores must all be 0 or 1; got {bad!r}. Pass kind='continuous' for "
            "other values."
        )
    use_wilson = kind == "binary" or (kind is None and binary)
    if use_wilson and clusters is None:
        return wilson_ci(int(x.sum()), int(x.size), confidence)
    return bootstrap_ci(
        x, "mean", confidence, n_resamples, clusters=clusters, rng=rng, method=method
    )


# --- helpers ---------------------------------------------------------------------------


def _critical_value(confidence: float) -> float:
    try:
        level = float(confidence)
    except (TypeError, ValueError):
        level = math.nan
    if isinstance(confidence, bool) or not 0 < level < 1:
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1, such as 0.95; "
            f"got {confidence!r}."
        )
    return _NORMAL.inv_cdf(1 - (1 - level) / 2)


def _check_resamples(n_resamples: Any) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer):
        raise ValueError(f"n_resamples must be a whole number; got {n_resamples!r}.")
    if n_resamples < 1:
        raise ValueError(
            f"n_resamples must be at least 1 (1,000 or more is usual); got {n_resamples}."
        )
    return int(n_resamples)


def _check_rng(rng: Any) -> np.random.Generator:
    if rng is None:  # a fixed seed, so that repeated calls agree
        return np.random.default_rng(0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator; got {type(rng).__name__}. "
            "Pass numpy.random.default_rng(seed)."
        )
    return rng


def _as_count(value: Any, name: str) -> int:
    number = float(value)
    if not number.is_integer() or number < 0:
        raise ValueError(f"{name} must be a non-negative whole number; got {value!r}.")
    return int(number)


def _as_values(values: ArrayLike, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got an array of shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(
            f"{name} must be finite numbers; got NaN or infinity. Drop the samples that "
            "have no score before computing the interval."
        )
    return x


def _resolve_statistic(statistic: str | Callable[..., Any]) -> tuple[str, _Stat2D]:
    """A name and a function from a (k, m) array to the k row statistics."""
    if isinstance(statistic, str):
        if statistic == "mean":
            return "mean", lambda a: a.mean(axis=-1)
        if statistic == "median":
            return "median", lambda a: np.median(a, axis=-1)
        raise ValueError(
            f"statistic must be 'mean', 'median' or a callable; got {statistic!r}."
        )
    if not callable(statistic):
        raise TypeError(
            f"statistic must be 'mean', 'median' or a callable; got {type(statistic).__name__}."
        )
    fn = statistic
    if _accepts_axis(fn):
        return "custom", lambda a: np.asarray(fn(a, axis=-1), dtype=float).reshape(len(a))
    return "custom", lambda a: np.fromiter((float(fn(row)) for row in a), float, len(a))


def _accepts_axis(fn: Callable[..., Any]) -> bool:
    try:
        return "axis" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


class _Groups:
    """Cluster membership: values sorted by cluster, with each cluster's start and size."""

    __slots__ = ("inverse", "sizes", "starts", "sorted_values", "sums")

    def __init__(self, inverse: np.ndarray, sizes: np.ndarray, x: np.ndarray) -> None:
        self.inverse = inverse
        self.sizes = sizes
        self.starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.sorted_values = x[np.argsort(inverse, kind="stable")]
        self.sums = np.bincount(inverse, weights=x, minlength=sizes.size)

    @classmethod
    def build(cls, clusters: ArrayLike, x: np.ndarray) -> _Groups:
        labels = np.asarray(clusters)
        if labels.shape != x.shape:
            raise ValueError(
                f"clusters must hold one label per value; got {labels.size} labels for "
                f"{x.size} values."
            )
        _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
        return cls(inverse.reshape(-1), sizes, x)

    def items(self, chosen: np.ndarray) -> np.ndarray:
        """The values of the chosen clusters, concatenated (clusters may repeat)."""
        lens = self.sizes[chosen]
        shift = np.repeat(self.starts[chosen] - (np.cumsum(lens) - lens), lens)
        return self.sorted_values[shift + np.arange(int(lens.sum()))]


def _bootstrap_distribution(
    x: np.ndarray,
    name: str,
    stat2d: _Stat2D,
    groups: _Groups | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The statistic of ``n_resamples`` resamples of ``x`` (or of its clusters)."""
    builtin = name != "custom"
    if groups is not None:
        g = groups
        if name == "mean":
            return _chunked(
                g.sizes.size,
                n_resamples,
                rng,
                lambda idx: g.sums[idx].sum(axis=1) / g.sizes[idx].sum(axis=1),
                builtin,
            )

        def per_row(idx: np.ndarray) -> np.ndarray:
            return np.array([stat2d(g.items(row)[np.newaxis, :])[0] for row in idx])

        return _chunked(g.sizes.size, n_resamples, rng, per_row, parallel=False)
    if builtin:
        distinct, counts = np.unique(x, return_counts=True)
        if distinct.size <= _MAX_DISTINCT_FOR_COUNTS and distinct.size * 16 <= x.size:
            return _from_counts(distinct, counts, name, n_resamples, rng)
    return _chunked(x.size, n_resamples, rng, lambda idx: stat2d(x[idx]), builtin)


def _from_counts(
    distinct: np.ndarray,
    counts: np.ndarray,
    name: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Resample data with few distinct values as multinomial counts of those values."""
    n = int(counts.sum())
    draws = rng.multinomial(n, counts / n, size=n_resamples)
    if name == "mean":
        return np.asarray(draws @ distinct / n)
    cum = np.cumsum(draws, axis=1)
    low = np.argmax(cum > (n - 1) // 2, axis=1)
    high = np.argmax(cum > n // 2, axis=1)
    return np.asarray((distinct[low] + distinct[high]) / 2)


def _chunked(
    n_items: int,
    n_resamples: int,
    rng: np.random.Generator,
    fn: Callable[[np.ndarray], np.ndarray],
    parallel: bool,
    high: int | None = None,
) -> np.ndarray:
    """Apply ``fn`` to chunks of resampled indices; each chunk has its own child generator.

    Rows hold ``n_items`` integers from ``[0, high)``, ``high`` being ``n_items`` by default.
    """
    top = n_items if high is None else high
    rows = max(1, min(n_resamples, _CHUNK_ELEMENTS // max(n_items, 1)))
    bounds = [(s, min(s + rows, n_resamples)) for s in range(0, n_resamples, rows)]
    out = np.empty(n_resamples)
    if len(bounds) == 1:
        out[:] = fn(rng.integers(0, top, size=(n_resamples, n_items)))
        return out
    try:
        children = rng.spawn(len(bounds))
    except TypeError:  # a bit generator whose seed sequence cannot spawn
        seeds = rng.integers(0, 2**63, size=len(bounds))
        children = [np.random.default_rng(int(s)) for s in seeds]

    def run(i: int) -> None:
        start, stop = bounds[i]
        out[start:stop] = fn(children[i].integers(0, top, size=(stop - start, n_items)))

    workers = min(_MAX_WORKERS, os.cpu_count() or 1)
    if parallel and workers > 1 and n_items * n_resamples >= _PARALLEL_MIN_ELEMENTS:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(len(bounds))))  # numpy releases the GIL here
    else:
        for i in range(len(bounds)):
            run(i)
    return out


def _jackknife(
    x: np.ndarray, name: str, stat2d: _Stat2D, groups: _Groups | None
) -> np.ndarray | None:
    """Leave-one-out (or leave-one-cluster-out) values of the statistic; None if undefined."""
    if groups is not None:
        g = groups
        if g.sizes.size < 2:
            return None
        if name == "mean":
            return np.asarray((g.sums.sum() - g.sums) / (x.size - g.sizes))
        return np.array(
            [stat2d(x[g.inverse != k][np.newaxis, :])[0] for k in range(g.sizes.size)]
        )
    n = x.size
    if n < 2:
        return None
    if name == "mean":
        return np.asarray((x.sum() - x) / (n - 1))
    if name == "median":
        return _jackknife_median(x)
    keep = np.ones(n, dtype=bool)
    out = np.empty(n)
    for i in range(n):
        keep[i] = False
        out[i] = stat2d(x[keep][np.newaxis, :])[0]
        keep[i] = True
    return out


def _jackknife_median(x: np.ndarray) -> np.ndarray:
    """Each leave-one-out median in O(n log n): it depends only on the removed item's rank."""
    n = x.size
    s = np.sort(x)
    rank = np.empty(n, dtype=np.intp)
    rank[np.argsort(x, kind="stable")] = np.arange(n)
    # After removing the item of rank r, the i-th smallest remaining value is s[i] if
    # i < r, else s[i + 1].
    k = (n - 1) // 2
    if (n - 1) % 2 == 1:
        return np.asarray(np.where(rank > k, s[k], s[k + 1]))
    low = np.where(rank > k - 1, s[k - 1], s[k])
    high = np.where(rank > k, s[k], s[k + 1])
    return np.asarray((low + high) / 2)


def _bca_levels(
    boot: np.ndarray, theta: float, jack: np.ndarray | None, alpha: float
) -> tuple[float, float] | None:
    """BCa quantile levels (Efron & Tibshirani 1993, eq. 14.9-14.15); None when undefined."""
    b = boot.size
    # Ties count half, as in scipy.stats.bootstrap, which matters for discrete statistics.
    share = (np.count_nonzero(boot < theta) + np.count_nonzero(boot <= theta)) / (2 * b)
    if not 0 < share < 1:
        return None
    z0 = _NORMAL.inv_cdf(share)
    accel = 0.0
    if jack is not None:
        d = jack.mean() - jack
        scale = float(np.abs(d).max())
        if scale > 0:  # the ratio is scale-free; rescaling keeps tiny values from underflowing
            d = d / scale
            accel = float(np.sum(d * d * d)) / (6 * float(np.sum(d * d)) ** 1.5)
    z = _NORMAL.inv_cdf(alpha)
    levels = []
    for zq in (z, -z):
        shifted = z0 + zq
        denom = 1 - accel * shifted
        if denom <= 0:
            return None
        levels.append(_NORMAL.cdf(z0 + shifted / denom))
    return levels[0], levels[1]
