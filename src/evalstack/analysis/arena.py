"""The arena's leaderboard: stored battles turned into Bradley-Terry ratings with honest
intervals, and the next battles worth having.

``leaderboard(battles)`` fits Bradley-Terry on the decided battles (ties and "both bad" count
as half a win each), with a 95% interval from a bootstrap that resamples prompts, so battles
that share a prompt are not counted as independent evidence; the battle-resampling interval
(FastChat's and arena-hard-auto's kind) is computed beside it for comparison. Flagged battles
(no outcome) are counted by reason, never fitted. Contestants that never meet, directly or
through others, cannot be put on one scale: that is reported with the groups, not papered
over.

``next_battles(battles, contestants, k)`` chooses the pairs that most reduce the uncertainty
at the top of the ranking (``stats.active_pairs``), for a labelling queue or a judge budget.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evalstack.core.errors import UserError
from evalstack.stats.ranking import BradleyTerry, DisconnectedComparisons, bradley_terry
from evalstack.store.battles import BattleRecord, decided

#: Bootstrap samples behind the leaderboard's intervals.
DEFAULT_BOOT = 1000


@dataclass(frozen=True, slots=True)
class Row:
    """One contestant's line on the leaderboard (ratings on the Elo scale)."""

    name: str
    rating: float
    ci_low: float
    ci_high: float
    battle_ci_low: float
    battle_ci_high: float
    rank: int
    rank_low: int
    rank_high: int
    battles: int
    wins: int
    losses: int
    ties: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """Ratings of one arena (or one category of it), best first.

    Attributes:
        n_battles / n_prompts: the decided battles fitted and the prompts they came from.
        flagged: undecided battles by reason (not fitted).
        win_rate: the predicted probability that the row's contestant beats the column's.
        style_coef: the style covariate's coefficient (answer length difference), if fitted.
        separated: the top contestant's 95% rank interval is [1, 1] (it is first in at least
            97.5% of the bootstrap samples), so the leaderboard supports naming a winner.
        verdict: what the leaderboard can and cannot support, in one sentence.
    """

    arena: str
    category: str | None
    n_battles: int
    n_prompts: int
    rows: list[Row]
    win_rate: dict[str, dict[str, float]]
    flagged: dict[str, int]
    method: str
    style_coef: float | None
    separated: bool
    verdict: str
    warning: str | None = None
    deciders: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data (what ``arena leaderboard --json`` prints)."""
        return asdict(self)


def _flag_reason(flag: str) -> str:
    """A flag's kind, for counting: "f.json:12: unknown winner 'x'; ..." -> "unknown winner"."""
    text = re.sub(r"^\S+:\d+: ", "", flag)
    return re.split(r"[:;(]| '| \"", text, maxsplit=1)[0].strip() or "flagged"


