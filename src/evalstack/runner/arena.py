"""Judged battles: contestants' stored answers compared pairwise by a judge, in both orders.

``collect_answers`` reads a run's answers (every turn of a multi-turn task); ``plan_battles``
lists the (pair, prompt, turn) battles to judge, all of them or, within a budget, the ones
active choice picks round by round; ``judge_battles`` asks the judge through the model layer
(so replies are cached in the store) and returns ``BattleRecord``s.

Each battle is judged twice, A shown first and then B. Both orders naming the same winner is
the verdict; orders that disagree are a tie marked inconsistent (the judge followed the
position). A battle without a verdict in both orders is stored flagged, with the judge's
errors, and is not rated: a single order's verdict is the position-biased kind the two
orders exist to remove.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evalstack.core.errors import ScorerError
from evalstack.scorers.judge.pairwise import PairwiseJudge, combine
from evalstack.store.battles import BattleRecord, battle_key


@dataclass(frozen=True, slots=True)
class Answer:
    """One contestant's answer to one prompt: the user turns and the replies to them."""

    prompt_id: str
    category: str | None
    user_turns: tuple[str, ...]
    replies: tuple[str, ...]
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Contestant:
    """A contestant: its name on the leaderboard, its run, and its answers by prompt id."""

    name: str
    run_id: str | None
    answers: dict[str, Answer]


@dataclass(frozen=True, slots=True)
class Planned:
    """One battle to judge: contestant ``a`` against ``b`` on a prompt's ``turn``."""

    a: str
    b: str
    prompt_id: str
    turn: int


def collect_answers(store: Any, run_id: str) -> dict[str, Answer]:
    """The first epoch's successful answers of a run, by sample id."""
    out: dict[str, Answer] = {}
    for r in store.iter_samples(run_id, errors=False):
        if r.sample_id in out:
            continue  # later epochs: one answer per prompt and contestant
        meta = r.metadata or {}
        turns = meta.get("user_turns")
        replies = meta.get("turns")
        if (isinstance(turns, list) and isinstance(replies, list) and len(turns) == len(replies)
                and all(isinstance(t, str) for t in turns + replies)):
            user, said = tuple(turns), tuple(replies)
        else:
            user, said = (r.input_text(),), (r.output,)
        out[r.sample_id] = Answer(r.sample_id, r.category, user, said, r.target_text())
    return out


def turn_texts(a: Answer, b: Answer, turn: int) -> tuple[str, str, str]:
    """(question, response A, response B) for a battle on ``turn`` (1-based).

    Turn 1 is the first question and the first replies. A later turn shows each contestant's
    whole conversation up to that turn, as FastChat's multi-turn pairwise prompt does, and
    asks about the reply to that turn's question.
    """
    if turn == 1:
        return a.user_turns[0], a.replies[0], b.replies[0]

    def transcript(ans: Answer) -> str:
        parts = []
        for k in range(turn):
            parts.append(f"### User:\n{ans.user_turns[k]}\n\n### Assistant:\n{ans.replies[k]}")
        return "\n\n".join(parts)

    question = (f"A conversation of {turn} user turns. Judge the assistant's reply to the last "
                f"user question, in the context of the conversation:\n{a.user_turns[turn - 1]}")
    return question, transcript(a), transcript(b)


def all_battles(contestants: Sequence[Contestant], pairs: Sequence[tuple[str, str]],
                turns: bool) -> list[Planned]:
    """Every (pair, shared prompt, turn) battle, in a fixed order."""
    by_name = {c.name: c for c in contestants}
    out: list[Planned] = []
    for a, b in pairs:
        ans_a, ans_b = by_name[a].answers, by_name[b].answers
        for pid in sorted(set(ans_a) & set(ans_b), key=_natural):
            n = min(len(ans_a[pid].replies), len(ans_b[pid].replies)) if turns else 1
            out.extend(Planned(a, b, pid, t) for t in range(1, n + 1))
    return out


