"""Inter-judge agreement: Cohen's kappa, Fleiss' kappa and Krippendorff's alpha.

Use these to check that two or more judges (people, or LLM judges with different prompts
or models) score the same items consistently before trusting their scores. Each function
returns a frozen ``StatResult``; with ``n_resamples > 0`` it also carries a percentile
bootstrap interval over items (Efron & Tibshirani 1993, ch. 13), the items being the
independent units here, and ``se``, the standard deviation of the bootstrap distribution.

References:
    Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
    Psychological Measurement 20(1), 37-46.

    Cohen, J. (1968). Weighted kappa: nominal scale agreement with provision for scaled
    disagreement or partial credit. Psychological Bulletin 70(4), 213-220.

    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
    Psychological Bulletin 76(5), 378-382.

    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School
    for Communication, University of Pennsylvania.

    Hayes, A. F. and Krippendorff, K. (2007). Answering the call for a standard
    reliability measure for coding data. Communication Methods and Measures 1(1), 77-89.

    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
    Hall.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.intervals import _check_resamples, _check_rng, _chunked, _critical_value
from evalstack.stats.result import StatResult

KappaWeights = Literal["linear", "quadratic"]
AlphaLevel = Literal["nominal", "ordinal", "interval", "ratio"]

_NAN = math.nan
_LEVELS = ("nominal", "ordinal", "interval", "ratio")
# A vectorised statistic: item weights of shape (k, n_items) -> k values. A weight is how
# many times the item appears in a resample (all ones for the data as given).
_WeightedStat = Callable[[np.ndarray], np.ndarray]


def cohen_kappa(
    a: ArrayLike,
    b: ArrayLike,
    weights: KappaWeights | None = None,
    labels: ArrayLike | None = None,
    confidence: float = 0.95,
    n_resamples: int = 0,
    rng: np.random.Generator | None = None,
) -> StatResult:
    """Cohen's kappa between two raters (Cohen 1960), optionally weighted (Cohen 1968).

    ``kappa = 1 - sum(w * O) / sum(w * E)``, where ``O`` is the table of observed label
    pairs, ``E = outer(row totals, column totals) / n`` the table expected by chance, and
    ``w`` the disagreement weights: ``1`` off the diagonal (unweighted), ``|i - j|``
    (``"linear"``) or ``(i - j) ** 2`` (``"quadratic"``, the usual choice for ordinal
    scales such as 1-5 ratings), ``i`` and ``j`` being positions in ``labels``. It equals
    ``sklearn.metrics.cohen_kappa_score``.

    Args:
        a: the first rater's labels, one per item (numbers or strings).
        b: the second rater's labels for the same items, in the same order.
        weights: ``None``, ``"linear"`` or ``"quadratic"``.
        labels: every possible label, in scale order; ``None`` uses the sorted labels seen
            in ``a`` and ``b``. It matters for weighted kappa, whose weights depend on the
            distance between positions. Unlike scikit-learn, which silently drops items
            whose labels are not listed, a label outside ``labels`` is an error.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        n_resamples: bootstrap resamples of the items (pairs of labels); 0 for no interval.
        rng: the random generator; ``None`` uses ``numpy.random.default_rng(0)``.

    Returns:
        The kappa; its percentile bootstrap interval and ``se`` when ``n_resamples > 0``,
        else ``nan`` bounds and ``se=None``. ``method`` is ``"cohen_kappa"``,
        ``"cohen_kappa_linear"`` or ``"cohen_kappa_quadratic"``; ``n`` is the number of
        items. Kappa is undefined, and ``nan``, when the chance disagreement is 0: when
        both raters give one and the same label to every item (scikit-learn returns
        ``nan`` there too, with a warning), or when there are no items. Resamples where it
        is undefined are left out of the interval.

    Raises:
        ValueError: ``a`` and ``b`` differ in length or are not one-dimensional, a label
            is missing (NaN) or not in ``labels``, ``weights`` is unknown, or an argument
            is out of range.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Examples:
        >>> r = cohen_kappa([1, 2, 3, 3, 2, 1], [1, 2, 3, 2, 2, 1])
        >>> (round(r.estimate, 4), r.n, r.method)
        (0.75, 6, 'cohen_kappa')
        >>> round(cohen_kappa([1, 2, 3, 3, 2, 1], [1, 2, 3, 2, 2, 1], "quadratic").estimate, 4)
        0.8571
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(
            f"weights must be None, 'linear' or 'quadratic'; got {weights!r}. Use "
            "'quadratic' for ordinal scales such as 1-5 ratings."
        )
    _critical_value(confidence)
    n_resamples = _check_optional_resamples(n_resamples)
    x = _as_labels(a, "a")
    y = _as_labels(b, "b")
    if x.size != y.size:
        raise ValueError(
            f"a and b must hold one label per item each; got {x.size} labels in a and "
            f"{y.size} in b. Pass the two raters' labels for the same items, in the same "
            "order."
        )
    method = "cohen_kappa" if weights is None else f"cohen_kappa_{weights}"
    n = int(x.size)
    if n == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method)
    codes, k = _encode(np.concatenate([x, y]), labels)
    ca, cb = codes[:n], codes[n:]
    pos = np.arange(k, dtype=float)
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights == "linear":
        w = np.abs(pos[:, np.newaxis] - pos[np.newaxis, :])
    else:
        w = (pos[:, np.newaxis] - pos[np.newaxis, :]) ** 2
    disagreement = w[ca, cb]
    onehot_a = np.eye(k)[ca]
    onehot_b = np.eye(k)[cb]

    def stat(weight: np.ndarray) -> np.ndarray:
        observed = weight @ disagreement
        p, q = weight @ onehot_a, weight @ onehot_b
        expected = ((p @ w) * q).sum(axis=1) / weight.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = 1.0 - observed / expected
        return np.where(expected > 0, kappa, _NAN)

    return _result(stat, n, method, confidence, n_resamples, rng)


