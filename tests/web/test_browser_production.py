"""The production pages in a real browser: a project's dashboard and a trace page render their
charts and content, break no rule of the Content-Security-Policy, and execute nothing that the
traces carry (messages, attributes, span and model names, feedback labels)."""

from __future__ import annotations

from evalstack.web.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import artifacts_dir
from tests.web.test_viewer_production import LOGGED_TRACE, SPAN_TRACE, fill

# the page's own hostile texts (tests.web.test_viewer_production) would call alert(): a
# dialog; these set a flag instead, for the pages to carry as well
PAYLOADS = [
    "<script>window.__xss=(window.__xss||0)+1</script>",
    '"><img src=x onerror="window.__xss=(window.__xss||0)+1">',
    '<a href="javascript:window.__xss=1">click</a>',
    '<svg onload="window.__xss=(window.__xss||0)+1"></svg>',
]


def _store(tmp_path):
    """The viewer tests' production store, plus a trace whose every text is a payload."""
    from datetime import UTC, datetime

    from evalstack.production.store import FeedbackEvent, add_feedback, project_id
    from evalstack.production.traces import Interaction, log_interactions
    from evalstack.store import Store

    filled = fill(str(tmp_path / "store.db"))
    with Store.open(filled.url) as store:
        pid = project_id(store, filled.project_name)
        assert pid is not None
        now = datetime.now(UTC)
        [trace] = log_interactions(store, pid, [Interaction(
            input=[{"role": "user", "content": p} for p in PAYLOADS],
            output=[{"role": "assistant", "content": p} for p in PAYLOADS], started_at=now,
            model=PAYLOADS[1], metadata={p: p for p in PAYLOADS})])
        add_feedback(store, pid, [FeedbackEvent("thumbs", now, trace_id=trace, label=p,
                                                metadata={"comment": p}) for p in PAYLOADS])
    return filled, trace


def test_production_and_trace_pages_in_chromium_run_no_injected_script(tmp_path, live_viewer,
                                                                         browser):
    filled, payload_trace = _store(tmp_path)
    url = live_viewer(filled.url)
    page = browser.new_page()
    dialogs: list[str] = []
    csp_violations: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: "Content Security Policy" in m.text
            and csp_violations.append(m.text))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))

    def safe() -> None:
        assert page.evaluate("window.__xss === undefined") and dialogs == []

    # the list of projects, and the project's dashboard opened from it, as a user would
    response = page.goto(f"{url}/production")
    assert response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.locator("table.projects tbody tr").count() == 2
    page.screenshot(path=str(artifacts_dir() / "production_projects.png"), full_page=True)
    page.click(f"table.projects a[href='/production/{filled.project_id}']")
    page.wait_for_url(f"**/production/{filled.project_id}")
    for chart in ("volume", "cost", "latency", "feedback", "score"):
        assert page.locator(f"svg.chart.{chart}").first.is_visible(), chart
    assert page.locator("svg.chart.volume circle.pt").count() == 30
    assert page.locator("table.traces tbody tr").count() == 50
    assert page.locator("a.next").is_visible()
    assert "<script>alert(1)</script>" in page.locator("h1").inner_text()  # shown as text
    page.screenshot(path=str(artifacts_dir() / "production.png"), full_page=True)
    safe()
    # a shorter window, with the form
    page.fill("input[name=days]", "7")
    page.click("button[type=submit]")
    page.wait_for_url("**days=7*")
    assert page.locator("svg.chart.volume circle.pt").count() == 7
    safe()
    # the span tree of an OpenTelemetry trace, opened from the table
    page.goto(f"{url}/production/{filled.project_id}")
    page.click(f"table.traces a[href$='/{SPAN_TRACE}']")
    page.wait_for_url(f"**/traces/*/{SPAN_TRACE}")
    assert page.locator("li.span").count() == 4
    assert page.locator("ul.spans > li.span > details > summary .name").inner_text() == \
        "handle <script>alert(1)</script>"
    assert page.locator("li.span li.span li.span").count() == 1  # three levels deep
    page.screenshot(path=str(artifacts_dir() / "trace_spans.png"), full_page=True)
    safe()
    # a logged trace with its scores, review and feedback
    page.goto(f"{url}/traces/{filled.project_id}/{LOGGED_TRACE}")
    assert page.locator("table.scores tbody tr").count() == 2
    assert page.locator("table.labels tbody tr").count() == 1
    assert page.locator("table.feedback td.label").inner_text() == \
        '"><img src=x onerror=alert(1)>'
    page.screenshot(path=str(artifacts_dir() / "trace.png"), full_page=True)
    safe()
    # the trace whose every text is a payload that would set a flag if it ran
    page.goto(f"{url}/traces/{filled.project_id}/{payload_trace}")
    texts = page.locator("div.messages pre.text").all_inner_texts()
    assert texts == PAYLOADS * 2  # input and output, each as text
    assert page.locator("table.feedback td.label").all_inner_texts() == PAYLOADS
    assert page.locator("main img, main script, main a[href^='javascript']").count() == 0
    page.screenshot(path=str(artifacts_dir() / "trace_xss.png"), full_page=True)
    safe()
    # an unknown trace: a 404 that says so
    missing = page.goto(f"{url}/traces/{filled.project_id}/deadbeef")
    assert missing.status == 404 and "deadbeef" in page.locator("body").inner_text()
    errors = [e for e in errors if "404" not in e]  # the 404 page's own status line
    assert csp_violations == [] and errors == []
    executions = page.evaluate("window.__xss || 0")
    (artifacts_dir() / "xss_production.txt").write_text(f"script executions: {executions}\n")
    assert executions == 0 and dialogs == []
    page.close()
