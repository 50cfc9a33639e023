"""Stored battles: the ``battles`` table, its migration from an older store, idempotent keys,
flagged battles, and run deletion keeping the battles (``SET NULL``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from store_helpers import make_run, upgrade_store_to

from evalstack.store import Store
from evalstack.store import connect as store_connect
from evalstack.store.battles import (
    BattleRecord,
    add_battles,
    decided_keys,
    list_arenas,
    list_battles,
)

_T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def _battle(**overrides: object) -> BattleRecord:
    values: dict[str, object] = {"arena": "demo", "prompt_id": "1", "model_a": "x",
                                 "model_b": "y", "outcome": "a", "decided_by": "judge",
                                 "judge": "local/smollm2", "created_at": _T0}
    values.update(overrides)
    return BattleRecord(**values)  # type: ignore[arg-type]


def test_a_store_at_the_previous_revision_is_upgraded(store_url: str) -> None:
    upgrade_store_to(store_url, "0007", "battles")
    with Store.open(store_url) as store:
        run = make_run()
        store.create_run(run)
    with Store.open(store_url) as store, store.engine.connect() as conn:
        assert sa.inspect(conn).has_table("battles")
        assert add_battles(store, [_battle(run_a=run.id)]) == 1
        assert list_battles(store, "demo")[0].run_a == run.id


def test_round_trip_keys_and_flagged_retry(store: Store) -> None:
    decided = _battle(key="k1", consistent=True, len_a=10, len_b=3, category="math")
    flagged = _battle(key="k2", outcome=None, flag="judge gave no verdict in both orders")
    vote = _battle(decided_by="human", labeller="ann", judge=None, outcome="tie")
    assert add_battles(store, [decided, flagged, vote, vote]) == 4  # votes have no key
    assert add_battles(store, [decided, flagged]) == 0
    stored = list_battles(store, "demo")
    assert [(b.key, b.outcome) for b in stored] == [("k1", "a"), ("k2", None), (None, "tie"),
                                                    (None, "tie")]
    assert stored[0] == BattleRecord(**{**decided.to_dict(), "created_at": _T0,
                                        "id": stored[0].id})
    assert decided_keys(store, "demo") == {"k1"}
    # a retried judge that now gives a verdict replaces the flagged battle
    assert add_battles(store, [_battle(key="k2", outcome="b")], retry_flagged=True) == 1
    assert [(b.key, b.outcome) for b in list_battles(store, "demo") if b.key] == [
        ("k1", "a"), ("k2", "b")]
    assert list_battles(store, "demo", category="math") == [stored[0]]
    assert list_arenas(store) == [("demo", 4)]


def test_deleting_a_run_keeps_its_battles(store: Store) -> None:
    run = make_run()
    store.create_run(run)
    add_battles(store, [_battle(run_a=run.id)])
    with store_connect.write_transaction(store.engine) as conn:
        conn.execute(sa.text("DELETE FROM runs WHERE id = :i"), {"i": run.id})
    assert [b.run_a for b in list_battles(store)] == [None]


def test_bad_records_are_refused_before_the_store() -> None:
    with pytest.raises(ValueError, match="outcome must be one of a, b, tie, bad"):
        _battle(outcome="left")
    with pytest.raises(ValueError, match="needs a flag"):
        _battle(outcome=None)
    with pytest.raises(ValueError, match="decided_by must be one of"):
        _battle(decided_by="robot")
