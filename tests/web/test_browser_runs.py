"""The runs page in a real browser: it renders, filters, and executes nothing from the data."""

from __future__ import annotations

import json
import subprocess
import sys

from evalstack.web.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import artifacts_dir

PAYLOADS = [
    "<script>window.__xss=(window.__xss||0)+1</script>",
    '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
    '<a href="javascript:window.__xss=1">click</a>',
    '<svg onload="window.__xss=(window.__xss||0)+1"></svg>',
]


def _store(tmp_path, task_name):
    """Two runs of a task whose name and data carry XSS payloads."""
    data = tmp_path / f"{task_name}.jsonl"
    data.write_text("".join(json.dumps({"input": p, "target": p}) + "\n" for p in PAYLOADS))
    url = str(tmp_path / "store.db")
    for model in ("mock/echo", "mock/constant"):
        # a separate process: Playwright's sync API holds an event loop in this thread
        done = subprocess.run([sys.executable, "-m", "evalstack", "run", str(data),
                               "-m", model, "--store", url, "--no-progress", "--json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    return url


def test_runs_page_in_chromium_filters_and_runs_no_injected_script(tmp_path, live_viewer, browser):
    url = live_viewer(_store(tmp_path, "xss_probe"))
    page = browser.new_page()
    dialogs: list[str] = []
    csp_violations: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: "Content Security Policy" in m.text
            and csp_violations.append(m.text))
    response = page.goto(f"{url}/runs")
    assert response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 2
    page.screenshot(path=str(artifacts_dir() / "runs.png"), full_page=True)
    # filter by model with the form, as a user would
    page.fill("input[name=model]", "mock/echo")
    page.click("button[type=submit]")
    page.wait_for_url("**/runs?*model=mock%2Fecho*")
    assert page.locator("table.runs tbody tr").count() == 1
    assert page.evaluate("window.__xss === undefined") and dialogs == []
    # open the run, as a user would, and look at its samples (the payloads are its outputs)
    page.click("table.runs tbody tr a")
    page.wait_for_url("**/runs/*")
    assert page.locator("table.samples tbody tr").count() == len(PAYLOADS)
    assert page.locator("table.samples pre").first.inner_text() in PAYLOADS
    page.screenshot(path=str(artifacts_dir() / "run.png"), full_page=True)
    assert page.evaluate("window.__xss === undefined") and dialogs == []
    # and one sample, whole
    page.click("table.samples tbody tr a >> nth=1")
    page.wait_for_url("**/sample?*")
    assert page.locator("pre.output").inner_text() in PAYLOADS
    page.screenshot(path=str(artifacts_dir() / "sample.png"), full_page=True)
    assert page.evaluate("window.__xss === undefined") and dialogs == []
    # compare the two runs and open a flipped sample side by side
    page.goto(f"{url}/runs")
    ids = page.locator("table.runs tbody tr code").all_inner_texts()
    page.goto(f"{url}/compare?runs={ids[1]}&runs={ids[0]}")
    assert "broken in B" in page.locator("main").inner_text()
    page.screenshot(path=str(artifacts_dir() / "compare.png"), full_page=True)
    page.click("ul.flips a >> nth=0")
    page.wait_for_url("**/compare/sample?*")
    assert page.locator("pre.output").count() == 2
    page.screenshot(path=str(artifacts_dir() / "side_by_side.png"), full_page=True)
    assert page.evaluate("window.__xss === undefined") and dialogs == []
    # the pages' own markup breaks no rule of their policy (no inline script or style)
    assert csp_violations == []
    executions = page.evaluate("window.__xss || 0")
    (artifacts_dir() / "xss.txt").write_text(f"script executions: {executions}\n")
    assert executions == 0
    page.close()