def _natural(pid: str) -> tuple[int, str]:
    return (int(pid), "") if pid.isdigit() else (1 << 62, pid)


def plan_round(candidates: Sequence[Planned], chosen_pairs: Sequence[tuple[str, str]],
               done: set[tuple[str, str, str, int]], rng: random.Random) -> list[Planned]:
    """One unjudged battle for each chosen pair (a random prompt among those left)."""
    left: dict[tuple[str, str], list[Planned]] = {}
    for p in candidates:
        if (p.a, p.b, p.prompt_id, p.turn) not in done:
            left.setdefault((p.a, p.b), []).append(p)
    out = []
    for pair in chosen_pairs:
        key = pair if pair in left else (pair[1], pair[0])
        options = left.get(key)
        if options:
            pick = options.pop(rng.randrange(len(options)))
            out.append(pick)
    return out


def battle_id(arena: str, p: Planned, judge: str, template_hash: str) -> str:
    """The idempotency key of a judged battle (a rerun judges nothing twice)."""
    return battle_key("judge", arena, p.prompt_id, p.turn, p.a, p.b, judge, template_hash)


async def _judge_one(judge: PairwiseJudge, judge_spec: str, arena: str, p: Planned,
                     by_name: dict[str, Contestant], reference: bool) -> BattleRecord:
    a, b = by_name[p.a], by_name[p.b]
    ans_a, ans_b = a.answers[p.prompt_id], b.answers[p.prompt_id]
    question, text_a, text_b = turn_texts(ans_a, ans_b, p.turn)
    ref = ans_a.reference if reference and p.turn == 1 else None
    verdicts: list[Any] = []
    for first, second in ((text_a, text_b), (text_b, text_a)):
        try:
            verdicts.append(await judge.one_order(question, first, second, ref))
        except ScorerError as exc:
            verdicts.append(exc)
    ab, ba = verdicts
    common = dict(arena=arena, prompt_id=p.prompt_id, category=ans_a.category, turn=p.turn,
                  model_a=p.a, model_b=p.b, run_a=a.run_id, run_b=b.run_id,
                  decided_by="judge", judge=judge_spec, template_hash=judge.template_hash,
                  len_a=len(ans_a.replies[p.turn - 1]), len_b=len(ans_b.replies[p.turn - 1]),
                  source="arena run", key=battle_id(arena, p, judge_spec, judge.template_hash))
    errors = [v for v in verdicts if isinstance(v, ScorerError)]
    if errors:
        which = ("in both orders" if len(errors) == 2
                 else "with A first" if isinstance(ab, ScorerError) else "with B first")
        return BattleRecord(
            outcome=None, consistent=None,
            flag=f"judge gave no verdict {which}: {errors[0]}"[:500], **common)  # type: ignore[arg-type]
    a_first = {"1": "a", "2": "b", "tie": "tie"}[ab.verdict.winner]
    b_first = {"1": "b", "2": "a", "tie": "tie"}[ba.verdict.winner]
    winner, consistent = combine(a_first, b_first)  # type: ignore[arg-type]
    return BattleRecord(outcome=winner, consistent=consistent,
                        judge_version=ab.version or ba.version, **common)  # type: ignore[arg-type]


async def judge_battles(judge: PairwiseJudge, judge_spec: str, arena: str,
                        battles: Sequence[Planned], contestants: Sequence[Contestant], *,
                        reference: bool = False,
                        progress: Callable[[BattleRecord], None] | None = None
                        ) -> list[BattleRecord]:
    """Judge every planned battle in both orders; flagged records for the ones with no verdict."""
    by_name = {c.name: c for c in contestants}

    async def one(p: Planned) -> BattleRecord:
        record = await _judge_one(judge, judge_spec, arena, p, by_name, reference)
        if progress is not None:
            progress(record)
        return record

    return list(await asyncio.gather(*(one(p) for p in battles)))
