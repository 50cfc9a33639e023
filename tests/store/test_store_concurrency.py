import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from store_helpers import make_run, make_sample

from evalstack.core.records import RunRecord
from evalstack.store import Store
from evalstack.store.tables import VERSION_TABLE

RunFactory = Callable[..., RunRecord]


def test_reading_while_a_thread_writes_twenty_thousand_rows(
    store: Store, run_factory: RunFactory
) -> None:
    run = run_factory()
    total, batch = 20_000, 500
    failures: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for start in range(0, total, batch):
                store.write_samples(
                    run.id,
                    [
                        make_sample(f"s{i:05d}", error="e" if i % 10 == 0 else None)
                        for i in range(start, start + batch)
                    ],
                )
        except BaseException as exc:  # surfaced in the main thread below
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads, last = 0, 0
    while not done.is_set() or reads < 3:
        n, errored = store.count_samples(run.id)
        assert n >= last and n % batch == 0 and errored == n // 10
        last = n
        done_now = len(store.done_keys(run.id))  # a later snapshot: whole batches only
        assert done_now >= n - errored and done_now % (batch * 9 // 10) == 0
        assert store.get_run(run.id).id == run.id
        for i, sample in enumerate(store.iter_samples(run.id)):
            if i >= 50:
                break
            assert sample.sample_id.startswith("s")
        reads += 1
    writer.join()
    assert not failures, failures
    assert store.count_samples(run.id) == (total, total // 10)
    assert reads >= 3


def test_two_stores_on_one_file_write_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    stores = [Store.open(path), Store.open(path)]
    run = make_run()
    stores[0].create_run(run)
    failures: list[BaseException] = []

    def write(store: Store, prefix: str) -> None:
        try:
            for b in range(20):
                store.write_samples(run.id, [make_sample(f"{prefix}{b}-{i}") for i in range(200)])
                store.set_status(run.id, "running")
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=write, args=(s, p)) for s, p in zip(stores, "ab", strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert not failures, failures
    with Store.open(path) as store:
        assert store.count_samples(run.id) == (8_000, 0)


def _open_at_once(path: str, openers: int) -> list[Store]:
    barrier = threading.Barrier(openers)
    failures: list[BaseException] = []
    stores: list[Store] = []

    def open_store() -> None:
        try:
            barrier.wait()
            stores.append(Store.open(path))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    return stores


def test_first_opens_at_once_create_the_schema_once(store_url: str) -> None:
    stores = _open_at_once(store_url, 4)
    with stores[0].engine.connect() as conn:
        versions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    assert len(versions) == 1
    for s in stores:
        s.close()


def test_many_opens_of_a_new_sqlite_file_at_once_create_the_schema_once(tmp_path: Path) -> None:
    # Each round races four first opens of a new file (WAL switch and migration at once).
    for round_ in range(10):
        stores = _open_at_once(str(tmp_path / f"new{round_}.db"), 4)
        with stores[0].engine.connect() as conn:
            versions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert len(versions) == 1 and mode == "wal"
        for s in stores:
            s.close()
