"""Labelling in Chromium with the keyboard only: five ratings, then blind pairwise votes."""

from __future__ import annotations

import json
import subprocess
import sys

from evalstack.store import Store
from tests.web.conftest import artifacts_dir


def _runs(tmp_path):
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"id": f"s{i}", "input": f"q{i}", "target": f"a{i}"})
                            + "\n" for i in range(6)))
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({f"q{i}": f"a{i}" for i in range(6)}))
    url = str(tmp_path / "store.db")
    ids = []
    for model, extra in (("mock/scripted", ["-M", f"replies={replies}"]), ("mock/echo", [])):
        done = subprocess.run([sys.executable, "-m", "evalstack", "run", str(data), "-m", model,
                               *extra, "--store", url, "--no-progress", "--json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        ids.append(json.loads(done.stdout)["run_id"])
    return url, ids


def test_label_five_samples_and_vote_blind_with_the_keyboard(tmp_path, live_viewer, browser):
    store, (good, echo) = _runs(tmp_path)
    url = live_viewer(store)
    page = browser.new_page()
    page.goto(f"{url}/label?run={good}&labeller=ana")
    for i in range(5):
        page.wait_for_selector(f"text=s{i}")
        page.keyboard.press("u")          # thumbs up
        for key in ("5", "4", "3"):        # accuracy, completeness, clarity
            page.keyboard.press(key)
        if i == 0:
            page.screenshot(path=str(artifacts_dir() / "label.png"), full_page=True)
        with page.expect_navigation():
            page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=5 of 6 done by ana")
    # blind pairwise: vote for the scripted (right) answer by key, wherever it is shown
    page.goto(f"{url}/label/pairwise?a={good}&b={echo}&labeller=bo")
    page.screenshot(path=str(artifacts_dir() / "label_pairwise.png"), full_page=True)
    for _ in range(6):
        left = page.locator("section.side pre.output").first.inner_text()
        with page.expect_navigation():
            page.keyboard.press("1" if left.startswith("a") else "2")
    page.wait_for_selector("text=Nothing left to compare")
    page.close()
    with Store.open(store) as st:
        ratings = st.list_labels(good, "rating")
        votes = st.list_labels(good, "pairwise")
    assert [r.sample_id for r in ratings] == ["s0", "s1", "s2", "s3", "s4"]
    assert all(r.labeller == "ana" and r.thumbs == 1 for r in ratings)
    assert ratings[0].ratings == {"accuracy": 5, "completeness": 4, "clarity": 3}
    assert len(votes) == 6 and {v.preference for v in votes} == {"a"}
