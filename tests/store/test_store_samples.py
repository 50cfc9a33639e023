import math
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from store_helpers import make_sample

from evalstack.core.records import RunRecord, SampleRecord
from evalstack.core.text import clean_text
from evalstack.store import Store, new_id
from evalstack.store import sqlstore as sqlstore_module

RunFactory = Callable[..., RunRecord]


def test_samples_round_trip_with_every_field(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    full = SampleRecord(
        sample_id="q1",
        epoch=2,
        input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
        target=["4", "four"],
        output="4",
        scores={"exact_match": {"value": 1.0, "kind": "binary", "answer": "4"}},
        error=None,
        output_truncated=True,
        latency_ms=12.5,
        input_tokens=7,
        output_tokens=1,
        cost_usd=0.00012,
        attempts=3,
        cached=True,
        category="math",
        metadata={"choice_logprobs": [-0.1, -2.3], "nested": {"k": [1, None]}},
        model_version="echo-2026",
        choices=["3", "4", "5"],
    )
    minimal = make_sample("q2")
    store.write_samples(run.id, [full, minimal])
    assert list(store.iter_samples(run.id)) == [full, minimal]


def test_an_upsert_replaces_an_errored_sample(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    store.write_samples(
        run.id,
        [
            make_sample("a", output="", scores={}, error="timeout", attempts=3),
            make_sample("b"),
        ],
    )
    assert store.count_samples(run.id) == (2, 1)
    assert store.done_keys(run.id) == {("b", 0)}
    fixed = make_sample("a", output="4", attempts=1)
    store.write_samples(run.id, [fixed])
    assert store.count_samples(run.id) == (2, 0)
    assert store.done_keys(run.id) == {("a", 0), ("b", 0)}
    assert next(store.iter_samples(run.id)) == fixed


def test_done_keys_and_counts_are_per_run_and_per_epoch(
    store: Store, run_factory: RunFactory
) -> None:
    run, other = run_factory(), run_factory()
    store.write_samples(
        run.id,
        [
            make_sample("a", 0),
            make_sample("a", 1, error="rate limited"),
            make_sample("b", 1),
        ],
    )
    store.write_samples(other.id, [make_sample("z", 0)])
    assert store.done_keys(run.id) == {("a", 0), ("b", 1)}
    assert store.count_samples(run.id) == (3, 1)
    assert store.count_samples(other.id) == (1, 0)
    assert store.count_samples("01NOSUCHRUN") == (0, 0)
    assert store.done_keys("01NOSUCHRUN") == set()


def test_iter_samples_filters_on_errors(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    store.write_samples(run.id, [make_sample("ok"), make_sample("bad", error="e")])
    assert [s.sample_id for s in store.iter_samples(run.id)] == ["bad", "ok"]
    assert [s.sample_id for s in store.iter_samples(run.id, errors=True)] == ["bad"]
    assert [s.sample_id for s in store.iter_samples(run.id, errors=False)] == ["ok"]


def test_iter_samples_streams_in_ordered_chunks(
    store: Store, run_factory: RunFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlstore_module, "_CHUNK", 7)
    run = run_factory()
    records = [make_sample(f"s{i:03d}", epoch) for i in range(40) for epoch in range(3)]
    store.write_samples(run.id, records[::-1])

    selects: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM samples" in statement:
            selects.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        stream = store.iter_samples(run.id)
        first = next(stream)
        assert len(selects) == 1  # lazy: only the first chunk was read
        got = [first, *stream]
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert got == records
    assert len(selects) == math.ceil(len(records) / 7) + (len(records) % 7 == 0)


def test_writing_samples_for_an_unknown_run_fails(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        store.write_samples(new_id(), [make_sample()])


def test_writing_no_samples_is_a_no_op(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    store.write_samples(run.id, [])
    assert store.count_samples(run.id) == (0, 0)


def test_a_thousand_samples_are_written_quickly(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    batches = [
        [make_sample(f"s{b}-{i}", metadata={"i": i, "tags": ["x", "y"]}) for i in range(1000)]
        for b in range(4)
    ]
    timings = []
    for batch in batches:
        start = time.perf_counter()
        store.write_samples(run.id, batch)
        timings.append(time.perf_counter() - start)
    assert store.count_samples(run.id) == (4000, 0)
    # A few ms on a quiet machine; the bound leaves room for a loaded CI box.
    assert min(timings) < 0.25, timings


WEIRD = [
    "nul\x00byte",
    "lone \ud800 surrogate",
    "\ufeffbom first",
    "low \udfff and \x00 both",
    "emoji 🙂 and 中文",
]


@pytest.mark.parametrize("text", WEIRD)
def test_weird_text_is_stored_cleaned_everywhere(
    store: Store, run_factory: RunFactory, text: str
) -> None:
    run = run_factory()
    record = SampleRecord(
        sample_id=f"id-{text}",
        epoch=0,
        input=[{"role": "user", "content": text}],
        target=[text, "plain"],
        output=text,
        scores={text: {"value": 0.0, "answer": text, "explanation": text}},
        error=text,
        category=text,
        metadata={text: text, "list": [text, {"deep": text}]},
        model_version=text,
        choices=[text],
    )
    store.write_samples(run.id, [record])
    (back,) = store.iter_samples(run.id)
    clean = clean_text(text)
    assert back.sample_id == f"id-{clean}"
    assert back.input == [{"role": "user", "content": clean}]
    assert back.target == [clean, "plain"]
    assert back.output == clean
    assert back.scores == {clean: {"value": 0.0, "answer": clean, "explanation": clean}}
    assert back.error == clean and back.category == clean and back.model_version == clean
    assert back.metadata == {clean: clean, "list": [clean, {"deep": clean}]}
    assert back.choices == [clean]
    assert "\x00" not in back.output
    back.output.encode("utf-8")  # valid UTF-8 now
    assert store.done_keys(run.id) == set()
    assert store.count_samples(run.id) == (1, 1)


def test_weird_text_in_a_run_is_stored_cleaned(store: Store, run_factory: RunFactory) -> None:
    run = run_factory(
        task_name="t\x00",
        task_spec={"prompt": "a\ud800b", "k\x00": 1},
        error="e\x00",
        summary={"note": "\udc00"},
    )
    back = store.get_run(run.id)
    assert back.task_name == "t\ufffd"
    assert back.task_spec == {"prompt": "a\ufffdb", "k\ufffd": 1}
    assert back.error == "e\ufffd"
    assert back.summary == {"note": "\ufffd"}


def test_a_ten_megabyte_output_round_trips(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    big = ("0123456789abcdef" * 655_360)[:10_000_000] + "\x00end"
    store.write_samples(run.id, [make_sample("big", output=big, metadata={"echo": big})])
    (back,) = store.iter_samples(run.id)
    assert len(back.output) == 10_000_004
    assert back.output == clean_text(big)
    assert back.metadata["echo"] == back.output


def test_non_finite_numbers_in_json_fields_become_null(
    store: Store, run_factory: RunFactory
) -> None:
    run = run_factory()
    store.write_samples(
        run.id,
        [make_sample(scores={"bleu": {"value": float("nan")}}, metadata={"x": float("inf")})],
    )
    (back,) = store.iter_samples(run.id)
    assert back.scores == {"bleu": {"value": None}}
    assert back.metadata == {"x": None}


def test_score_names_are_the_union_over_samples(store: Store, run_factory: RunFactory) -> None:
    run = run_factory()
    store.write_samples(
        run.id,
        [
            make_sample("a", scores={"f1": {"value": 0.5}}),
            make_sample("b", scores={"exact_match": {"value": 1.0}, "f1": {"value": 1.0}}),
            make_sample("c", scores={}, error="boom"),
        ],
    )
    assert store.score_names(run.id) == ["exact_match", "f1"]


def test_cache_put_and_get(store: Store) -> None:
    assert store.cache_get_many([]) == {}
    store.cache_put_many([("a" * 64, {"text": "hello", "tokens": [1, 2]}), ("b" * 64, {"n": 1})])
    assert store.cache_get_many(["a" * 64, "c" * 64]) == {
        "a" * 64: {"text": "hello", "tokens": [1, 2]}
    }
    # Insert-or-ignore: the first value stays, also for duplicates within one batch.
    store.cache_put_many([("a" * 64, {"text": "other"}), ("d" * 64, {"v": 1}), ("d" * 64, {})])
    got = store.cache_get_many(["a" * 64, "b" * 64, "d" * 64, "a" * 64])
    assert got == {
        "a" * 64: {"text": "hello", "tokens": [1, 2]},
        "b" * 64: {"n": 1},
        "d" * 64: {"v": 1},
    }


def test_cache_handles_more_keys_than_one_query_binds(store: Store) -> None:
    items = [(f"{i:064x}", {"i": i, "text": f"t\x00{i}"}) for i in range(1_300)]
    store.cache_put_many(items)
    keys = [k for k, _ in items] + ["f" * 64]
    got = store.cache_get_many(keys)
    assert len(got) == 1_300
    assert got[f"{1_299:064x}"] == {"i": 1_299, "text": "t\ufffd1299"}
