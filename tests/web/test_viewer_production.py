"""The viewer's production pages (a project's dashboard, one trace) and their JSON twins, on a
store with traces over several days, spans, feedback, reviews and online scores, and hostile
HTML in every text an app or its users control (the XSS checks of issue 6, on trace content)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from evalstack.production.otlp import Message, SpanRecord
from evalstack.production.spans import save_spans
from evalstack.production.store import (
    FeedbackEvent,
    OnlineScore,
    add_feedback,
    create_project,
    save_scores,
)
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store
from evalstack.web.app import create_app

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
LINK = '<a href="javascript:alert(1)">click</a>'
HOSTILE = (SCRIPT, IMG, LINK)
SPAN_TRACE = "5b8efff798038103d269b633813fc60c"
LOGGED_TRACE = "0af7651916cd43dd8448eb211c80319c"
#: traces per day ago: 1 + k on days 0-4, 40 on day 10 (55 logged, plus one from spans)
PER_DAY = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 10: 40}


@dataclass(frozen=True)
class Filled:
    url: str
    project_id: str
    project_name: str


def day(k: int) -> datetime:
    """The start of the UTC day ``k`` days ago."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=k)


def fill(path: str) -> Filled:
    """Create the store at ``path`` and fill it."""
    with Store.open(path) as store:
        pid, _ = create_project(store, f"support {SCRIPT}")
        create_project(store, "empty-project")
        items = []
        for k, count in PER_DAY.items():
            for j in range(count):
                items.append(Interaction(
                    input=[{"role": "system", "content": "be kind"},
                           {"role": "user", "content": f"question {k}-{j} {SCRIPT}"}],
                    output=f"answer {k}-{j} {IMG}", started_at=day(k) + timedelta(minutes=j),
                    trace_id=LOGGED_TRACE if (k, j) == (0, 0) else None,
                    model=f"gpt-test {IMG}" if (k, j) == (0, 0) else "gpt-test",
                    latency_ms=100.0 + 10 * j + k, input_tokens=10, output_tokens=5,
                    cost_usd=0.001, conversation_id=f"c{k}-{j}", user_id=f"u{j}",
                    metadata={"route": LINK, SCRIPT: IMG} if (k, j) == (0, 0) else {}))
        ids = log_interactions(store, pid, items)
        t0 = day(0) + timedelta(hours=1)
        span = {"kind": "internal", "status": "ok", "status_message": None,
                "service_name": f"svc {SCRIPT}", "scope_name": None, "resource_attributes": {},
                "trace_id": SPAN_TRACE}
        save_spans(store, pid, [
            SpanRecord(span_id="a" * 16, parent_span_id=None, name=f"handle {SCRIPT}",
                       start_time=t0, end_time=t0 + timedelta(milliseconds=900),
                       attributes={"http.route": LINK, "app.note": IMG}, **{**span,
                       "kind": "server"}),
            SpanRecord(span_id="b" * 16, parent_span_id="a" * 16, name=f"chat {IMG}",
                       start_time=t0 + timedelta(milliseconds=10),
                       end_time=t0 + timedelta(milliseconds=600), attributes={},
                       request_model=f"model {SCRIPT}", response_model=f"model {IMG}",
                       input_tokens=12, output_tokens=7,
                       input_messages=(Message("user", f"span question {SCRIPT}"),),
                       output_messages=(Message("assistant", f"span answer {LINK}"),),
                       conversation_id="span-conv", **{**span, "kind": "client"}),
            SpanRecord(span_id="c" * 16, parent_span_id="b" * 16, name=f"tool {LINK}",
                       start_time=t0 + timedelta(milliseconds=20),
                       end_time=t0 + timedelta(milliseconds=50), attributes={"n": 3},
                       **{**span, "status": "error"}),
            SpanRecord(span_id="d" * 16, parent_span_id="a" * 16, name="format",
                       start_time=t0 + timedelta(milliseconds=700),
                       end_time=t0 + timedelta(milliseconds=800), attributes={}, **span),
        ])
        at = day(0) + timedelta(minutes=30)
        add_feedback(store, pid, [
            *[FeedbackEvent("thumbs", at, conversation_id=f"c4-{j}", label="up")
              for j in range(3)],
            FeedbackEvent("thumbs", at, conversation_id="c4-3", value=0.0),  # a down, no label
            FeedbackEvent("resolved", day(1) + timedelta(hours=2), conversation_id="c1-0"),
            FeedbackEvent("escalated", day(2) + timedelta(hours=2), conversation_id="c2-0"),
            FeedbackEvent("thumbs", at, trace_id=LOGGED_TRACE, conversation_id="c0-0",
                          user_id=f"u {SCRIPT}", label=IMG, metadata={"comment": LINK}),
            FeedbackEvent("review", at, trace_id=LOGGED_TRACE, value=1.0,
                          label=f"good {SCRIPT}", metadata={"reviewer": IMG}),
        ])
        save_scores(store, pid, [
            OnlineScore(LOGGED_TRACE, "faithfulness", "sample-10", 0.8, at,
                        metadata={"rationale": f"fine {SCRIPT}"}),
            *[OnlineScore(t, "faithfulness", "sample-10", 0.5, at) for t in ids[1:3]],
            OnlineScore(LOGGED_TRACE, f"judge {IMG}", f"policy {SCRIPT}", 1.0, at,
                        error=f"partly {LINK}"),
        ])
    return Filled(path, pid, f"support {SCRIPT}")