def _counts(rows: Sequence[BattleRecord]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for r in rows:
        for me, other_won, i_won in ((r.model_a, r.outcome == "b", r.outcome == "a"),
                                     (r.model_b, r.outcome == "a", r.outcome == "b")):
            c = out.setdefault(me, Counter())
            c["battles"] += 1
            c["wins"] += int(i_won)
            c["losses"] += int(other_won)
            c["ties"] += int(not i_won and not other_won)
    return out


def _style(rows: Sequence[BattleRecord]) -> np.ndarray | None:
    """lmarena's style covariate: (len_a - len_b) / (len_a + len_b), when every battle has both."""
    if not rows or any(r.len_a is None or r.len_b is None for r in rows):
        return None
    a = np.array([r.len_a for r in rows], dtype=float)
    b = np.array([r.len_b for r in rows], dtype=float)
    return np.where(a + b > 0, (a - b) / np.maximum(a + b, 1.0), 0.0)


def leaderboard(battles: Sequence[BattleRecord], *, arena: str, category: str | None = None,
                n_boot: int = DEFAULT_BOOT, seed: int = 0, style: bool = False,
                ties: str = "half", confidence: float = 0.95) -> Leaderboard:
    """The leaderboard of ``battles`` (flagged ones are counted, not fitted).

    Raises:
        UserError: no decided battle, or contestants fall into groups that never meet.
    """
    rows = [r for r in decided(battles) if r.model_a != r.model_b]
    flagged = Counter(_flag_reason(r.flag or "flagged") for r in battles if r.outcome is None)
    if len(rows) < len(decided(battles)):  # e.g. a vote between two runs given as one
        flagged["a self-battle"] += len(decided(battles)) - len(rows)
    where = f"arena {arena!r}" + (f", category {category!r}" if category else "")
    if not rows:
        raise UserError(
            f"The {where} has no decided battle to rate ({sum(flagged.values())} flagged: "
            f"{dict(flagged) or 'none'}). Add battles with `evalstack arena run`, "
            f"`evalstack arena import` or the viewer's blind-vote queue."
        )
    covariate = _style(rows) if style else None
    if style and covariate is None:
        raise UserError(f"Style control needs every battle's answer lengths; some battles in "
                        f"the {where} have none (imported without the answers).")
    a = [r.model_a for r in rows]
    b = [r.model_b for r in rows]
    outcome = [r.score if r.score is not None else 0.5 for r in rows]  # all decided
    prompts = [r.prompt_id for r in rows]  # both turns of a question are one cluster
    try:
        fit = bradley_terry(a, b, outcome, prompts=prompts, n_boot=n_boot, cluster=True,
                            seed=seed, ties=ties, style=covariate,  # type: ignore[arg-type]
                            confidence=confidence)
        plain = bradley_terry(a, b, outcome, prompts=prompts, n_boot=n_boot, cluster=False,
                              seed=seed, ties=ties, style=covariate,  # type: ignore[arg-type]
                              confidence=confidence)
    except DisconnectedComparisons as exc:
        groups = "; ".join("{" + ", ".join(g[:6]) + (", ..." if len(g) > 6 else "") + "}"
                           for g in exc.groups[:8])
        more = f" (and {len(exc.groups) - 8} more groups)" if len(exc.groups) > 8 else ""
        raise UserError(
            f"The contestants of the {where} fall into {len(exc.groups)} groups that never "
            f"meet, directly or through others, so their ratings cannot be put on one scale: "
            f"{groups}{more}. Add battles between the groups (e.g. `evalstack arena run` with "
            f"a contestant from each), or rate each group on its own."
        ) from None
    return _assemble(fit, plain, rows, flagged, arena, category, covariate is not None)


def _assemble(fit: BradleyTerry, plain: BradleyTerry, rows: Sequence[BattleRecord],
              flagged: Counter[str], arena: str, category: str | None,
              styled: bool) -> Leaderboard:
    counts = _counts(rows)
    names = list(fit.names)
    assert fit.intervals is not None and fit.rank_intervals is not None  # n_boot > 0
    assert plain.intervals is not None
    table = []
    for rank, name in enumerate(names, start=1):
        lo, hi = fit.intervals[name]
        blo, bhi = plain.intervals[name]
        rlo, rhi = fit.rank_intervals[name]
        c = counts[name]
        table.append(Row(name, float(fit.elo[name]), float(lo), float(hi), float(blo), float(bhi),
                         rank, int(rlo), int(rhi), c["battles"], c["wins"], c["losses"],
                         c["ties"]))
    matrix = np.asarray(fit.win_rate, dtype=float)
    order = names
    win_rate = {order[i]: {order[j]: float(matrix[i, j]) for j in range(len(order)) if i != j}
                for i in range(len(order))}
    separated = (len(table) >= 2 and table[0].rank_high == 1
                 and all(r.rank_low > 1 for r in table[1:]))
    n_prompts = len({r.prompt_id for r in rows})
    if len(table) < 2:
        verdict = "Only one contestant has decided battles: there is nothing to rank."
    elif separated:
        verdict = (f"{table[0].name} ranks first across its 95% rank interval in the "
                   f"prompt-resampled leaderboards: the data support naming it the best here.")
    else:
        tied = [r.name for r in table if r.rank_low == 1]
        verdict = (f"Not decided: {', '.join(tied)} each rank first in some of the "
                   f"prompt-resampled leaderboards; more battles (or prompts) are needed to "
                   f"separate them (see `evalstack arena next`).")
    coef = None
    if styled and fit.style_coef is not None:
        coef = float(np.atleast_1d(np.asarray(fit.style_coef, dtype=float))[0])
    return Leaderboard(
        arena=arena, category=category, n_battles=len(rows), n_prompts=n_prompts,
        rows=table, win_rate=win_rate, flagged=dict(flagged), method=fit.method,
        style_coef=coef, separated=separated, verdict=verdict,
        warning=fit.warning,
        deciders=dict(Counter(r.decided_by for r in rows)),
    )


def by_category(battles: Sequence[BattleRecord], *, arena: str, **options: Any
                ) -> list[Leaderboard | tuple[str, str]]:
    """One leaderboard per category (a category that cannot be rated gives its reason)."""
    cats = sorted({r.category or "(none)" for r in battles})
    out: list[Leaderboard | tuple[str, str]] = []
    for cat in cats:
        part = [r for r in battles if (r.category or "(none)") == cat]
        try:
            out.append(leaderboard(part, arena=arena, category=cat, **options))
        except UserError as exc:
            out.append((cat, str(exc)))
    return out


def next_battles(battles: Sequence[BattleRecord], contestants: Sequence[str], k: int,
                 ) -> list[tuple[str, str]]:
    """The ``k`` pairs whose next battle most reduces the uncertainty at the top."""
    from evalstack.stats.active_pairs import next_pairs

    names = sorted(set(contestants))
    if len(names) < 2:
        raise UserError(f"Active choice needs at least two contestants; received {names}.")
    index = {n: i for i, n in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    for r in decided(battles):
        if r.model_a not in index or r.model_b not in index:
            continue
        i, j = index[r.model_a], index[r.model_b]
        s = r.score or 0.0
        wins[i, j] += s
        wins[j, i] += 1.0 - s
    return next_pairs(wins, names, k)


def markdown(board: Leaderboard) -> str:
    """The leaderboard as a Markdown table, with its verdict and its method."""
    title = f"### Arena {board.arena}" + (f" · {board.category}" if board.category else "")
    lines = [title, "",
             f"{board.n_battles} decided battles on {board.n_prompts} prompts; "
             f"{sum(board.flagged.values())} flagged. Ratings on the Elo scale (mean 1000); "
             f"95% intervals from a {board.method}; the battle-resampling interval beside it.",
             "",
             "| rank | contestant | rating | 95% CI (prompts) | 95% CI (battles) | rank range "
             "| battles | W-L-T |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in board.rows:
        name = r.name.replace("|", "\\|")
        lines.append(
            f"| {r.rank} | {name} | {r.rating:.0f} | [{r.ci_low:.0f}, {r.ci_high:.0f}] | "
            f"[{r.battle_ci_low:.0f}, {r.battle_ci_high:.0f}] | {r.rank_low}-{r.rank_high} | "
            f"{r.battles} | {r.wins}-{r.losses}-{r.ties} |")
    lines += ["", board.verdict]
    if board.style_coef is not None:
        lines.append(f"Style coefficient (length difference): {board.style_coef:+.3f}.")
    if board.flagged:
        lines.append("Flagged, not rated: " + ", ".join(f"{k} ({v})"
                                                      for k, v in board.flagged.items()) + ".")
    if board.warning:
        lines.append(f"Warning: {board.warning}")
    return "\n".join(lines) + "\n"
