"""Human labels in the store: written with labeller and time, read back, kept per run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from store_helpers import make_run, make_sample

from evalstack.core.records import LabelRecord
from evalstack.store import Store


def _label(run_id: str, **kw) -> LabelRecord:
    base = {"run_id": run_id, "sample_id": "s1", "epoch": 1, "kind": "rating",
            "labeller": "ana", "created_at": datetime(2026, 12, 2, 9, 30, tzinfo=UTC)}
    return LabelRecord(**{**base, **kw})


def test_labels_round_trip_and_the_queue_knows_what_is_done(store_url: str) -> None:
    run = make_run()
    with Store.open(store_url) as store:
        store.create_run(run)
        store.write_samples(run.id, [make_sample("s1"), make_sample("s2")])
        first = store.add_label(_label(run.id, thumbs=1, ratings={"accuracy": 5},
                                       comment="ok\x00"))
        store.add_label(_label(run.id, sample_id="s2", labeller="bo", thumbs=-1))
        labels = store.list_labels(run.id)
        assert first.id is not None and [lb.id for lb in labels] == [first.id, first.id + 1]
        assert labels[0].ratings == {"accuracy": 5} and "\x00" not in labels[0].comment
        assert labels[0].created_at == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
        assert store.labelled_keys(run.id, "ana") == {("s1", 1)}
        assert store.labelled_keys(run.id, "bo") == {("s2", 1)}
        assert store.list_labels(run.id, "pairwise") == []


def test_a_label_needs_a_stored_run(store_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    with Store.open(store_url) as store, pytest.raises(IntegrityError):
        store.add_label(_label("no-such-run"))