# -- the tests -------------------------------------------------------------------------------

BASE = "http://127.0.0.1:8765"
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
           "&lt;a href=&#34;javascript:alert(1)&#34;&gt;click&lt;/a&gt;")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(str(tmp_path_factory.mktemp("production") / "store.db"))


def _client(url: str) -> TestClient:
    return TestClient(create_app(url), base_url=BASE)


def _points(html: str, css: str, series: str = "") -> int:
    """The points drawn in the chart whose class list starts ``chart {css}`` (and that draws
    ``series``, escaped)."""
    found = [svg for svg in re.findall(rf'<svg class="chart {re.escape(css)}".*?</svg>', html,
                                       re.S) if f'data-series="{series}' in svg]
    assert len(found) == 1, f"one chart {css!r} expected, found {len(found)}"
    return found[0].count('class="pt"')


def _no_markup_from_data(html: str) -> None:
    """Nothing the data carries became markup: no script, image, handler or script link."""
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert 'href="javascript:' not in html.lower() and "onerror=alert(1)>" not in html


def test_projects_page_and_its_twin_list_every_project(filled: Filled) -> None:
    with _client(filled.url) as client:
        page = client.get("/production")
        rows = client.get("/api/production").json()
        runs = client.get("/runs")
    assert page.status_code == 200
    _no_markup_from_data(page.text)
    assert ESCAPED[0] in page.text and f'href="/production/{filled.project_id}"' in page.text
    by_name = {r["name"]: r for r in rows}
    assert by_name[filled.project_name]["traces"] == sum(PER_DAY.values()) + 1
    assert by_name["empty-project"]["traces"] == 0
    assert 'href="/production"' in runs.text  # the nav links the production pages


