"""Validating a judge against humans: agreement, the first half of ``judge validate``.

The statistics behind ``evalstack judge validate``, as pure functions of scores that were
already collected (no model is called here):

* :func:`pointwise_agreement` and :func:`pairwise_agreement`: how often the judge agrees
  with the humans, Cohen's kappa (Cohen 1960; quadratic-weighted, Cohen 1968, for ordinal
  scales), Spearman's rho and the confusion matrix, each with a percentile bootstrap
  interval over items (Efron & Tibshirani 1993, ch. 13).
* :func:`rate`: a Wilson interval for a share (position flips, say).

The biases, the corrected mean and the closing verdict are in ``judge_bias``. Judge scores
are *normalized*: a rubric's overall score mapped to [0, 1].

References:
    Cohen, J. (1960), Educational and Psychological Measurement 20(1), 37-46; Cohen, J.
    (1968), Psychological Bulletin 70(4), 213-220.

    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
    Hall.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats import wilson_ci
from evalstack.stats.result import StatResult

_NAN = math.nan
_PAIRWISE_LABELS = ("a", "b", "tie")
_PAIRWISE_CODES = {"a": 1.0, "tie": 0.0, "b": -1.0}
# Distances this close count as a tie when a judge score is mapped to the nearest level.
_TIE = 1e-9
# Rows of resampled indices per chunk: about a million indices, so memory stays flat.
_CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True, slots=True)
class ConfusionMatrix:
    """Human labels (rows) against judge labels (columns).

    Attributes:
        labels: the labels, in row and column order: the human levels formatted as text
            (pointwise) or ``("a", "b", "tie")`` (pairwise).
        counts: ``counts[i][j]`` items that humans labelled ``labels[i]`` and the judge
            ``labels[j]``.
        share: each cell's share of all items, with its bootstrap interval.

    Examples:
        >>> cell = StatResult(0.5, 0.3, 0.7, 10, "bootstrap_percentile")
        >>> m = ConfusionMatrix(("0", "1"), ((5, 0), (0, 5)), ((cell, cell), (cell, cell)))
        >>> m.counts[1][1]
        5
    """

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    share: tuple[tuple[StatResult, ...], ...]


@dataclass(frozen=True, slots=True)
class Agreement:
    """How well a judge agrees with human labels on the same items.

    Attributes:
        kind: ``"pointwise"`` (scores) or ``"pairwise"`` (preferences).
        n: the number of items.
        accuracy: the share of items where the judge's label equals the human one.
        kappa: Cohen's kappa, chance-corrected agreement (1 perfect, 0 chance level).
        kappa_weights: ``"quadratic"`` for pointwise scores, ``None`` (unweighted) for
            pairwise preferences.
        spearman: Spearman's rank correlation between judge and human scores.
        confusion: the human x judge confusion matrix.

    Examples:
        >>> a = pairwise_agreement(["a", "b", "a", "b"], ["a", "b", "b", "b"], n_resamples=0)
        >>> (a.kind, a.accuracy.estimate, a.kappa_weights)
        ('pairwise', 0.75, None)
    """

    kind: Literal["pointwise", "pairwise"]
    n: int
    accuracy: StatResult
    kappa: StatResult
    kappa_weights: str | None
    spearman: StatResult
    confusion: ConfusionMatrix


def to_levels(
    judge_normalized: ArrayLike, levels: Sequence[float], scale: tuple[float, float]
) -> np.ndarray:
    """Map normalized judge scores onto the human scale's levels.

    Each score ``x`` in [0, 1] becomes ``lo + x * (hi - lo)`` on the human scale
    ``(lo, hi)``, then the nearest human level; a score exactly halfway between two
    levels goes to the lower one (an undecided judge does not pass).

    Args:
        judge_normalized: the judge's scores, each in [0, 1].
        levels: the human levels (``HumanLabels.levels``), any order.
        scale: the human scale ``(lo, hi)``.

    Returns:
        The level of each score, as floats.

    Raises:
        ValueError: a score is outside [0, 1] or not finite, ``levels`` is empty, or
            ``scale`` is not ``(lo, hi)`` with ``lo < hi``.

    Examples:
        >>> to_levels([0.0, 0.25, 0.5, 0.75, 1.0], [0, 1], (0, 1)).tolist()
        [0.0, 0.0, 0.0, 1.0, 1.0]
        >>> to_levels([0.0, 0.3, 1.0], [1, 2, 3, 4, 5], (1, 5)).tolist()
        [1.0, 2.0, 5.0]
    """
    sorted_levels = _sorted_levels(levels)
    return np.asarray(sorted_levels[_level_codes(judge_normalized, sorted_levels, scale)])


def pointwise_agreement(
    judge_normalized: ArrayLike,
    human: ArrayLike,
    *,
    levels: Sequence[float],
    scale: tuple[float, float],
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Agreement:
    """Agreement between a judge's scores and human scores on the same items.

    The judge's normalized scores are mapped to the nearest human level
    (:func:`to_levels`). Then:

    * accuracy is the share of items whose judge level equals the human level;
    * kappa is Cohen's quadratic-weighted kappa (Cohen 1968) on the level positions
      ``0..len(levels)-1``, equal to ``sklearn.metrics.cohen_kappa_score(human, judge,
      weights="quadratic", labels=range(len(levels)))``;
    * spearman is Spearman's rho between the raw normalized judge scores and the human
      scores (average ranks for ties), as ``scipy.stats.spearmanr``.

    The intervals are percentile bootstrap intervals (Efron & Tibshirani 1993, ch. 13):
    the items are resampled ``n_resamples`` times, and every statistic, and every cell of
    the confusion matrix, is computed on the same resamples. Resamples where a statistic
    is undefined (kappa or rho when all labels are equal) are left out of its interval,
    and each interval is widened, if need be, to contain its estimate.

    Args:
        judge_normalized: the judge's scores, each in [0, 1].
        human: the human scores for the same items, in the same order, on ``scale``.
        levels: the human scale's levels (``HumanLabels.levels``).
        scale: the human scale ``(lo, hi)`` (``HumanLabels.scale``).
        n_resamples: bootstrap resamples; 0 for no intervals (``nan`` bounds).
        seed: the seed of the resampling.
        confidence: the two-sided confidence level, strictly between 0 and 1.

    Returns:
        The agreement, ``kappa_weights="quadratic"``.

    Raises:
        ValueError: the inputs differ in length or are empty, a judge score is outside
            [0, 1], a human score is not one of ``levels``, or an argument is out of
            range.

    Examples:
        >>> a = pointwise_agreement([0.0, 0.25, 0.75, 1.0], [1, 2, 4, 4],
        ...                         levels=[1, 2, 3, 4, 5], scale=(1, 5), n_resamples=0)
        >>> (a.accuracy.estimate, round(a.kappa.estimate, 3), a.confusion.labels)
        (0.75, 0.941, ('1', '2', '3', '4', '5'))
    """
    sorted_levels = _sorted_levels(levels)
    judge_codes = _level_codes(judge_normalized, sorted_levels, scale)
    x = np.asarray(judge_normalized, dtype=float)
    y = _as_finite(human, "human")
    _same_length(x, y, "judge_normalized", "human")
    human_codes = _human_codes(y, sorted_levels)
    k = sorted_levels.size
    pos = np.arange(k, dtype=float)
    weights = (pos[:, np.newaxis] - pos[np.newaxis, :]) ** 2
    labels = tuple(_fmt_level(v) for v in sorted_levels)
    return _agreement(
        "pointwise", human_codes, judge_codes, x, y, weights, "quadratic", labels,
        n_resamples, seed, confidence,
    )


def pairwise_agreement(
    judge: Sequence[str],
    human: Sequence[str],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Agreement:
    """Agreement between a judge's pairwise preferences and human ones.

    Accuracy is the share of items where the judge's preference equals the human one (a
    judge's tie against a human ``"a"`` is a disagreement); kappa is Cohen's unweighted
    kappa over the labels ``"a"``, ``"b"``, ``"tie"``, equal to
    ``sklearn.metrics.cohen_kappa_score(human, judge)``; spearman is Spearman's rho on the
    codes ``a = +1``, ``tie = 0``, ``b = -1``. Intervals as in
    :func:`pointwise_agreement`.

    Args:
        judge: the judge's preference per item: ``"a"``, ``"b"`` or ``"tie"``.
        human: the human preference for the same items, in the same order.
        n_resamples: bootstrap resamples; 0 for no intervals (``nan`` bounds).
        seed: the seed of the resampling.
        confidence: the two-sided confidence level, strictly between 0 and 1.

    Returns:
        The agreement, ``kappa_weights=None``; the confusion matrix's labels are
        ``("a", "b", "tie")``.

    Raises:
        ValueError: the inputs differ in length or are empty, a preference is not
            ``"a"``, ``"b"`` or ``"tie"``, or an argument is out of range.

    Examples:
        >>> a = pairwise_agreement(["a", "a", "b", "tie"], ["a", "b", "b", "a"],
        ...                        n_resamples=0)
        >>> (a.accuracy.estimate, a.confusion.counts[0])
        (0.5, (1, 0, 1))
    """
    j = _preference_codes(judge, "judge")
    h = _preference_codes(human, "human")
    _same_length(j, h, "judge", "human")
    weights = 1.0 - np.eye(len(_PAIRWISE_LABELS))
    signs = np.array([_PAIRWISE_CODES[label] for label in _PAIRWISE_LABELS])
    return _agreement(
        "pairwise", h, j, signs[j], signs[h], weights, None, _PAIRWISE_LABELS,
        n_resamples, seed, confidence,
    )


def rate(successes: int, n: int, confidence: float = 0.95) -> StatResult:
    """A proportion with its Wilson interval (Wilson 1927), e.g. how often verdicts flip.

    Examples:
        >>> r = rate(8, 10)
        >>> (r.estimate, round(r.ci_low, 4), round(r.ci_high, 4), r.n)
        (0.8, 0.4902, 0.9433, 10)
    """
    return wilson_ci(successes, n, confidence)



def _agreement(
    kind: Literal["pointwise", "pairwise"],
    human_codes: np.ndarray,
    judge_codes: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    weights_name: str | None,
    labels: tuple[str, ...],
    n_resamples: int,
    seed: int,
    confidence: float,
) -> Agreement:
    """Accuracy, kappa, rho and the confusion shares on the data and on shared resamples.

    ``x`` and ``y`` are the judge's and humans' values for Spearman's rho.
    """
    n_resamples = _check_resamples(n_resamples)
    tail = _alpha(confidence)
    n = int(human_codes.size)
    if n == 0:
        raise ValueError("Agreement needs at least one item scored by both the judge and "
                         "humans; got none.")
    k = len(labels)
    cells = human_codes * k + judge_codes
    stats = _statistics(np.arange(n)[np.newaxis, :], cells, x, y, weights, k)
    boot: list[tuple[np.ndarray, ...]] = []
    if n_resamples:
        rng = np.random.default_rng(seed)
        rows = max(1, _CHUNK_ELEMENTS // n)
        done = 0
        while done < n_resamples:
            c = min(rows, n_resamples - done)
            boot.append(_statistics(rng.integers(0, n, (c, n)), cells, x, y, weights, k))
            done += c
    merged = [np.concatenate([b[i] for b in boot]) if boot else np.empty(0)
              for i in range(4)]

    def interval(i: int) -> StatResult:
        return _percentile(float(stats[i][0]), merged[i], n, tail, n_resamples)

    counts = np.bincount(cells, minlength=k * k).reshape(k, k)
    share_est = stats[3][0].reshape(k, k)
    share_boot = merged[3].reshape(-1, k, k) if merged[3].size else np.empty((0, k, k))
    share = tuple(
        tuple(_percentile(float(share_est[r, c]), share_boot[:, r, c], n, tail, n_resamples)
              for c in range(k))
        for r in range(k)
    )
    confusion = ConfusionMatrix(
        labels, tuple(tuple(int(v) for v in row) for row in counts), share
    )
    return Agreement(kind, n, interval(0), interval(1), weights_name, interval(2), confusion)


def _statistics(
    idx: np.ndarray, cells: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy, kappa, rho and cell shares (flattened) for each row of item indices."""
    rows, n = idx.shape
    flat = (cells[idx] + (k * k) * np.arange(rows)[:, np.newaxis]).ravel()
    counts = np.bincount(flat, minlength=rows * k * k).reshape(rows, k, k).astype(float)
    accuracy = np.trace(counts, axis1=1, axis2=2) / n
    human_totals, judge_totals = counts.sum(axis=2), counts.sum(axis=1)
    expected = human_totals[:, :, np.newaxis] * judge_totals[:, np.newaxis, :] / n
    observed_w = (counts * weights).sum(axis=(1, 2))
    expected_w = (expected * weights).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(expected_w > 0, 1.0 - observed_w / expected_w, _NAN)
    rho = _spearman_rows(x[idx], y[idx])
    return accuracy, kappa, rho, (counts / n).reshape(rows, k * k)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho (average ranks) of each row pair; ``nan`` where a row is constant."""
    from scipy.stats import rankdata

    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    num = (ra * rb).sum(axis=1)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(den > 0, num / den, _NAN)
    return np.clip(rho, -1.0, 1.0)


def _percentile(
    estimate: float, boot: np.ndarray, n: int, tail: float, n_resamples: int
) -> StatResult:
    """The percentile interval of ``boot``'s finite values, widened to hold the estimate."""
    finite = boot[np.isfinite(boot)]
    if n_resamples == 0 or finite.size == 0 or not math.isfinite(estimate):
        return StatResult(estimate, _NAN, _NAN, n, "bootstrap_percentile")
    low, high = (float(q) for q in np.quantile(finite, (tail, 1 - tail)))
    return StatResult(estimate, min(low, estimate), max(high, estimate), n,
                      "bootstrap_percentile")


