"""Stored pairwise battles: who met whom on which prompt, and who decided the outcome.

Blind votes from the viewer (``decided_by="human"``), judged pairs from ``evalstack arena run``
and ``evalstack judge pairwise`` (``"judge"``, with the judge's model, version and template
hash, and whether both orders agreed) and imported battle logs (``"import"``) all land in the
``battles`` table. A battle that could not be decided is stored with ``outcome=None`` and the
reason in ``flag``: it is counted and shown, never fitted, never silently dropped.

Examples:
    >>> from datetime import UTC, datetime
    >>> from evalstack.store import Store
    >>> with Store.open("sqlite://") as store:
    ...     b = BattleRecord(arena="demo", prompt_id="1", model_a="x", model_b="y",
    ...                      outcome="a", decided_by="human", labeller="ann")
    ...     n = add_battles(store, [b, b.with_key("k1"), b.with_key("k1")])
    ...     n, [(r.model_a, r.outcome) for r in list_battles(store, "demo")]
    (2, [('x', 'a'), ('x', 'a')])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from evalstack.core.text import clean_text
from evalstack.store import connect
from evalstack.store._rows import to_utc
from evalstack.store.loadtests import _guarded
from evalstack.store.tables import battles

#: The outcomes a decided battle can have: A won, B won, a tie, both bad (a tie for ratings).
OUTCOMES = ("a", "b", "tie", "bad")
#: Who decided a battle.
DECIDERS = ("human", "judge", "import")


@dataclass(frozen=True, slots=True)
class BattleRecord:
    """One battle between contestants ``model_a`` and ``model_b`` on one prompt.

    Attributes:
        arena: the leaderboard the battle belongs to (e.g. the task name).
        prompt_id: the prompt (sample id); intervals resample prompts, so battles sharing
            one are not treated as independent.
        outcome: ``"a"``, ``"b"``, ``"tie"``, ``"bad"`` (both bad), or ``None`` when the
            battle could not be decided; ``flag`` then says why.
        decided_by: ``"human"``, ``"judge"`` or ``"import"``.
        labeller: the human (or the imported log's judge field).
        judge / judge_version / template_hash: the judge model, its reported version, and
            the hash of the prompt templates it was asked with.
        consistent: whether both orders named the same winner (judged battles).
        len_a / len_b: the answers' lengths in characters (style control).
        key: a content key making judged and imported battles idempotent.
    """

    arena: str
    prompt_id: str
    model_a: str
    model_b: str
    outcome: str | None
    decided_by: str
    category: str | None = None
    turn: int = 1
    run_a: str | None = None
    run_b: str | None = None
    flag: str | None = None
    labeller: str | None = None
    judge: str | None = None
    judge_version: str | None = None
    template_hash: str | None = None
    consistent: bool | None = None
    len_a: int | None = None
    len_b: int | None = None
    source: str | None = None
    key: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"A battle outcome must be one of {', '.join(OUTCOMES)} or None; "
                             f"received {self.outcome!r}.")
        if self.decided_by not in DECIDERS:
            raise ValueError(f"decided_by must be one of {', '.join(DECIDERS)}; received "
                             f"{self.decided_by!r}.")
        if self.outcome is None and not self.flag:
            raise ValueError("A battle without an outcome needs a flag saying why.")

    def with_key(self, key: str) -> BattleRecord:
        """This battle with the idempotency key ``key``."""
        return dataclasses.replace(self, key=key)

    @property
    def score(self) -> float | None:
        """1.0 when A won, 0.0 when B won, 0.5 for a tie or both bad, None when undecided."""
        return {"a": 1.0, "b": 0.0, "tie": 0.5, "bad": 0.5}.get(self.outcome or "")

    def to_dict(self) -> dict[str, Any]:
        """The battle as JSON-able data."""
        out = dataclasses.asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


def battle_key(*parts: object) -> str:
    """A stable content key from the parts that identify a decided battle."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()


_TEXT = ("arena", "prompt_id", "category", "model_a", "model_b", "flag", "labeller", "judge",
         "judge_version", "source")


def _to_row(record: BattleRecord) -> dict[str, Any]:
    row = dataclasses.asdict(record)
    row.pop("id")
    for name in _TEXT:
        if row[name] is not None:
            row[name] = clean_text(row[name])
    row["created_at"] = to_utc(record.created_at)
    return row


def _from_row(row: sa.RowMapping) -> BattleRecord:
    values = dict(row)
    values["created_at"] = to_utc(values["created_at"])
    return BattleRecord(**values)


@_guarded
def add_battles(store: Any, records: Iterable[BattleRecord], *,
                retry_flagged: bool = False) -> int:
    """Insert battles; a battle whose ``key`` is already stored is skipped.

    With ``retry_flagged``, a stored *flagged* battle with the same key (a judge that
    failed) is replaced instead: an error is never kept in place of a verdict a retry got.

    Returns:
        How many battles were added (replacements of flagged ones included).
    """
    rows = [_to_row(r) for r in records]
    if not rows:
        return 0
    keys = [r["key"] for r in rows if r["key"] is not None]
    with connect.write_transaction(store.engine) as conn:
        seen: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            found = conn.execute(sa.select(battles.c.key, battles.c.outcome).where(
                battles.c.key.in_(chunk))).all()
            seen.update(k for k, outcome in found if outcome is not None or not retry_flagged)
            stale = [k for k, outcome in found if outcome is None and retry_flagged]
            if stale:
                conn.execute(battles.delete().where(battles.c.key.in_(stale)))
        fresh = []
        for row in rows:
            if row["key"] is not None:
                if row["key"] in seen:
                    continue
                seen.add(row["key"])
            fresh.append(row)
        if fresh:
            conn.execute(battles.insert(), fresh)
    return len(fresh)


@_guarded
def list_battles(store: Any, arena: str | None = None, *,
                 category: str | None = None) -> list[BattleRecord]:
    """Battles oldest first, of one arena (and category) when given."""
    query = sa.select(battles).order_by(battles.c.id)
    if arena is not None:
        query = query.where(battles.c.arena == arena)
    if category is not None:
        query = query.where(battles.c.category == category)
    with store.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(query).mappings()]


@_guarded
def list_arenas(store: Any) -> list[tuple[str, int]]:
    """Every arena with its number of battles, largest first."""
    query = (sa.select(battles.c.arena, sa.func.count()).group_by(battles.c.arena)
             .order_by(sa.func.count().desc(), battles.c.arena))
    with store.engine.connect() as conn:
        return [(str(name), int(n)) for name, n in conn.execute(query)]


@_guarded
def decided_keys(store: Any, arena: str) -> set[str]:
    """The keys of the arena's decided battles (what a rerun need not judge again)."""
    query = sa.select(battles.c.key).where(battles.c.arena == arena,
                                           battles.c.key.is_not(None),
                                           battles.c.outcome.is_not(None))
    with store.engine.connect() as conn:
        return {str(k) for k in conn.execute(query).scalars()}


def decided(records: Sequence[BattleRecord]) -> list[BattleRecord]:
    """The battles with an outcome (the ones a rating is fitted on)."""
    return [r for r in records if r.outcome is not None]