def test_dashboard_twin_gives_every_day_with_its_interval(filled: Filled) -> None:
    with _client(filled.url) as client:
        view = client.get(f"/api/production/{filled.project_id}").json()
        by_name = client.get(f"/api/production/{quote(filled.project_name)}", params={"days": 7})
    assert view["days"] == 30 and len(view["volume"]) == 30
    volume = {p["day"]: p for p in view["volume"]}
    today = day(0).date().isoformat()
    assert volume[today]["estimate"] == 2 and volume[today]["ci_low"] < 2 < volume[today]["ci_high"]
    assert volume[day(10).date().isoformat()]["estimate"] == 40
    assert volume[day(5).date().isoformat()]["estimate"] == 0
    thumbs = {p["day"]: p for p in view["feedback"]["thumbs_up_rate"]}
    assert thumbs[today]["estimate"] == pytest.approx(3 / 5) and thumbs[today]["n"] == 5
    assert thumbs[today]["method"] == "wilson"
    resolved = {p["day"]: p for p in view["feedback"]["resolution_rate"]}
    assert resolved[day(1).date().isoformat()]["estimate"] == 0.5
    escalated = {p["day"]: p for p in view["feedback"]["escalation_rate"]}
    assert escalated[day(2).date().isoformat()]["estimate"] == pytest.approx(1 / 3)
    faith = {p["day"]: p for p in view["scores"]["faithfulness"]}
    assert faith[today]["estimate"] == 0.8 and faith[day(1).date().isoformat()]["n"] == 2
    cost = {p["day"]: p for p in view["cost_usd"]}
    assert cost[day(3).date().isoformat()]["estimate"] == pytest.approx(0.004)
    p95 = {p["day"]: p for p in view["latency_p95_ms"]}[day(4).date().isoformat()]
    assert p95["estimate"] == 144.0 and p95["method"] == "order_statistic"
    assert by_name.status_code == 200 and len(by_name.json()["volume"]) == 7


def test_dashboard_page_draws_a_point_per_day_with_data(filled: Filled) -> None:
    with _client(filled.url) as client:
        month = client.get(f"/production/{filled.project_id}").text
        week = client.get(f"/production/{filled.project_id}", params={"days": 7}).text
    data_days = len(PER_DAY)  # the span trace falls on day 0, which has logged traces too
    assert _points(month, "volume") == 30 and _points(week, "volume") == 7
    assert _points(month, "latency") == data_days and _points(week, "latency") == data_days - 1
    assert _points(month, "cost") == data_days
    assert _points(month, "feedback thumbs_up_rate") == 1
    assert _points(month, "feedback resolution_rate") == data_days
    assert _points(month, "feedback escalation_rate") == data_days
    assert _points(month, "score", "faithfulness") == 2
    assert _points(month, "score", "judge &quot;&gt;&lt;img") == 1  # a hostile metric name
    assert month.count('class="ci"') > 30  # the interval whiskers
    assert "style=" not in month  # the CSP forbids inline style
    _no_markup_from_data(month)
    assert ESCAPED[0] in month and "gpt-test" in month


def test_recent_traces_are_paginated_newest_first(filled: Filled) -> None:
    total = sum(PER_DAY.values()) + 1
    with _client(filled.url) as client:
        seen: list[str] = []
        params: dict[str, object] = {"limit": 20}
        while True:
            view = client.get(f"/api/production/{filled.project_id}", params=params).json()
            seen += [t["trace_id"] for t in view["traces"]]
            if view["next"] is None:
                break
            params = {"limit": 20, **view["next"]}
        page = client.get(f"/production/{filled.project_id}")
        later = client.get(f"/production/{filled.project_id}",
                           params={"before": page.text.split("before=")[1].split('"')[0]})
        bad = client.get(f"/api/production/{filled.project_id}", params={"before": "nope"})
    assert len(seen) == len(set(seen)) == total
    assert seen[0] == SPAN_TRACE and seen[1] == LOGGED_TRACE  # newest first: day 0, 01:00
    assert page.text.count('href="/traces/') == 50 and "Next page" in page.text
    assert later.text.count('href="/traces/') == total - 50 and "Next page" not in later.text
    assert bad.status_code == 404 and "nope" in bad.json()["detail"]