def _t_interval(values: np.ndarray, confidence: float) -> StatResult:
    n = int(values.size)
    if n == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, "t")
    mean = float(values.mean())
    if n < 2:
        return StatResult(mean, _NAN, _NAN, n, "t")
    from scipy.stats import t

    half = float(t.ppf(1 - _alpha(confidence), n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return StatResult(mean, mean - half, mean + half, n, "t")


# --- input checks ----------------------------------------------------------------------


def _sorted_levels(levels: Sequence[float]) -> np.ndarray:
    out = np.unique(_as_finite(levels, "levels"))
    if out.size == 0:
        raise ValueError("levels must list the human scale's levels, e.g. [1, 2, 3, 4, 5]; "
                         "got none. Pass HumanLabels.levels.")
    return out


def _level_codes(
    judge_normalized: ArrayLike, sorted_levels: np.ndarray, scale: tuple[float, float]
) -> np.ndarray:
    x = _as_finite(judge_normalized, "judge_normalized")
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        lo = hi = _NAN
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"scale must be (lo, hi) with lo < hi, e.g. (1, 5); got {scale!r}.")
    outside = (x < 0) | (x > 1)
    if outside.any():
        bad = float(x[outside][0])
        raise ValueError(
            f"judge_normalized scores must lie in [0, 1]; got {bad!r} at position "
            f"{int(np.flatnonzero(outside)[0])}. Pass the judge's normalized score, not "
            "its raw rubric score."
        )
    on_scale = lo + x * (hi - lo)
    distance = np.abs(on_scale[:, np.newaxis] - sorted_levels[np.newaxis, :])
    # Round away float noise so that a halfway score ties exactly and argmin picks the lower.
    return np.asarray(np.argmin(np.round(distance / (hi - lo) / _TIE) * _TIE, axis=1))


def _human_codes(y: np.ndarray, sorted_levels: np.ndarray) -> np.ndarray:
    distance = np.abs(y[:, np.newaxis] - sorted_levels[np.newaxis, :])
    codes = np.asarray(np.argmin(distance, axis=1))
    off = distance[np.arange(y.size), codes] > 1e-6
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"every human score must be one of the levels {sorted_levels.tolist()!r}; got "
            f"{float(y[i])!r} at position {i}. Pass HumanLabels.levels for these labels."
        )
    return codes


