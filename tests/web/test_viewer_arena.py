"""The arena in the viewer: leaderboard pages and their JSON twin, the blind-vote queue fed
by active choice, CSRF, escaping, and the battles the viewer's votes store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from evalstack.analysis.arena import leaderboard
from evalstack.cli.main import cli
from evalstack.store import Store
from evalstack.store.battles import BattleRecord, add_battles, list_battles
from evalstack.web.app import create_app
from tests.analysis.helpers import write_dataset

BASE = "http://127.0.0.1:8765"
N = 8
#: contestant -> the tag its run's answers start with (the tag names no contestant)
TAGS = {"alpha": "AAA", "beta": "BBB", "gamma": "CCC"}


def scripted_run(tmp_path: Path, data: Path, store: str, replies: dict[str, str]) -> str:
    """A stored run of ``data`` on ``mock/scripted`` answering each question as given."""
    rp = tmp_path / f"replies-{len(list(tmp_path.glob('replies-*')))}.json"
    rp.write_text(json.dumps(replies), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/scripted", "-M",
                                      f"replies={rp}", "--store", store, "--json",
                                      "--no-cache"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["run_id"]


def seed_battles(store: str, runs: dict[str, str], arena: str = "demo") -> None:
    """alpha and beta close at the top (4-4), gamma far below (1 win in 8 against each)."""
    rows = []
    for i in range(N):
        pid = f"s{i:04d}"
        for a, b, outcome in (("alpha", "beta", "a" if i % 2 else "b"),
                              ("alpha", "gamma", "b" if i == 0 else "a"),
                              ("beta", "gamma", "b" if i == 1 else "a")):
            rows.append(BattleRecord(arena=arena, prompt_id=pid, model_a=a, model_b=b,
                                     outcome=outcome, decided_by="judge", run_a=runs[a],
                                     run_b=runs[b], judge="mock/j", source="arena run"))
    rows.append(BattleRecord(arena=arena, prompt_id="s0000", model_a="alpha", model_b="beta",
                             outcome=None, decided_by="judge", run_a=runs["alpha"],
                             run_b=runs["beta"], flag="judge gave no verdict in both orders"))
    with Store.open(store) as st:
        add_battles(st, rows)


@pytest.fixture
def arena(tmp_path):
    store = str(tmp_path / "store.db")
    data = write_dataset(tmp_path / "items.jsonl", N)
    runs = {name: scripted_run(tmp_path, data, store,
                               {f"q{i}": f"{tag}-{i} answer" for i in range(N)})
            for name, tag in TAGS.items()}
    seed_battles(store, runs)
    return store, runs


def _client(store):
    return TestClient(create_app(store), base_url=BASE, headers={"origin": BASE})


def _field(html, name):
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def _left(html):
    return re.search(r'<h2>Left</h2>.*?<pre class="text output">([^<]*)<', html, re.S).group(1)


def _owner(text):
    return next(name for name, tag in TAGS.items() if text.startswith(tag))


def test_the_leaderboard_json_is_the_analysis_leaderboard(arena):
    store, _ = arena
    with Store.open(store) as st:
        expected = leaderboard(list_battles(st, "demo"), arena="demo", n_boot=100).to_dict()
    with _client(store) as client:
        got = client.get("/api/arena/demo", params={"boot": 100})
        listed = client.get("/api/arena").json()
        spec = client.get("/api/openapi.json").json()
    assert got.status_code == 200
    assert got.json() == json.loads(json.dumps(expected))
    assert [r["name"] for r in got.json()["rows"]][-1] == "gamma"
    assert listed == [{"arena": "demo", "battles": 3 * N + 1}]
    for path in ("/api/arena", "/api/arena/{name}", "/api/arena/{name}/next"):
        assert path in spec["paths"], path


def test_the_leaderboard_page_shows_intervals_heat_map_flags_and_verdict(arena):
    store, _ = arena
    with _client(store) as client:
        page = client.get("/arena/demo", params={"boot": 100})
        board = client.get("/api/arena/demo", params={"boot": 100}).json()
        listing = client.get("/arena")
    assert page.status_code == 200
    html = page.text
    assert html.count('<tr class="contestant">') == 3
    assert html.count('<rect class="ci"') == 3 and html.count('<rect class="bci"') == 3
    assert html.count('<g class="cell">') == 6 and html.count('<g class="cell diagonal">') == 3
    for a, row in board["win_rate"].items():
        for b, p in row.items():
            assert f"{a} beats {b}: {p:.3f}" in html
    assert board["verdict"] in html
    assert "judge gave no verdict in both orders: 1" in html
    assert " style=" not in html  # the CSP forbids inline styles: colours are SVG attributes
    assert 'href="/arena/demo"' in listing.text and ">25<" in listing.text


def test_a_missing_arena_is_a_404_with_the_list(arena):
    store, _ = arena
    with _client(store) as client:
        page = client.get("/arena/nope")
        api = client.get("/api/arena/nope")
        vote = client.get("/arena/nope/vote", params={"labeller": "ann"})
    assert page.status_code == 404 and 'href="/arena/demo"' in page.text
    assert "No arena named &#39;nope&#39;" in page.text
    assert api.status_code == 404 and "demo" in api.json()["detail"]
    assert vote.status_code == 404


def test_a_disconnected_arena_says_why_it_cannot_be_rated(arena):
    store, _ = arena
    with Store.open(store) as st:
        add_battles(st, [BattleRecord(arena="split", prompt_id=str(i), model_a=a, model_b=b,
                                      outcome="a" if i % 2 else "b", decided_by="import")
                         for i in range(4) for a, b in (("x", "y"), ("z", "w"))])
    with _client(store) as client:
        page = client.get("/arena/split")
        api = client.get("/api/arena/split")
        vote = client.get("/arena/split/vote", params={"labeller": "ann"})
    assert page.status_code == 409 and "groups that never meet" in page.text
    assert api.status_code == 409 and "groups that never meet" in api.json()["detail"]
    assert vote.status_code == 200 and "two contestants with stored runs" in vote.text


def test_blind_votes_store_battles_with_the_outcome_the_hidden_order_means(arena):
    store, runs = arena
    lefts = []
    with _client(store) as client:
        first = client.get("/api/arena/demo/next", params={"labeller": "ann"}).json()
        for n in range(12):
            page = client.get("/arena/demo/vote", params={"labeller": "ann"})
            html = page.text
            assert page.status_code == 200 and f"{n} voted by ann" in html
            for secret in [*TAGS, *runs.values(), "mock/"]:
                assert secret not in html, secret
            prompt = _field(html, "prompt_id")
            left = _owner(_left(html))
            choice = ("left", "right", "tie", "bad")[n % 4] if n >= 8 else "left"
            saved = client.post("/arena/demo/vote", data={
                "csrf": _field(html, "csrf"), "pair": _field(html, "pair"),
                "prompt_id": prompt, "labeller": "ann", "choice": choice},
                follow_redirects=False)
            assert saved.status_code == 303
            assert saved.headers["location"] == "/arena/demo/vote?labeller=ann"
            with Store.open(store) as st:
                vote = list_battles(st, "demo")[-1]
            assert (vote.decided_by, vote.labeller, vote.source) == ("human", "ann", "viewer")
            assert vote.prompt_id == prompt and left in (vote.model_a, vote.model_b)
            assert (vote.run_a, vote.run_b) == (runs[vote.model_a], runs[vote.model_b])
            assert vote.len_a == len(f"{TAGS[vote.model_a]}-{int(prompt[1:])} answer")
            expected = {"left": "a" if left == vote.model_a else "b",
                        "right": "b" if left == vote.model_a else "a"}.get(choice, choice)
            assert vote.outcome == expected
            lefts.append(left == vote.model_a)
            if n == 0:
                assert first["offer"]["prompt_id"] == prompt
                assert {vote.model_a, vote.model_b} == {"alpha", "beta"}  # the close pair
    assert set(lefts) == {True, False}  # the order varies: position tells nothing
    with Store.open(store) as st:
        human = [b for b in list_battles(st, "demo") if b.decided_by == "human"]
    assert len(human) == 12
    assert len({(frozenset((b.model_a, b.model_b)), b.prompt_id) for b in human}) == 12


def test_the_next_vote_json_is_blind(arena):
    store, runs = arena
    with _client(store) as client:
        got = client.get("/api/arena/demo/next", params={"labeller": "ann"}).json()
    text = json.dumps(got)
    assert got["offer"]["prompt_id"].startswith("s0")
    assert {got["offer"]["left"][0]["reply"][:3], got["offer"]["right"][0]["reply"][:3]} \
        <= set(TAGS.values())
    for secret in [*TAGS, *runs.values(), "mock/"]:
        assert secret not in text, secret


def test_a_vote_without_the_csrf_token_is_refused(arena):
    store, _ = arena
    with _client(store) as client:
        page = client.get("/arena/demo/vote", params={"labeller": "ann"}).text
        form = {"pair": _field(page, "pair"), "prompt_id": _field(page, "prompt_id"),
                "labeller": "ann", "choice": "left"}
        assert client.post("/arena/demo/vote", data=form).status_code == 403
        assert client.post("/arena/demo/vote", data={**form, "csrf": "guess"}).status_code \
            == 403
        forged = client.post("/arena/demo/vote", data={**form, "csrf": _field(page, "csrf"),
                                                       "pair": "0" * 32})
        assert forged.status_code == 409
        bad = client.post("/arena/demo/vote", data={**form, "csrf": _field(page, "csrf"),
                                                    "choice": "alpha"})
        assert bad.status_code == 400
    with Store.open(store) as st:
        assert not [b for b in list_battles(st, "demo") if b.decided_by == "human"]


def test_answers_are_escaped(tmp_path):
    store = str(tmp_path / "store.db")
    data = write_dataset(tmp_path / "items.jsonl", 2)
    evil = scripted_run(tmp_path, data, store, {"q0": "<script>alert(1)</script>",
                                                "q1": "<b onmouseover=x>hi</b>"})
    fine = scripted_run(tmp_path, data, store, {"q0": "fine", "q1": "fine"})
    with Store.open(store) as st:
        add_battles(st, [BattleRecord(arena="esc", prompt_id="s0000", model_a="<i>evil</i>",
                                      model_b="fine", outcome="a", decided_by="judge",
                                      run_a=evil, run_b=fine)])
    with _client(store) as client:
        vote = client.get("/arena/esc/vote", params={"labeller": "ann"}).text
        page = client.get("/arena/esc", params={"boot": 50}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in vote and "<script>alert" not in vote
    assert "&lt;i&gt;evil&lt;/i&gt;" in page and "<i>evil" not in page


def test_a_pairwise_label_is_also_stored_as_a_battle(arena):
    store, runs = arena
    a, b = runs["alpha"], runs["beta"]
    with _client(store) as client:
        page = client.get("/label/pairwise", params={"a": a, "b": b, "labeller": "bo"}).text
        sample = _field(page, "sample_id")
        client.post("/label/pairwise", data={"csrf": _field(page, "csrf"), "a": a, "b": b,
                                             "sample_id": sample, "epoch": 1,
                                             "labeller": "bo", "choice": "left"})
        labels = client.get("/api/labels", params={"kind": "pairwise"}).json()
    with Store.open(store) as st:
        task = st.get_run(a).task_name
        (battle,) = list_battles(st, task)
    assert battle.outcome == labels[0]["preference"] and battle.outcome in ("a", "b")
    assert (battle.model_a, battle.model_b) == (f"mock/scripted#{a[-6:]}",
                                                f"mock/scripted#{b[-6:]}")
    assert (battle.run_a, battle.run_b, battle.prompt_id) == (a, b, sample)
    assert (battle.decided_by, battle.source, battle.labeller) == ("human", "viewer", "bo")
    assert battle.len_a == len(f"AAA-{int(sample[1:])} answer") and battle.category
