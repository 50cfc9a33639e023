"""The arena in Chromium: the leaderboard's interval bars and heat map render, and the blind
vote queue offers the pair active choice picks, voted on with the keyboard."""

from __future__ import annotations

import json
import subprocess
import sys

from evalstack.store import Store
from evalstack.store.battles import list_battles
from tests.analysis.helpers import write_dataset
from tests.web.conftest import artifacts_dir
from tests.web.test_viewer_arena import TAGS, N, seed_battles


def _runs(tmp_path):
    """One stored run per contestant (a subprocess: the module's browser holds an event loop)."""
    data = write_dataset(tmp_path / "items.jsonl", N)
    url = str(tmp_path / "store.db")
    runs = {}
    for name, tag in TAGS.items():
        replies = tmp_path / f"replies-{name}.json"
        replies.write_text(json.dumps({f"q{i}": f"{tag}-{i} answer" for i in range(N)}))
        done = subprocess.run([sys.executable, "-m", "evalstack", "run", str(data), "-m",
                               "mock/scripted", "-M", f"replies={replies}", "--store", url,
                               "--no-progress", "--json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        runs[name] = json.loads(done.stdout)["run_id"]
    seed_battles(url, runs)
    return url, runs


def _owner(text):
    return next(name for name, tag in TAGS.items() if text.startswith(tag))


def test_leaderboard_renders_and_the_vote_queue_offers_the_close_pair(tmp_path, live_viewer,
                                                                      browser):
    store, runs = _runs(tmp_path)
    url = live_viewer(store)
    page = browser.new_page()
    errors: list[str] = []
    # a CSP violation (an inline style or script) would show as a console error
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text
            else None)
    page.goto(f"{url}/arena/demo?boot=100")
    assert page.locator("tr.contestant").count() == 3
    assert page.locator("tr.contestant td").nth(1).inner_text() in ("alpha", "beta")
    for selector in ("svg.interval rect.ci", "svg.interval rect.bci", "svg.interval rect.pt"):
        bars = page.locator(selector)
        assert bars.count() == 3, selector
        assert all(bars.nth(i).bounding_box()["width"] > 0 for i in range(3)), selector
    cells = page.locator("svg.heatmap g.cell rect")
    assert cells.count() == 9
    box = cells.first.bounding_box()
    assert box["width"] > 20 and box["height"] > 10
    assert page.locator("svg.heatmap g.cell:not(.diagonal) text").all_inner_texts() != []
    page.screenshot(path=str(artifacts_dir() / "arena_leaderboard.png"), full_page=True)

    page.goto(f"{url}/arena/demo/vote?labeller=ann")
    page.screenshot(path=str(artifacts_dir() / "arena_vote.png"), full_page=True)
    seen = []
    # the keys of static/label.js: 1 left, 2 right, t tie, b both bad
    for n, key in enumerate(("1", "2", "t", "b")):
        page.wait_for_selector(f"text={n} voted by ann")
        left = _owner(page.locator("section.side pre.output").first.inner_text())
        prompt = page.locator("input[name=prompt_id]").get_attribute("value")
        with page.expect_navigation():
            page.keyboard.press(key)
        with Store.open(store) as st:
            vote = list_battles(st, "demo")[-1]
        assert (vote.decided_by, vote.labeller, vote.prompt_id) == ("human", "ann", prompt)
        assert (vote.run_a, vote.run_b) == (runs[vote.model_a], runs[vote.model_b])
        won = vote.model_a if left == vote.model_a else vote.model_b
        expected = {"1": "a" if won == vote.model_a else "b",
                    "2": "b" if won == vote.model_a else "a",
                    "t": "tie", "b": "bad"}[key]
        assert vote.outcome == expected, key
        seen.append(frozenset((vote.model_a, vote.model_b)))
    assert seen[0] == {"alpha", "beta"}  # the two close at the top, not the one far below
    page.wait_for_selector("text=4 voted by ann")
    assert page.locator("section.side pre.output").count() == 2  # the next pair is shown
    html = page.content()
    assert not any(name in html for name in TAGS) and not any(r in html for r in runs.values())
    page.close()
    assert not errors, errors
    with Store.open(store) as st:
        human = [b for b in list_battles(st, "demo") if b.decided_by == "human"]
    assert len(human) == 4 and len({(b.model_a, b.model_b, b.prompt_id) for b in human}) == 4