def _preference_codes(values: Sequence[str], name: str) -> np.ndarray:
    out = []
    for i, v in enumerate(values):
        if v not in _PAIRWISE_LABELS:
            raise ValueError(f"{name} preferences must be 'a', 'b' or 'tie'; got {v!r} at "
                             f"position {i}.")
        out.append(_PAIRWISE_LABELS.index(v))
    return np.array(out, dtype=int)


def _as_finite(values: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, one value per item; got an array "
                         f"of shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite numbers; got NaN or infinity. Drop the items "
                         "the judge or the humans did not score.")
    return x


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str,
                 allow_empty: bool = False) -> None:
    if a.size != b.size:
        raise ValueError(f"{name_a} and {name_b} must hold one value per item, in the same "
                         f"order; got {a.size} and {b.size}.")
    if not allow_empty and a.size == 0:
        raise ValueError(f"{name_a} and {name_b} are empty; expected at least one item.")


def _check_resamples(n_resamples: object) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) \
            or n_resamples < 0:
        raise ValueError(f"n_resamples must be a whole number, 0 (no intervals) or more "
                         f"(2,000 is usual); got {n_resamples!r}.")
    return int(n_resamples)


def _alpha(confidence: float) -> float:
    """The tail probability ``(1 - confidence) / 2``."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, such as 0.95; got "
                         f"{confidence!r}.")
    return (1 - float(confidence)) / 2


def _fmt_level(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0")


def _fmt_interval(r: StatResult, with_estimate: bool = True, percent: bool = False) -> str:
    fmt: Callable[[float], str] = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.2f}")
    bounds = f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]"
    return f"{fmt(r.estimate)} {bounds}" if with_estimate else bounds
