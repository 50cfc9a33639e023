"""Labelling in the viewer: the rating queue, blind pairwise votes, CSRF, and the store."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from evalstack.store import Store
from evalstack.web.app import create_app
from tests.analysis.helpers import mock_run, write_dataset

BASE = "http://127.0.0.1:8765"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    store = tmp_path / "store.db"
    monkeypatch.setenv("EVALSTACK_STORE", str(store))
    data = write_dataset(tmp_path / "items.jsonl", 8)
    a = mock_run(tmp_path, data, "a", [True] * 8)
    b = mock_run(tmp_path, data, "b", [False] * 8)
    return str(store), a, b


def _csrf(html):
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _client(store):
    return TestClient(create_app(store), base_url=BASE, headers={"origin": BASE})


def test_rating_queue_stores_labels_with_name_and_time(runs):
    store, a, _ = runs
    with _client(store) as client:
        page = client.get("/label", params={"run": a, "labeller": "ana"})
        assert "s0000" in page.text and "rating_accuracy" in page.text
        saved = client.post("/label", data={
            "csrf": _csrf(page.text), "run": a, "sample_id": "s0000", "epoch": 1,
            "labeller": "ana", "thumbs": "up", "rating_accuracy": "5", "rating_clarity": "4",
            "comment": "<b>fine</b>"}, follow_redirects=False)
        assert saved.status_code == 303
        following = client.get(saved.headers["location"])
        labels = client.get("/api/labels", params={"run": a}).json()
    assert "s0001" in following.text and "1 of 8 done by ana" in following.text
    assert len(labels) == 1
    label = labels[0]
    assert (label["labeller"], label["thumbs"], label["ratings"]) == (
        "ana", 1, {"accuracy": 5, "clarity": 4})
    assert label["comment"] == "<b>fine</b>" and label["created_at"].startswith("20")


def test_a_post_without_the_csrf_token_or_from_elsewhere_is_refused(runs):
    store, a, _ = runs
    form = {"run": a, "sample_id": "s0000", "epoch": 1, "labeller": "ana", "thumbs": "up"}
    with _client(store) as client:
        assert client.post("/label", data=form).status_code == 403
        assert client.post("/label", data={**form, "csrf": "guess"}).status_code == 403
    with TestClient(create_app(store), base_url=BASE) as client:  # no Origin header
        assert client.post("/label", data=form).status_code == 403
    with Store.open(store) as st:
        assert st.list_labels() == []


def test_blind_pairwise_votes_map_back_to_the_runs(runs):
    store, a, b = runs
    shown_left = []
    with _client(store) as client:
        for _ in range(8):
            page = client.get("/label/pairwise", params={"a": a, "b": b, "labeller": "bo"})
            assert "mock/scripted" not in page.text and a not in page.text.split("<form")[0]
            left = re.search(r"<h2>Left</h2><pre class=\"text output\">([^<]*)<", page.text)[1]
            # vote for the right answer ("aN"), wherever it was shown
            choice = "left" if left.startswith("a") else "right"
            shown_left.append(choice)
            sample = re.search(r'name="sample_id" value="([^"]+)"', page.text)[1]
            client.post("/label/pairwise", data={
                "csrf": _csrf(page.text), "a": a, "b": b, "sample_id": sample, "epoch": 1,
                "labeller": "bo", "choice": choice})
        done = client.get("/label/pairwise", params={"a": a, "b": b, "labeller": "bo"})
        labels = client.get("/api/labels", params={"kind": "pairwise"}).json()
    assert "Nothing left to compare" in done.text
    assert len(labels) == 8 and {lb["preference"] for lb in labels} == {"a"}
    assert {lb["other_run_id"] for lb in labels} == {b}
    assert set(shown_left) == {"left", "right"}  # the order varies: position tells nothing


def test_judge_validate_uses_the_viewers_labels(runs, tmp_path):
    import json
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from evalstack.cli.main import cli
    from evalstack.datasets.store_labels import labels_from_store

    store, a, b = runs
    with _client(store) as client:
        for i, ratings in enumerate([("5", "5", "4"), ("1", "2", "1"), ("4", "4", "4")]):
            page = client.get("/label", params={"run": a, "labeller": "ana"})
            client.post("/label", data={
                "csrf": _csrf(page.text), "run": a, "sample_id": f"s{i:04d}", "epoch": 1,
                "labeller": "ana", **dict(zip(("rating_accuracy", "rating_completeness",
                                               "rating_clarity"), ratings, strict=True))})
        page = client.get("/label/pairwise", params={"a": a, "b": b, "labeller": "bo"})
        sample = re.search(r'name="sample_id" value="([^"]+)"', page.text)[1]
        client.post("/label/pairwise", data={"csrf": _csrf(page.text), "a": a, "b": b,
                                             "sample_id": sample, "epoch": 1, "labeller": "bo",
                                             "choice": "tie"})
    with Store.open(store) as st:
        rated = labels_from_store(st, a)
        votes = labels_from_store(st, a, "pairwise")
    assert rated.kind == "pointwise" and rated.scale == (1.0, 5.0)
    assert [round(i.human, 3) for i in rated.items] == [4.667, 1.333, 4.0]
    assert votes.kind == "pairwise" and votes.items[0].preference == "tie"
    assert (votes.items[0].answer_a, votes.items[0].answer_b) == ("a0", "wrong")
    root = Path(__file__).resolve().parents[2]
    judge = tmp_path / "keyword_judge.py"
    shutil.copy(root / "examples" / "judging" / "keyword_judge.py", judge)
    result = CliRunner().invoke(cli, ["judge", "validate", f"store:{a}", "--store", store,
                                      "--judge", f"python/{judge}:grade", "--probes", "none",
                                      "--json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_items"] == 3 and report["labels"] == f"labels of {a}"


def test_label_pages_have_json_twins(runs):
    store, a, b = runs
    with _client(store) as client:
        rating = client.get("/api/label/next", params={"run": a, "labeller": "ana"}).json()
        pair = client.get("/api/label/pairwise/next",
                          params={"a": a, "b": b, "labeller": "bo"}).json()
        spec = client.get("/api/openapi.json").json()
    assert rating["sample"]["sample_id"] == "s0000" and rating["total"] == 8
    assert rating["criteria"] == ["accuracy", "completeness", "clarity"]
    assert {pair["sample"]["left"], pair["sample"]["right"]} == {"a0", "wrong"}
    assert "mock" not in json.dumps(pair["sample"])  # blind: no model names
    for path in ("/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/sample",
                 "/api/compare", "/api/compare/sample", "/api/label/next",
                 "/api/label/pairwise/next", "/api/labels"):
        assert path in spec["paths"], path