def test_trace_page_shows_spans_messages_scores_labels_and_feedback(filled: Filled) -> None:
    with _client(filled.url) as client:
        spans = client.get(f"/api/traces/{filled.project_id}/{SPAN_TRACE}").json()
        logged = client.get(f"/api/traces/{filled.project_id}/{LOGGED_TRACE}").json()
        page = client.get(f"/traces/{filled.project_id}/{SPAN_TRACE}").text
        other = client.get(f"/traces/{filled.project_id}/{LOGGED_TRACE}").text
    [root] = spans["spans"]
    assert spans["span_count"] == 4 and root["name"] == f"handle {SCRIPT}"
    assert [c["name"] for c in root["children"]] == [f"chat {IMG}", "format"]
    chat = root["children"][0]
    assert chat["model"] == f"model {IMG}" and chat["input_tokens"] == 12
    assert chat["duration_ms"] == pytest.approx(590.0)
    assert [c["status"] for c in chat["children"]] == ["error"]
    assert spans["input"] == [{"role": "user", "content": f"span question {SCRIPT}"}]
    assert page.count('class="span"') == 4 and page.count("<ul>") == 2  # two nested levels
    assert "590.0 ms" in page and "model " + ESCAPED[1] in page
    assert logged["input"][1]["content"] == f"question 0-0 {SCRIPT}"
    assert logged["attributes"] == {"route": LINK, SCRIPT: IMG}
    assert [s["value"] for s in logged["scores"]] == [0.8, 1.0]
    assert logged["scores"][1]["metric"] == f"judge {IMG}"
    assert [e["label"] for e in logged["feedback"]] == [IMG]
    assert [e["label"] for e in logged["labels"]] == [f"good {SCRIPT}"]
    assert "No spans" in other and "faithfulness" in other and "sample-10" in other
    for html in (page, other):
        _no_markup_from_data(html)
    for text in ESCAPED:  # messages, attributes, span names, models, feedback labels
        assert text in page or text in other
    assert other.count(ESCAPED[1]) >= 4  # output, model, feedback label, attribute, review


def test_unknown_project_or_trace_is_a_404_with_a_message(filled: Filled) -> None:
    with _client(filled.url) as client:
        responses = {
            "project": client.get("/api/production/nosuch"),
            "project page": client.get("/production/nosuch"),
            "trace": client.get(f"/api/traces/{filled.project_id}/deadbeef"),
            "trace page": client.get(f"/traces/{filled.project_id}/deadbeef"),
            "trace elsewhere": client.get(f"/api/traces/empty-project/{LOGGED_TRACE}"),
        }
        spec = client.get("/api/openapi.json").json()
    for name, response in responses.items():
        assert response.status_code == 404, name
    assert "nosuch" in responses["project"].json()["detail"]
    assert "deadbeef" in responses["trace"].json()["detail"]
    assert {"/api/production", "/api/production/{project}",
            "/api/traces/{project}/{trace_id}"} <= set(spec["paths"])


def test_an_empty_project_has_a_dashboard_without_points(filled: Filled) -> None:
    with _client(filled.url) as client:
        page = client.get("/production/empty-project", params={"days": 3})
        view = client.get("/api/production/empty-project", params={"days": 3}).json()
    assert page.status_code == 200 and "No traces stored" in page.text
    assert [p["estimate"] for p in view["volume"]] == [0, 0, 0]
    assert all(p["estimate"] is None for p in view["latency_p95_ms"]) and view["next"] is None
    assert _points(page.text, "volume") == 3 and _points(page.text, "latency") == 0


def test_span_tree_keeps_orphans_and_cycles_as_roots() -> None:
    from evalstack.web.production import span_tree

    t = day(0)

    def row(span_id: str, parent: str | None, seconds: int) -> dict[str, object]:
        return {"span_id": span_id, "parent_span_id": parent, "name": span_id, "kind": None,
                "status": None, "service": None, "started_at": t + timedelta(seconds=seconds),
                "ended_at": None, "attributes": {}, "genai": {}}

    forest = span_tree([row("root", None, 0), row("late", "root", 5), row("early", "root", 1),
                        row("orphan", "gone", 2), row("x", "y", 3), row("y", "x", 4)])
    assert [n["span_id"] for n in forest] == ["root", "orphan", "x"]  # in start order
    assert [c["span_id"] for c in forest[0]["children"]] == ["early", "late"]
    assert [c["span_id"] for c in forest[2]["children"]] == ["y"]  # the cycle, cut once
    assert forest[2]["children"][0]["depth"] == 1 and forest[0]["duration_ms"] is None
