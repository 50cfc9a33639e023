from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from store_helpers import make_run

from evalstack.core.errors import UserError
from evalstack.core.records import RunRecord
from evalstack.store import Store

RunFactory = Callable[..., RunRecord]


def test_a_run_round_trips_with_every_field(store: Store) -> None:
    record = make_run(
        status="completed",
        limit=5,
        epochs=3,
        git_revision="0123abcd",
        summary={"metrics": {"accuracy": {"estimate": 0.5, "n": 10}}},
        error="boom",
        config={"nested": {"list": [1, 2.5, "x", None, True]}},
    )
    store.create_run(record)
    assert store.get_run(record.id) == record
    assert store.get_run(record.id).created_at.tzinfo is not None


def test_timestamps_are_stored_as_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 5, 1, 12, 0, 0, tzinfo=plus_two)
    record = make_run(created_at=local, updated_at=local)
    store.create_run(record)
    back = store.get_run(record.id)
    assert back.created_at == local
    assert back.created_at.utcoffset() == timedelta(0)
    assert back.created_at.hour == 10


def test_list_runs_is_newest_first_and_filters(store: Store, run_factory: RunFactory) -> None:
    a = run_factory(task_name="alpha", model="m1")
    b = run_factory(task_name="beta", model="m1", status="completed")
    c = run_factory(task_name="alpha", model="m2", status="failed")
    assert [r.id for r in store.list_runs()] == [c.id, b.id, a.id]
    assert [r.id for r in store.list_runs(limit=2)] == [c.id, b.id]
    assert [r.id for r in store.list_runs(task="alpha")] == [c.id, a.id]
    assert [r.id for r in store.list_runs(model="m1")] == [b.id, a.id]
    assert [r.id for r in store.list_runs(status="failed")] == [c.id]
    assert store.list_runs(task="alpha", model="m1", status="running") == [a]
    assert store.list_runs(task="gamma") == []


def test_get_run_accepts_a_unique_prefix_in_any_case(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    assert store.get_run(run.id[:20]) == run
    assert store.get_run(run.id[:20].lower()) == run
    assert store.get_run(f"  {run.id}  ") == run


def test_an_ambiguous_prefix_lists_the_candidates(store: Store, run_factory: RunFactory) -> None:
    first = run_factory(id="01AAAAAAAAAAAAAAAAAAAAAAA1")
    second = run_factory(id="01AAAAAAAAAAAAAAAAAAAAAAA2")
    with pytest.raises(UserError, match="ambiguous") as info:
        store.get_run("01AAA")
    assert first.id in str(info.value) and second.id in str(info.value)
    assert "more characters" in str(info.value)
    for i in range(3, 8):
        run_factory(id=f"01AAAAAAAAAAAAAAAAAAAAAAA{i}")
    with pytest.raises(UserError, match="and more") as info:
        store.get_run("01AAA")
    assert str(info.value).count("01AAAAAAAAAAAAAAAAAAAAAAA") == 5


def test_an_unknown_id_says_how_to_list_runs(store: Store, run_factory: RunFactory) -> None:
    run_factory(id="01BBBBBBBBBBBBBBBBBBBBBBBB")
    with pytest.raises(UserError, match="evalstack runs") as info:
        store.get_run("01ZZZZ")
    assert "01ZZZZ" in str(info.value)
    assert "Did you mean" not in str(info.value)


def test_a_mistyped_id_gets_a_suggestion(store: Store, run_factory: RunFactory) -> None:
    run = run_factory(id="01CCCCCCCCCCCCCCCCCCCCCCCC")
    with pytest.raises(UserError, match=f"Did you mean '{run.id}'"):
        store.get_run("01CCCCCCCXCCCC")


@pytest.mark.parametrize("pattern", ["%", "_", "01%", ""])
def test_like_wildcards_and_empty_ids_match_nothing(
    store: Store, run_factory: RunFactory, pattern: str
) -> None:
    run_factory()
    with pytest.raises(UserError):
        store.get_run(pattern)


def test_find_resumable_returns_the_newest_unfinished_run(
    store: Store, run_factory: RunFactory
) -> None:
    fp = "1" * 64
    assert store.find_resumable(fp) is None
    run_factory(fingerprint=fp, status="failed")
    interrupted = run_factory(fingerprint=fp, status="interrupted")
    run_factory(fingerprint=fp, status="completed")
    run_factory(fingerprint="2" * 64, status="running")
    assert store.find_resumable(fp) == interrupted
    store.set_status(interrupted.id, "completed")
    resumable = store.find_resumable(fp)
    assert resumable is not None and resumable.status == "failed"


def test_set_status_updates_status_summary_error_and_time(
    store: Store, run_factory: RunFactory
) -> None:
    run = run_factory()
    store.set_status(run.id, "interrupted", error="stopped\x00 by user")
    got = store.get_run(run.id)
    assert (got.status, got.error, got.summary) == ("interrupted", "stopped\ufffd by user", None)
    assert got.updated_at > run.updated_at
    assert got.updated_at <= datetime.now(UTC)

    store.set_status(run.id, "completed", summary={"accuracy": 0.75})
    got = store.get_run(run.id)
    assert (got.status, got.error, got.summary) == ("completed", None, {"accuracy": 0.75})

    store.set_status(run.id, "failed", error="later")
    assert store.get_run(run.id).summary == {"accuracy": 0.75}


def test_set_status_rejects_unknown_statuses_and_runs(
    store: Store, run_factory: RunFactory
) -> None:
    run = run_factory()
    with pytest.raises(ValueError, match="Unknown run status 'done'"):
        store.set_status(run.id, "done")
    with pytest.raises(UserError, match="No run with id"):
        store.set_status("01NOSUCHRUN", "completed")
    with pytest.raises(ValueError, match="Unknown run status"):
        store.create_run(make_run(status="weird"))


@pytest.mark.parametrize(
    "model_args",
    [
        {"api_key": "sk-123"},
        {"API_KEY": "sk-123"},
        {"headers": {"Token": "abc"}},
        {"fallbacks": [{"password": "x"}]},
    ],
)
def test_the_store_refuses_model_args_with_secrets(store: Store, model_args: dict) -> None:
    record = make_run(model_args=model_args)
    with pytest.raises(ValueError, match="secret"):
        store.create_run(record)
    assert store.list_runs() == []


def test_secret_looking_values_under_other_names_are_stored(store: Store) -> None:
    record = make_run(model_args={"max_tokens": 5, "tokenizer": "gpt2"})
    store.create_run(record)
    assert store.get_run(record.id).model_args == {"max_tokens": 5, "tokenizer": "gpt2"}
