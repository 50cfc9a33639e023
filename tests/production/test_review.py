"""The weekly review sample of production traces, and reviews stored as feedback that the
agreement command pairs with the automated scores (issue 14)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from evalstack.core.errors import UserError
from evalstack.production.monitor import stored_pairs
from evalstack.production.review import (
    record_review,
    review_queue,
    review_sample,
    reviewed,
    week_bounds,
)
from evalstack.production.store import OnlineScore, create_project, iter_feedback, save_scores
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # an ISO week's Monday


def _tid(week: int, i: int) -> str:
    return f"{week:016x}{i:016x}"


@pytest.fixture
def filled(tmp_path):
    """Three weeks of 60 scored traces each (scores i/60, one tie), plus unscored ones."""
    with Store.open(str(tmp_path / "s.db")) as store:
        pid, _ = create_project(store, "bot")
        items, scores = [], []
        for week in range(3):
            for i in range(60):
                at = MONDAY + timedelta(weeks=week, hours=2 * i + 1)
                items.append(Interaction(f"q{week}-{i}", f"a{week}-{i}", at,
                                         trace_id=_tid(week, i)))
                value = 0.0 if i == 1 else i / 60  # traces 0 and 1 tie at 0.0
                scores.append(OnlineScore(_tid(week, i), "llm_judge", "all", value, at))
            items.append(Interaction("unscored", "x", MONDAY + timedelta(weeks=week, hours=1),
                                     trace_id=_tid(week, 99)))
        log_interactions(store, pid, items)
        save_scores(store, pid, scores)
        yield store, pid


def test_the_week_is_the_iso_week_in_utc():
    start, end = week_bounds(date(2026, 11, 8))  # a Sunday
    assert (start, end) == (MONDAY, MONDAY + timedelta(days=7))
    assert week_bounds(datetime(2026, 11, 2, 0, 30))[0] == MONDAY  # naive is UTC


def test_the_sample_is_the_lowest_first_then_random_without_duplicates(filled):
    store, pid = filled
    sample = review_sample(store, pid, "llm_judge", MONDAY, lowest=5, random=10)
    assert sample[:5] == [_tid(0, i) for i in range(5)]  # lowest first, the tie by trace id
    assert len(sample) == len(set(sample)) == 15
    assert all(t.startswith(f"{0:016x}") and not t.endswith(f"{99:016x}") for t in sample)
    assert set(sample[5:]).isdisjoint(sample[:5])


def test_the_sample_is_deterministic_and_depends_on_seed_and_week(filled):
    store, pid = filled
    first = review_sample(store, pid, "llm_judge", MONDAY, lowest=5, random=10)
    assert first == review_sample(store, pid, "llm_judge", MONDAY + timedelta(days=3),
                                  lowest=5, random=10)
    other_seed = review_sample(store, pid, "llm_judge", MONDAY, lowest=5, random=10, seed=1)
    assert other_seed[:5] == first[:5] and other_seed[5:] != first[5:]
    week2 = review_sample(store, pid, "llm_judge", MONDAY + timedelta(weeks=1), lowest=5,
                          random=10)
    assert all(t.startswith(f"{1:016x}") for t in week2)
    # not the same positions in the next week: the hash includes the week
    assert [t[16:] for t in week2[5:]] != [t[16:] for t in first[5:]]


def test_a_small_week_gives_every_trace_once(filled):
    store, pid = filled
    sample = review_sample(store, pid, "llm_judge", MONDAY, lowest=50, random=50)
    assert sorted(sample) == [_tid(0, i) for i in range(60)]
    assert review_sample(store, pid, "llm_judge", MONDAY + timedelta(weeks=5)) == []


def test_an_unknown_metric_is_an_error_that_lists_the_scored_ones(filled):
    store, pid = filled
    with pytest.raises(UserError, match="llm_judge"):
        review_sample(store, pid, "llm_judg", MONDAY)
    with pytest.raises(UserError, match="0 or more"):
        review_sample(store, pid, "llm_judge", MONDAY, lowest=-1)


def test_record_review_stores_the_event_and_stored_pairs_picks_it_up(filled):
    store, pid = filled
    low, high = _tid(0, 0), _tid(0, 59)
    record_review(store, pid, low, good=False, labeller="ana", note="<b>wrong</b>")
    record_review(store, pid, high, good=False, labeller="ana")
    [event, _] = list(iter_feedback(store, pid, names=["review"]))
    assert (event.trace_id, event.value, event.label) == (low, 0.0, "bad")
    assert event.metadata == {"labeller": "ana", "note": "<b>wrong</b>", "queue": "weekly"}
    pairs = {p.trace_id: (p.human, p.automated) for p in stored_pairs(store, pid, "llm_judge")}
    assert pairs == {low: ("bad", "bad"), high: ("bad", "good")}
    assert reviewed(store, pid, "ana") == {low, high} and reviewed(store, pid, "bo") == set()


def test_record_review_refuses_an_unknown_trace_and_stores_nothing(filled):
    store, pid = filled
    with pytest.raises(UserError, match="No trace 'f00' in this project"):
        record_review(store, pid, "f00", good=True, labeller="ana")
    with pytest.raises(UserError, match="labeller"):
        record_review(store, pid, _tid(0, 0), good=True, labeller="  ")
    assert list(iter_feedback(store, pid, names=["review"])) == []


def test_the_queue_hides_the_score_order_and_skips_what_is_reviewed(filled):
    store, pid = filled
    queue = review_queue(store, pid, "llm_judge", MONDAY, "ana", lowest=5, random=5)
    sample = review_sample(store, pid, "llm_judge", MONDAY, lowest=5, random=5)
    assert sorted(queue.sample) == sorted(sample) and list(queue.sample) != sample
    assert queue.done == 0 and queue.next is not None
    record_review(store, pid, queue.next.trace_id, good=True, labeller="ana")
    after = review_queue(store, pid, "llm_judge", MONDAY, "ana", lowest=5, random=5)
    assert after.done == 1 and after.next is not None
    assert after.next.trace_id == queue.sample[1]
