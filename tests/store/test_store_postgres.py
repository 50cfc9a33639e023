"""PostgreSQL end to end; runs only when ``EVALSTACK_TEST_POSTGRES_URL`` is set.

With the variable set, every other store test also runs on PostgreSQL (see conftest.py).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import PG_ENV, make_run, make_sample, postgres_schema_url

from evalstack.core.text import clean_text
from evalstack.store import Store, export_run

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason=f"set {PG_ENV} to run the PostgreSQL store tests"
)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    for url in postgres_schema_url(os.environ[PG_ENV]):
        with Store.open(url) as store:
            yield store


def test_postgresql_store_end_to_end(pg_store: Store, tmp_path: Path) -> None:
    assert pg_store.dialect == "postgresql"
    run = make_run(model_args={"base_url": "http://127.0.0.1:1"})
    pg_store.create_run(run)
    weird = "a\x00b\ud800c\ufeff"
    records = [
        make_sample(
            f"s{i:03d}", output=weird, metadata={weird: weird}, error="e" if i % 3 else None
        )
        for i in range(30)
    ]
    pg_store.write_samples(run.id, records)
    pg_store.write_samples(run.id, [make_sample("s001")])  # upsert clears that error
    assert pg_store.count_samples(run.id) == (30, 19)
    assert ("s001", 0) in pg_store.done_keys(run.id)
    back = list(pg_store.iter_samples(run.id))
    assert [r.sample_id for r in back] == [f"s{i:03d}" for i in range(30)]
    assert back[0].output == clean_text(weird)
    assert back[0].metadata == {clean_text(weird): clean_text(weird)}
    pg_store.set_status(run.id, "completed", summary={"acc": 0.5})
    assert pg_store.get_run(run.id[:22]).summary == {"acc": 0.5}
    assert pg_store.find_resumable(run.fingerprint) is None
    pg_store.cache_put_many([("k" * 64, {"text": weird})])
    assert pg_store.cache_get_many(["k" * 64]) == {"k" * 64: {"text": clean_text(weird)}}
    out = tmp_path / "out.jsonl"
    assert export_run(pg_store, run.id, "jsonl", out) == 30
