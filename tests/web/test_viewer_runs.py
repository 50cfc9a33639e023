"""The viewer's runs page and its JSON twin, and the guards in front of every page."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from evalstack.cli.main import cli
from evalstack.web.app import create_app
from evalstack.web.security import CONTENT_SECURITY_POLICY, TOKEN_COOKIE

BASE = "http://127.0.0.1:8765"
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


@pytest.fixture
def store(tmp_path):
    """A store with two real runs: an echo model on a dataset whose text is hostile HTML."""
    data = tmp_path / "data.jsonl"
    rows = [{"input": f"{XSS} q{i}", "target": f"{XSS} q{i}" if i % 2 else "no"}
            for i in range(6)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    url = str(tmp_path / "store.db")
    for model in ("mock/echo", "mock/constant"):
        result = CliRunner().invoke(cli, ["run", str(data), "-m", model, "--store", url,
                                          "--no-progress", "--json"])
        assert result.exit_code == 0, result.output
    return url


def _client(store, **kwargs):
    return TestClient(create_app(store, **kwargs), base_url=BASE)


def test_runs_page_lists_runs_with_intervals_and_escapes_text(store):
    with _client(store) as client:
        page = client.get("/runs")
    assert page.status_code == 200
    html = page.text
    assert html.count("<tr>") == 3  # header + two runs
    assert "mock/echo" in html and "mock/constant" in html
    assert "exact_match" in html and "n=6" in html and "[" in html
    assert "<script>" not in html  # nothing in the page is a script


def test_json_twin_filters_and_sorts_by_a_metric(store):
    with _client(store) as client:
        runs = client.get("/api/runs").json()
        assert [r["model"] for r in runs] == ["mock/constant", "mock/echo"]  # newest first
        best = client.get("/api/runs", params={"sort": "exact_match"}).json()
        only = client.get("/api/runs", params={"model": "mock/echo"}).json()
        none = client.get("/api/runs", params={"since": "2999-01-01"}).json()
    echo = next(r for r in runs if r["model"] == "mock/echo")
    m = echo["metrics"]["exact_match"]
    assert m["estimate"] == 0.5 and m["ci_low"] < 0.5 < m["ci_high"] and m["n"] == 6
    assert best[0]["model"] == "mock/echo"
    assert [r["model"] for r in only] == ["mock/echo"] and none == []


def test_openapi_documents_the_json_api_and_loads_nothing_from_elsewhere(store):
    with _client(store) as client:
        spec = client.get("/api/openapi.json").json()
        assert client.get("/docs").status_code == 404  # the docs page would load remote scripts
    assert "/api/runs" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/runs"]["get"]["parameters"]}
    assert params == {"task", "model", "status", "since", "sort"}


def test_every_response_carries_the_content_security_policy(store):
    with _client(store) as client:
        for path in ("/runs", "/api/runs", "/static/style.css", "/nowhere"):
            response = client.get(path)
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
            assert response.headers["x-content-type-options"] == "nosniff"


def test_a_foreign_host_header_is_refused(store):
    with _client(store) as client:
        response = client.get("/runs", headers={"host": "evil.example:8765"})
    assert response.status_code == 421


def test_state_changing_requests_need_the_viewers_own_origin(store):
    with _client(store) as client:
        assert client.post("/api/runs").status_code == 403
        forged = client.post("/api/runs", headers={"origin": "http://evil.example"})
        own = client.post("/api/runs", headers={"origin": BASE})
    assert forged.status_code == 403
    assert own.status_code == 405  # past the guard; the route itself only reads


def test_a_non_loopback_viewer_needs_the_token(store):
    app = create_app(store, host="192.0.2.10", port=8765, token="s3cret-token")
    with TestClient(app, base_url="http://192.0.2.10:8765") as client:
        assert client.get("/runs").status_code == 401
        assert client.get("/runs", headers={"authorization": "Bearer wrong"}).status_code == 401
        trade = client.get("/runs?token=s3cret-token&sort=x", follow_redirects=False)
        assert trade.status_code == 303 and trade.headers["location"] == "/runs?sort=x"
        assert f"{TOKEN_COOKIE}=s3cret-token" in trade.headers["set-cookie"]
        assert "HttpOnly" in trade.headers["set-cookie"]
        assert client.get("/runs").status_code == 200  # the cookie now carries it
    with TestClient(app, base_url="http://192.0.2.10:8765") as client:
        ok = client.get("/api/runs", headers={"authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200


def test_view_help_says_how_to_share_it_safely():
    result = CliRunner().invoke(cli, ["view", "--help"])
    assert result.exit_code == 0
    assert "--token" in result.output and "/api/openapi.json" in result.output


def test_empty_form_fields_mean_no_filter_and_a_bad_date_is_a_clear_400(store):
    with _client(store) as client:
        empty = client.get("/api/runs", params={"task": "", "since": "", "sort": ""})
        bad = client.get("/api/runs", params={"since": "yesterday"})
    assert len(empty.json()) == 2
    assert bad.status_code == 400 and "since must be a date" in bad.json()["detail"]
