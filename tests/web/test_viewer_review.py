"""The viewer's review queue for production traces: the next trace of the week's sample
without its score, CSRF and Origin checks on the form, the queue advancing, escaping of
hostile trace content, and 404s that say what is wrong (issue 14)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from evalstack.production.review import review_queue
from evalstack.production.store import (
    OnlineScore,
    create_project,
    iter_feedback,
    project_id,
    save_scores,
)
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store
from evalstack.web.app import create_app

BASE = "http://127.0.0.1:8765"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
WEEK = "2026-11-04"  # a Wednesday: the week of MONDAY
SCORE = 0.123456  # a score no page may show


@pytest.fixture
def store_url(tmp_path):
    url = str(tmp_path / "s.db")
    with Store.open(url) as store:
        pid, _ = create_project(store, f"bot {SCRIPT}")
        ids = log_interactions(store, pid, [
            Interaction(f"question {i} {SCRIPT}", f"answer {i} {SCRIPT}",
                        MONDAY + timedelta(hours=i + 1)) for i in range(3)])
        save_scores(store, pid, [OnlineScore(t, "llm_judge", "all", SCORE + i, MONDAY)
                                 for i, t in enumerate(ids)])
    return url


def _client(url, origin=BASE):
    return TestClient(create_app(url), base_url=BASE, headers={"origin": origin})


def _pid(url):
    with Store.open(url) as store:
        pid = project_id(store, f"bot {SCRIPT}")
    assert pid is not None
    return pid


def _reviews(url):
    with Store.open(url) as store:
        return list(iter_feedback(store, _pid(url), names=["review"]))


def _form(html):
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    assert set(fields) == {"csrf", "metric", "week", "labeller", "trace_id"}
    return fields


PARAMS = {"metric": "llm_judge", "week": WEEK, "labeller": "ana"}


def test_the_page_shows_the_next_trace_without_its_score(store_url):
    pid = _pid(store_url)
    with Store.open(store_url) as store:
        first = review_queue(store, pid, "llm_judge", MONDAY, "ana").sample[0]
    with _client(store_url) as client:
        page = client.get(f"/review/{pid}", params=PARAMS)
        data = client.get(f"/api/review/{pid}", params=PARAMS).json()
    assert page.status_code == 200
    assert _form(page.text)["trace_id"] == first and "1 of 3" in page.text
    assert "score is not shown" in page.text and "0.123" not in page.text
    assert (data["total"], data["reviewed"], data["trace"]["trace_id"]) == (3, 0, first)
    assert data["week_start"] == "2026-11-02" and "0.123" not in str(data)


def test_the_project_page_links_to_the_review_queue_and_it_asks_for_a_name(store_url):
    pid = _pid(store_url)
    with _client(store_url) as client:
        dashboard = client.get(f"/production/{pid}")
        start = client.get(f"/review/{pid}")
    assert f'href="/review/{pid}"' in dashboard.text
    assert start.status_code == 200 and 'name="labeller"' in start.text


def test_hostile_trace_content_is_escaped(store_url):
    with _client(store_url) as client:
        page = client.get(f"/review/{_pid(store_url)}", params=PARAMS)
        start = client.get(f"/review/{_pid(store_url)}")
    for html in (page.text, start.text):
        assert SCRIPT not in html and ESCAPED in html
    assert re.search(rf"question \d {re.escape(ESCAPED)}", page.text)
    assert re.search(rf"answer \d {re.escape(ESCAPED)}", page.text)


def test_a_post_without_csrf_or_from_elsewhere_is_refused_and_stores_nothing(store_url):
    pid = _pid(store_url)
    with _client(store_url) as client:
        form = _form(client.get(f"/review/{pid}", params=PARAMS).text)
        no_token = client.post(f"/review/{pid}", data={**form, "csrf": "", "verdict": "good"})
        wrong = client.post(f"/review/{pid}", data={**form, "csrf": "x", "verdict": "good"})
    with _client(store_url, origin="https://evil.example") as client:
        foreign = client.post(f"/review/{pid}", data={**form, "verdict": "good"})
    assert [r.status_code for r in (no_token, wrong, foreign)] == [403, 403, 403]
    assert "CSRF" in no_token.text and "Origin" in foreign.text
    assert _reviews(store_url) == []


def test_a_good_post_advances_the_queue_until_done(store_url):
    pid = _pid(store_url)
    seen = []
    with _client(store_url) as client:
        page = client.get(f"/review/{pid}", params=PARAMS)
        for k in range(3):
            form = _form(page.text)
            seen.append(form["trace_id"])
            saved = client.post(f"/review/{pid}", data={
                **form, "verdict": "good" if k else "bad", "note": f"n {SCRIPT}"},
                follow_redirects=False)
            assert saved.status_code == 303
            assert saved.headers["location"].startswith(f"/review/{pid}?")
            again = client.post(f"/review/{pid}", data={**form, "verdict": "good"},
                                follow_redirects=False)  # a resubmitted form
            assert again.status_code == 303
            page = client.get(saved.headers["location"])
            assert (f"{k + 2} of 3" in page.text) if k < 2 else ("3 of 3 reviewed" in page.text)
        data = client.get(f"/api/review/{pid}", params=PARAMS).json()
    assert len(set(seen)) == 3 and data["done"] and data["trace"] is None
    assert "evalstack agreement --project" in page.text and 'name="verdict"' not in page.text
    events = _reviews(store_url)
    assert [(e.trace_id, e.value, e.label) for e in events] == [
        (seen[0], 0.0, "bad"), (seen[1], 1.0, "good"), (seen[2], 1.0, "good")]
    assert events[0].metadata == {"labeller": "ana", "note": f"n {SCRIPT}", "queue": "weekly"}


def test_a_post_for_a_trace_outside_the_sample_or_a_bad_verdict_is_refused(store_url):
    pid = _pid(store_url)
    with _client(store_url) as client:
        form = _form(client.get(f"/review/{pid}", params=PARAMS).text)
        other = client.post(f"/review/{pid}", data={**form, "trace_id": "f" * 32,
                                                    "verdict": "good"})
        verdict = client.post(f"/review/{pid}", data={**form, "verdict": "meh"})
    assert (other.status_code, verdict.status_code) == (400, 400)
    assert "not in the review sample" in other.text and "good or bad" in verdict.text
    assert _reviews(store_url) == []


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/review/nope", PARAMS, "No project with id or name 'nope'"),
    ("/api/review/nope", PARAMS, "No project with id or name 'nope'"),
    ("/review/nope", {}, "No project with id or name 'nope'"),
    ("/review/{pid}", {**PARAMS, "metric": "llm_judg"}, "Did you mean llm_judge"),
    ("/api/review/{pid}", {**PARAMS, "metric": "nothing"}, "scored metrics: llm_judge"),
])
def test_an_unknown_project_or_metric_is_a_404_with_a_message(store_url, path, params,
                                                               message):
    with _client(store_url) as client:
        response = client.get(path.format(pid=_pid(store_url)), params=params)
    assert response.status_code == 404 and message in response.text


def test_a_bad_week_is_a_400(store_url):
    with _client(store_url) as client:
        response = client.get(f"/review/{_pid(store_url)}", params={**PARAMS, "week": "soon"})
    assert response.status_code == 400 and "week must be a date" in response.text
