"""Judge-corrected means: prediction-powered inference (PPI and PPI++).

An LLM judge can score every item, but its scores are not the human labels: a judge that
is lenient, strict or noisy gives a mean, and an interval around it, for the wrong
quantity. When humans have also labelled a small random subset, prediction-powered
inference uses that subset to measure the judge's error and remove it, and returns an
interval for the *human* mean that stays valid however good or bad the judge is. A good
judge makes the interval narrower than the human labels alone would; a poor one cannot
make it invalid.

References:
    Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. and Zrnic, T. (2023).
    Prediction-powered inference. Science 382(6671), 669-674.

    Angelopoulos, A. N., Duchi, J. C. and Zrnic, T. (2023). PPI++: Efficient
    prediction-powered inference. arXiv:2311.01453. Section 2 and Example 6.1 (the
    power-tuned mean).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from evalstack.stats.intervals import _as_values, _critical_value
from evalstack.stats.result import StatResult


def ppi_mean(
    judge_unlabeled: ArrayLike,
    judge_labeled: ArrayLike,
    human_labeled: ArrayLike,
    confidence: float = 0.95,
    power_tuning: bool = True,
) -> StatResult:
    """The mean human score, estimated from judge scores corrected on a labelled subset.

    Prediction-powered inference (Angelopoulos et al. 2023) estimates the mean human
    score ``theta`` from ``N`` items that only the judge scored and ``n`` items that both
    the judge and a human scored::

        theta = lam * mean(judge_unlabeled) + mean(human_labeled - lam * judge_labeled)

    The second term, the *rectifier*, measures on the labelled items how far the judge
    is from the humans and adds that correction back. Classic PPI takes ``lam = 1``. PPI++
    (Angelopoulos, Duchi & Zrnic 2023) tunes ``lam`` to minimise the variance::

        lam = cov(human, judge) / ((1 + n / N) * var(judge))

    clipped to ``[0, 1]``, with the covariance taken over the labelled items and the
    judge's variance over all ``n + N`` items (as in the authors' ``ppi_py``). With
    ``lam = 0`` the estimate is the plain mean of the human labels, so a useless judge
    costs nothing asymptotically and a good one narrows the interval. The interval is
    the normal one, ``theta +/- z * se``, with::

        se = sqrt(lam^2 * var(judge_unlabeled) / N + var(human_labeled - lam * judge_labeled) / n)

    (sample variances with ``n - 1`` and ``N - 1`` degrees of freedom). It is not clipped
    to the range of the scores.

    Assumptions, on which the interval's validity rests:

    * The labelled items are a uniformly random sample of the same population as the
      unlabelled ones (not the hardest cases, not the ones the judge was unsure of, not
      a different time period). Nothing is assumed about the judge itself.
    * The human labels are the quantity being estimated: the interval covers the mean
      human score, including whatever noise the human labels carry.
    * The judge scored every item, labelled and unlabelled, the same way (same judge,
      prompt and settings), and the judge was not tuned on the labelled items.
    * Items are independent; the interval is asymptotic (normal approximation), so a
      few dozen labelled items at least, and more when the scores are rare events.

    Read the result as: with probability ``confidence`` over the draw of the items and
    the labelled subset, the interval contains the mean score humans would give over the
    whole population. The judge-only mean, with an interval from its own scores, answers
    a different question (the mean *judge* score) and should not be reported as the
    human score.

    Args:
        judge_unlabeled: the judge's scores on the ``N`` items without a human label.
        judge_labeled: the judge's scores on the ``n`` items that humans labelled.
        human_labeled: the human scores on those ``n`` items, in the same order.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        power_tuning: ``True`` for PPI++ (tuned ``lam``), ``False`` for classic PPI
            (``lam = 1``).

    Returns:
        The estimate of the mean human score, its interval and ``se``. ``n`` is the
        number of human-labelled items (the ``N`` judge-only items are not counted);
        ``method`` is ``"ppi++"`` or ``"ppi"``.

    Raises:
        ValueError: an input is not one-dimensional or holds NaN or infinity,
            ``judge_labeled`` and ``human_labeled`` differ in length, there are fewer
            than 2 labelled or 2 unlabelled items, or ``confidence`` is outside (0, 1).
        TypeError: ``power_tuning`` is not ``True`` or ``False``.

    Examples:
        A judge that passes everything the humans pass, and one item in five they fail:

        >>> judge_unlabeled = [1] * 80 + [0] * 20
        >>> judge_labeled = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        >>> human_labeled = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
        >>> r = ppi_mean(judge_unlabeled, judge_labeled, human_labeled, power_tuning=False)
        >>> (round(r.estimate, 2), r.n, r.method)
        (0.6, 10, 'ppi')
        >>> ppi_mean(judge_unlabeled, judge_labeled, human_labeled).method
        'ppi++'
    """
    z = _critical_value(confidence)
    if not isinstance(power_tuning, bool | np.bool_):
        raise TypeError(
            f"power_tuning must be True (PPI++) or False (classic PPI); got {power_tuning!r}."
        )
    f_u = _as_values(judge_unlabeled, "judge_unlabeled")
    f_l = _as_values(judge_labeled, "judge_labeled")
    y = _as_values(human_labeled, "human_labeled")
    if f_l.size != y.size:
        raise ValueError(
            f"judge_labeled and human_labeled must hold one score per labelled item, in "
            f"the same order; got {f_l.size} judge scores and {y.size} human scores. Pass "
            "the judge's scores for exactly the items humans labelled."
        )
    n, big_n = int(y.size), int(f_u.size)
    if n < 2:
        raise ValueError(
            f"ppi_mean needs at least 2 human-labelled items to measure the judge's error; "
            f"got {n}. Label a random sample of items (a few dozen or more)."
        )
    if big_n < 2:
        raise ValueError(
            f"ppi_mean needs at least 2 judge-only (unlabelled) items; got {big_n}. With "
            "every item labelled, use mean_ci on the human scores instead."
        )
    lam = _power_tuned_lambda(f_u, f_l, y) if power_tuning else 1.0
    rectified = y - lam * f_l
    estimate = lam * float(f_u.mean()) + float(rectified.mean())
    variance = lam * lam * float(f_u.var(ddof=1)) / big_n + float(rectified.var(ddof=1)) / n
    se = math.sqrt(max(variance, 0.0))
    method = "ppi++" if power_tuning else "ppi"
    return StatResult(estimate, estimate - z * se, estimate + z * se, n, method, se=se)


def _power_tuned_lambda(f_u: np.ndarray, f_l: np.ndarray, y: np.ndarray) -> float:
    """PPI++'s variance-minimising weight on the judge (Angelopoulos et al. 2023, ex. 6.1)."""
    n, big_n = y.size, f_u.size
    var_f = float(np.concatenate((f_l, f_u)).var(ddof=1))
    if var_f == 0:  # a constant judge carries no information: use the human labels alone
        return 0.0
    cov = float(np.cov(y, f_l, ddof=1)[0, 1])
    return min(1.0, max(0.0, cov / ((1 + n / big_n) * var_f)))
