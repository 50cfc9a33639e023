"""The compare page: the paired statistics of `evalstack compare`, flips, side by side."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from evalstack.web.app import create_app
from tests.analysis.helpers import invoke, mock_run, write_dataset

BASE = "http://127.0.0.1:8765"


@pytest.fixture
def two_runs(tmp_path, monkeypatch):
    store = tmp_path / "store.db"
    monkeypatch.setenv("EVALSTACK_STORE", str(store))
    data = write_dataset(tmp_path / "items.jsonl", 60)
    a = mock_run(tmp_path, data, "a", [i % 3 != 0 for i in range(60)])
    b = mock_run(tmp_path, data, "b", [i % 5 != 0 for i in range(60)])
    return str(store), a, b


def test_compare_json_is_what_the_cli_reports(two_runs):
    store, a, b = two_runs
    cli = json.loads(invoke("compare", a, b, "--json").output)["comparisons"][0]
    with TestClient(create_app(store), base_url=BASE) as client:
        web = client.get("/api/compare", params={"runs": [a, b]}).json()["comparisons"][0]
    assert web["verdict"] == cli["verdict"]
    assert web["metrics"] == cli["metrics"] and web["fixed"] == cli["fixed"]


def test_compare_page_lists_flips_that_open_side_by_side(two_runs):
    store, a, b = two_runs
    with TestClient(create_app(store), base_url=BASE) as client:
        page = client.get("/compare", params={"runs": [a, b]})
        assert page.status_code == 200 and "By category" in page.text
        assert "fixed in B" in page.text and "broken in B" in page.text
        both = client.get("/api/compare/sample", params={"a": a, "b": b, "id": "s0003"}).json()
        side = client.get("/compare/sample", params={"a": a, "b": b, "id": "s0003"})
    assert (both["a"]["output"], both["b"]["output"]) == ("wrong", "a3")
    assert side.status_code == 200 and side.text.count('class="text output"') == 2


def test_compare_of_one_run_is_a_clear_400(two_runs):
    store, a, _ = two_runs
    with TestClient(create_app(store), base_url=BASE) as client:
        response = client.get("/api/compare", params={"runs": [a]})
        empty = client.get("/compare")
    assert response.status_code == 400 and "at least two runs" in response.json()["detail"]
    assert empty.status_code == 200  # the form, with nothing compared yet


def test_compare_page_links_its_json_twin(two_runs):
    store, a, b = two_runs
    with TestClient(create_app(store), base_url=BASE) as client:
        page = client.get("/compare", params={"runs": [a, b]}).text
        href = page.split('href="/api/compare?')[1].split('"')[0].replace("&amp;", "&")
        twin = client.get(f"/api/compare?{href}")
    assert twin.status_code == 200 and twin.json()["runs"] == [a, b]
