"""Summarising pairwise judge verdicts between two runs: wins, ties, and a sign test.

Each item has a verdict ``"a"``, ``"b"`` or ``"tie"`` and a flag saying whether the two
presentation orders agreed (an order-dependent verdict is already a tie). The summary gives
B's win rate among decisive items (Wilson interval) and a two-sided exact sign test of "A and B
are equally preferred" (ties left out, as the sign test prescribes; Dixon & Mood 1946).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalstack.analysis.judge_agreement import rate
from evalstack.stats.result import StatResult


@dataclass(frozen=True, slots=True)
class PreferenceSummary:
    """Pairwise verdicts over the items two runs share.

    Attributes:
        n: items judged.
        wins_a / wins_b / ties: verdict counts (inconsistent items count as ties).
        inconsistent: ties that come from the two orders disagreeing.
        win_rate_b: B's share of the decisive items, with a Wilson interval.
        inconsistency: the share of items whose verdict depended on the order.
        p_value: the exact two-sided sign test on the decisive items (1.0 when none).
        verdict: one sentence saying what the numbers support.
    """

    n: int
    wins_a: int
    wins_b: int
    ties: int
    inconsistent: int
    win_rate_b: StatResult | None
    inconsistency: StatResult
    p_value: float
    verdict: str


def summarize_preferences(winners: Sequence[str], consistent: Sequence[bool],
                          alpha: float = 0.05, confidence: float = 0.95) -> PreferenceSummary:
    """Count the verdicts and test whether one run is preferred.

    Examples:
        >>> s = summarize_preferences(["b"] * 14 + ["a"] * 2 + ["tie"] * 4, [True] * 20)
        >>> (s.wins_b, s.wins_a, s.ties), round(s.p_value, 4)
        ((14, 2, 4), 0.0042)
        >>> s.verdict
        'B is preferred: it wins 14 of 16 decisive items (87.5%), p=0.0042.'
    """
    if len(winners) != len(consistent):
        raise ValueError("winners and consistent must have the same length")
    bad = sorted({w for w in winners if w not in ("a", "b", "tie")})
    if bad:
        raise ValueError(f"verdicts must be 'a', 'b' or 'tie'; got {bad}")
    n = len(winners)
    wins_a = sum(w == "a" for w in winners)
    wins_b = sum(w == "b" for w in winners)
    ties = n - wins_a - wins_b
    inconsistent = sum(not c for c in consistent)
    decisive = wins_a + wins_b
    if decisive:
        from scipy.stats import binomtest

        p = float(binomtest(wins_b, decisive, 0.5).pvalue)
        win_rate = rate(wins_b, decisive, confidence)
    else:
        p, win_rate = 1.0, None
    if not decisive:
        verdict = "No decisive verdicts: every item was a tie or order-dependent."
    elif p < alpha:
        side, wins = ("B", wins_b) if wins_b > wins_a else ("A", wins_a)
        verdict = (f"{side} is preferred: it wins {wins} of {decisive} decisive items "
                   f"({wins / decisive:.1%}), p={p:.2g}.")
    else:
        verdict = (f"No significant preference: B wins {wins_b} of {decisive} decisive items "
                   f"(p={p:.2g}); judge more items to tell them apart.")
    flips = rate(inconsistent, n, confidence) if n else StatResult(0.0, 0.0, 0.0, 0, "none")
    return PreferenceSummary(n, wins_a, wins_b, ties, inconsistent, win_rate, flips, p, verdict)