def fleiss_kappa(
    ratings: ArrayLike,
    categories: ArrayLike | None = None,
    confidence: float = 0.95,
    n_resamples: int = 0,
    rng: np.random.Generator | None = None,
) -> StatResult:
    """Fleiss' kappa for a fixed number of raters per item (Fleiss 1971).

    With ``n_ij`` the number of the ``m`` raters who put item ``i`` in category ``j``,
    ``P_i = (sum_j n_ij**2 - m) / (m (m - 1))`` is the agreement on item ``i`` and
    ``p_j`` the share of all ratings in category ``j``; then
    ``kappa = (mean(P_i) - sum_j p_j**2) / (1 - sum_j p_j**2)``. The raters need not be
    the same people for every item, only as many. It equals
    ``statsmodels.stats.inter_rater.fleiss_kappa(aggregate_raters(ratings)[0])``.

    Args:
        ratings: an items x raters array of category labels (numbers or strings), every
            item rated by the same number (at least 2) of raters.
        categories: every allowed category, to check the labels against; ``None`` accepts
            any label. Categories no one used do not change kappa.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        n_resamples: bootstrap resamples of the items (rows); 0 for no interval.
        rng: the random generator; ``None`` uses ``numpy.random.default_rng(0)``.

    Returns:
        The kappa; its percentile bootstrap interval and ``se`` when ``n_resamples > 0``,
        else ``nan`` bounds and ``se=None``. ``method`` is ``"fleiss_kappa"``; ``n`` is the
        number of items. Kappa is ``nan`` when every rating is the same category (chance
        agreement is then 1) or there are no items; such resamples are left out of the
        interval.

    Raises:
        ValueError: ``ratings`` is not two-dimensional, has fewer than two raters, holds a
            missing (NaN) rating or a label outside ``categories``, or an argument is out
            of range.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Examples:
        >>> ratings = [[1, 1, 1], [1, 2, 2], [2, 2, 2], [3, 3, 1], [3, 3, 3]]
        >>> r = fleiss_kappa(ratings)
        >>> (round(r.estimate, 4), r.n, r.method)
        (0.6, 5, 'fleiss_kappa')
    """
    _critical_value(confidence)
    n_resamples = _check_optional_resamples(n_resamples)
    data = _as_label_array(ratings, "ratings")
    if data.ndim != 2:
        raise ValueError(
            f"ratings must be two-dimensional, items x raters; got an array of shape "
            f"{data.shape}. For two raters' label lists a and b, pass "
            "numpy.column_stack([a, b]) (or use cohen_kappa(a, b))."
        )
    n, m = data.shape
    if m < 2:
        raise ValueError(
            f"ratings needs at least 2 raters (columns) per item; got {m}. Pass an "
            "items x raters array (transpose it if raters are rows)."
        )
    _reject_missing(data.ravel(), "ratings", "drop the items that lack a rating, or use "
                    "krippendorff_alpha, which allows missing ratings")
    method = "fleiss_kappa"
    if n == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method)
    codes, k = _encode(data.ravel(), categories, "categories")
    codes = codes.reshape(n, m)
    counts = np.zeros((n, k))
    np.add.at(counts, (np.repeat(np.arange(n), m), codes.ravel()), 1.0)
    agreement = ((counts * counts).sum(axis=1) - m) / (m * (m - 1.0))

    def stat(weight: np.ndarray) -> np.ndarray:
        total = weight.sum(axis=1)
        p_mean = (weight @ agreement) / total
        share = (weight @ counts) / (total * m)[:, np.newaxis]
        chance = (share * share).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = (p_mean - chance) / (1.0 - chance)
        return np.where(chance < 1.0, kappa, _NAN)

    return _result(stat, n, method, confidence, n_resamples, rng)


