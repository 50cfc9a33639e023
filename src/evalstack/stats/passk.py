"""pass@k: the chance that at least one of k samples passes, estimated without bias.

Chen et al. (2021), "Evaluating Large Language Models Trained on Code", section 2.1: with ``n``
samples of a problem of which ``c`` pass, the unbiased estimator of pass@k is

    1 - C(n - c, k) / C(n, k)

computed here as ``1 - prod(1 - k / i for i in n-c+1 .. n)``, which never forms the huge binomial
coefficients (the paper's numerically stable form). pass@1 reduces to ``c / n``, so the mean of
per-sample pass/fail over every problem and epoch is the unbiased pass@1.

Pure functions on numbers: this module imports nothing from evalstack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


def _check(n: int, c: int, k: int) -> None:
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"pass_at_k: {name} must be an integer; received {value!r}.")
    if n < 1:
        raise ValueError(f"pass_at_k: n (samples per problem) must be >= 1; received {n}.")
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: c (passing samples) must be in [0, n={n}]; received {c}.")
    if not 1 <= k <= n:
        raise ValueError(
            f"pass_at_k: k must be in [1, n={n}]; received {k}. pass@k needs at least k "
            f"samples per problem: run with --epochs {k} or more."
        )


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k for one problem (Chen et al. 2021).

    Args:
        n: samples generated for the problem (``n >= 1``).
        c: how many of them passed (``0 <= c <= n``).
        k: the budget of attempts (``1 <= k <= n``).

    Returns:
        ``1 - C(n-c, k) / C(n, k)``, the probability that a random k-subset of the n samples
        holds at least one passing sample.

    Raises:
        ValueError: ``n``, ``c`` or ``k`` is out of range (the message says which).
        TypeError: an argument is not an integer.

    Examples:
        >>> pass_at_k(10, 3, 1)
        0.3
        >>> round(pass_at_k(10, 3, 5), 4)
        0.9167
        >>> pass_at_k(5, 4, 2)
        1.0
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    if k == 1:
        return c / n  # the same value, without the product's rounding
    terms = 1.0 - k / np.arange(n - c + 1, n + 1, dtype=float)
    return float(1.0 - np.prod(terms))


@dataclass(frozen=True, slots=True)
class PassAtK:
    """pass@k averaged over problems.

    Attributes:
        k: the attempt budget.
        estimate: the mean of the per-problem estimates (``nan`` when no problem qualifies).
        n_problems: problems with at least ``k`` samples, which the mean covers.
        skipped: problems with fewer than ``k`` samples, left out.
        method: ``chen2021_unbiased``.
    """

    k: int
    estimate: float
    n_problems: int
    skipped: int
    method: str = "chen2021_unbiased"


def pass_at_k_by_problem(results: Iterable[tuple[str, float | bool]], k: int) -> PassAtK:
    """pass@k over problems, from one ``(problem_id, passed)`` pair per sample.

    Pairs of the same problem are counted together: ``n`` is how many pairs it has and ``c``
    how many passed (a value of 1/``True`` passes; anything else fails). Problems with fewer
    than ``k`` samples are skipped and counted in ``skipped``.

    Args:
        results: ``(problem_id, passed)`` pairs, in any order.
        k: the attempt budget (``>= 1``).

    Returns:
        A ``PassAtK`` with the mean over qualifying problems.

    Examples:
        >>> rows = [("a", 1), ("a", 0), ("a", 0), ("b", 0), ("b", 0), ("b", 1)]
        >>> round(pass_at_k_by_problem(rows, 2).estimate, 4)
        0.6667
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"pass_at_k_by_problem: k must be an integer >= 1; received {k!r}.")
    counts: dict[str, list[int]] = {}
    for problem, passed in results:
        nc = counts.setdefault(problem, [0, 0])
        nc[0] += 1
        nc[1] += 1 if float(passed) == 1.0 else 0
    estimates = [pass_at_k(n, c, k) for n, c in counts.values() if n >= k]
    skipped = len(counts) - len(estimates)
    estimate = float(np.mean(estimates)) if estimates else float("nan")
    return PassAtK(k=k, estimate=estimate, n_problems=len(estimates), skipped=skipped)