def krippendorff_alpha(
    reliability_data: ArrayLike,
    level: AlphaLevel = "interval",
    confidence: float = 0.95,
    n_resamples: int = 0,
    rng: np.random.Generator | None = None,
) -> StatResult:
    """Krippendorff's alpha for any number of raters, with missing ratings (Krippendorff 2011).

    ``alpha = 1 - D_o / D_e``: the observed disagreement between ratings of the same
    item over the disagreement expected from all pairable ratings pooled, both computed
    from the coincidence matrix with the distance of ``level``: nominal (0 if equal, else
    1), ordinal (squared distance between the values' mid-ranks among all pairable
    ratings), interval (squared difference) or ratio (``((c - k) / (c + k)) ** 2``). Items
    with fewer than two ratings are not pairable and are ignored, as Krippendorff does.
    It equals ``krippendorff.alpha(reliability_data, level_of_measurement=level)``. The
    bootstrap resamples whole items, rather than the pairs of ratings of Hayes &
    Krippendorff (2007).

    Args:
        reliability_data: a raters x items array of numeric ratings, ``nan`` where a rater
            did not rate an item (text labels: map them to numbers first).
        level: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        n_resamples: bootstrap resamples of the items (columns); 0 for no interval.
        rng: the random generator; ``None`` uses ``numpy.random.default_rng(0)``.

    Returns:
        The alpha; its percentile bootstrap interval and ``se`` when ``n_resamples > 0``,
        else ``nan`` bounds and ``se=None``. ``method`` is ``"krippendorff_alpha_"`` and the
        level; ``n`` is the number of pairable items. Alpha is ``nan`` when no item is
        pairable or every pairable rating has the same value (where the ``krippendorff``
        package raises or returns ``nan``); such resamples are left out of the interval.

    Raises:
        ValueError: ``reliability_data`` is not two-dimensional or holds non-numeric or
            infinite ratings, ``level`` is unknown, ratio-level data is negative, or an
            argument is out of range.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Examples:
        >>> nan = float("nan")
        >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
        >>> round(krippendorff_alpha(data, level="nominal").estimate, 3)
        0.743
        >>> r = krippendorff_alpha(data, level="interval")
        >>> (round(r.estimate, 3), r.n, r.method)
        (0.849, 11, 'krippendorff_alpha_interval')
    """
    if level not in _LEVELS:
        raise ValueError(
            f"level must be 'nominal', 'ordinal', 'interval' or 'ratio'; got {level!r}. "
            "Use 'ordinal' for ranked scales such as 1-5 ratings."
        )
    _critical_value(confidence)
    n_resamples = _check_optional_resamples(n_resamples)
    try:
        data = np.asarray(reliability_data, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(
            "reliability_data must be a raters x items array of numbers, nan where "
            f"missing; could not read it as numbers ({err}). Map text labels to numbers "
            "first, and give every rater a value (or nan) for every item."
        ) from err
    if data.ndim != 2:
        raise ValueError(
            f"reliability_data must be two-dimensional, raters x items; got an array of "
            f"shape {data.shape}. Wrap a single rater's ratings in a list of raters."
        )
    if np.isinf(data).any():
        raise ValueError(
            "reliability_data must be finite numbers or nan (missing); got infinity. "
            "Replace it with nan if the rating is missing."
        )
    if level == "ratio" and np.nanmin(data, initial=0.0) < 0:
        raise ValueError(
            f"ratio-level ratings must be non-negative; got {np.nanmin(data)!r}. Use "
            "level='interval' for data with no natural zero."
        )
    method = f"krippendorff_alpha_{level}"
    rated = ~np.isnan(data)
    pairable = rated.sum(axis=0) >= 2
    data, rated = data[:, pairable], rated[:, pairable]
    n = int(data.shape[1])
    if n == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, method)
    m = rated.sum(axis=0).astype(float)  # ratings per item
    if level == "interval":
        centred = np.where(rated, data - data[rated].mean(), 0.0)  # shift-free, less rounding
        stat = _interval_alpha(m, centred.sum(axis=0), (centred * centred).sum(axis=0))
    else:
        values, inverse = np.unique(data[rated], return_inverse=True)
        counts = np.zeros((n, values.size))  # counts[u, c]: ratings of value c on item u
        np.add.at(counts, (np.nonzero(rated)[1], inverse.reshape(-1)), 1.0)
        if level == "nominal":
            stat = _nominal_alpha(m, counts)
        elif level == "ordinal":
            stat = _ordinal_alpha(m, counts)
        else:
            stat = _ratio_alpha(m, counts, values)
    return _result(stat, n, method, confidence, n_resamples, rng)


# --- Krippendorff's alpha from per-item sufficient statistics -------------------------
# Each returns a function of item weights, so the estimate (all weights 1) and every
# bootstrap resample (weights = how often each item was drawn) share one code path.


def _interval_alpha(m: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> _WeightedStat:
    """Interval alpha from each item's rating count, sum and sum of squares.

    Within an item, the coincidences weighted by ``(c - k)**2`` sum to
    ``2 (m s2 - s1**2) / (m - 1)``; over all pairable ratings, to ``2 (n S2 - S1**2)``.
    """
    within = (m * s2 - s1 * s1) / (m - 1.0)

    def stat(weight: np.ndarray) -> np.ndarray:
        total = weight @ m
        pooled = total * (weight @ s2) - (weight @ s1) ** 2
        return _alpha(weight @ within, pooled, total)

    return stat


def _nominal_alpha(m: np.ndarray, counts: np.ndarray) -> _WeightedStat:
    within = (m * m - (counts * counts).sum(axis=1)) / (m - 1.0)

    def stat(weight: np.ndarray) -> np.ndarray:
        n_v = weight @ counts
        total = n_v.sum(axis=1)
        return _alpha(weight @ within, total * total - (n_v * n_v).sum(axis=1), total)

    return stat


def _ordinal_alpha(m: np.ndarray, counts: np.ndarray) -> _WeightedStat:
    """Ordinal alpha: interval alpha on the values' mid-ranks, which depend on the resample.

    Krippendorff's ordinal distance between values ``c < k``,
    ``(sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2``, is the squared difference of their
    mid-ranks ``r_c = sum_{g<c} n_g + n_c / 2`` among all pairable ratings.
    """

    def stat(weight: np.ndarray) -> np.ndarray:
        n_v = weight @ counts  # (k, V)
        ranks = np.cumsum(n_v, axis=1) - n_v / 2.0
        s1 = counts @ ranks.T  # (items, k): each item's rank sum under each resample
        s2 = counts @ (ranks * ranks).T
        within = (m[:, np.newaxis] * s2 - s1 * s1) / (m[:, np.newaxis] - 1.0)
        total = n_v.sum(axis=1)
        pooled = total * (n_v * ranks * ranks).sum(axis=1) - (n_v * ranks).sum(axis=1) ** 2
        return _alpha(np.einsum("ku,uk->k", weight, within), pooled, total)

    return stat


def _ratio_alpha(m: np.ndarray, counts: np.ndarray, values: np.ndarray) -> _WeightedStat:
    plus = values[:, np.newaxis] + values[np.newaxis, :]
    minus = values[:, np.newaxis] - values[np.newaxis, :]
    dist = np.divide(minus, plus, out=np.zeros_like(plus), where=plus != 0) ** 2
    within = ((counts @ dist) * counts).sum(axis=1) / (m - 1.0)

    def stat(weight: np.ndarray) -> np.ndarray:
        n_v = weight @ counts
        return _alpha(weight @ within, ((n_v @ dist) * n_v).sum(axis=1), n_v.sum(axis=1))

    return stat


def _alpha(observed: np.ndarray, pooled: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``1 - D_o / D_e`` with ``D_o = observed / n`` and ``D_e = pooled / (n (n - 1))``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (total - 1.0) * observed / pooled
    # Exact zero is safe: pooled disagreement is a sum of non-negative terms, zero only
    # when every pairable rating has the same value.
    return np.where(pooled > 0, alpha, _NAN)


# --- shared helpers --------------------------------------------------------------------


def _result(
    stat: _WeightedStat,
    n: int,
    method: str,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator | None,
) -> StatResult:
    """The statistic of the data, and its percentile bootstrap over items when asked."""
    estimate = float(stat(np.ones((1, n)))[0])
    if n_resamples == 0:
        return StatResult(estimate, _NAN, _NAN, n, method)
    generator = _check_rng(rng)
    boot = _chunked(n, n_resamples, generator, lambda idx: stat(_item_weights(idx, n)), False)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return StatResult(estimate, _NAN, _NAN, n, method, se=_NAN)
    alpha = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(boot, (alpha, 1 - alpha)))
    se = float(boot.std(ddof=1)) if boot.size > 1 else _NAN
    if math.isfinite(estimate):  # widened, if need be, to contain the estimate
        low, high = min(low, estimate), max(high, estimate)
    return StatResult(estimate, low, high, n, method, se=se)


def _item_weights(idx: np.ndarray, n: int) -> np.ndarray:
    """How many times each of ``n`` items appears in each row of resampled indices."""
    rows = idx.shape[0]
    flat = (idx + n * np.arange(rows)[:, np.newaxis]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def _check_optional_resamples(n_resamples: Any) -> int:
    if not isinstance(n_resamples, bool) and isinstance(n_resamples, int | np.integer):
        if n_resamples == 0:
            return 0
    return _check_resamples(n_resamples)


def _as_label_array(values: ArrayLike, name: str) -> np.ndarray:
    try:
        return np.asarray(values)
    except ValueError as err:  # ragged nested lists
        raise ValueError(
            f"{name} must be a rectangular array of labels; could not read it ({err}). "
            "Give every item the same number of ratings."
        ) from err


def _as_labels(values: ArrayLike, name: str) -> np.ndarray:
    x = _as_label_array(values, name)
    if x.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional, one label per item; got an array of shape "
            f"{x.shape}. For more than two raters use fleiss_kappa or krippendorff_alpha."
        )
    _reject_missing(x, name, "drop the items that lack a label from both a and b")
    return x


def _reject_missing(x: np.ndarray, name: str, fix: str) -> None:
    if x.dtype.kind == "f":
        missing = np.isnan(x)
    elif x.dtype.kind == "O":
        missing = np.array([v is None or (isinstance(v, float) and v != v) for v in x])
    else:
        return
    if missing.any():
        where = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"{name} must not have missing labels; got a missing value (NaN or None) at "
            f"flat position {where}. To fix it, {fix}."
        )


def _encode(
    values: np.ndarray, labels: ArrayLike | None, name: str = "labels"
) -> tuple[np.ndarray, int]:
    """Codes ``0..k-1`` for ``values``: their positions in ``labels``, or in the sorted
    distinct values when ``labels`` is None."""
    if labels is None:
        distinct, codes = np.unique(values, return_inverse=True)
        return codes.reshape(-1), int(distinct.size)
    scale = np.asarray(labels)
    if scale.ndim != 1 or scale.size == 0:
        raise ValueError(f"{name} must be a non-empty list of labels; got {labels!r}.")
    distinct = np.unique(scale)
    if distinct.size != scale.size:
        raise ValueError(f"{name} must not repeat a label; got {labels!r}.")
    order = np.argsort(scale, kind="stable")
    sorted_scale = scale[order]
    at = np.clip(np.searchsorted(sorted_scale, values), 0, scale.size - 1)
    unknown = sorted_scale[at] != values
    if unknown.any():
        bad = values[unknown][0]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise ValueError(
            f"every label must be one of {name}={scale.tolist()!r}; got {bad!r}. Add it to "
            f"{name}, or pass {name}=None to use the labels seen in the data."
        )
    return order[at], int(scale.size)
