"""The run page and its JSON twin: spec, intervals, categories, server-side pagination."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from evalstack.cli.main import cli
from evalstack.web.app import create_app

BASE = "http://127.0.0.1:8765"
XSS = '<script>alert(1)</script>'


@pytest.fixture
def run(tmp_path):
    data = tmp_path / "data.jsonl"
    rows = [{"id": f"s{i:03d}", "input": f"{XSS} {i}", "target": f"{XSS} {i}" if i % 3 else "x",
             "category": ("algebra", "geometry")[i % 2]} for i in range(120)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    url = str(tmp_path / "store.db")
    result = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/echo", "--store", url,
                                      "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    return url, json.loads(result.output)["run_id"]


def _client(url):
    return TestClient(create_app(url), base_url=BASE)


def test_run_json_has_spec_metrics_categories_and_a_first_page(run):
    url, run_id = run
    with _client(url) as client:
        view = client.get(f"/api/runs/{run_id}").json()
    assert view["run"]["metrics"]["exact_match"]["n"] == 120
    assert set(view["categories"]) == {"algebra", "geometry"}
    assert view["spec"]["dataset_hash"] and view["spec"]["task_version"] == 1
    assert len(view["samples"]) == 50 and view["samples"][0]["sample_id"] == "s000"
    assert view["next"] == {"after_id": "s049", "after_epoch": 1}


def test_pages_follow_each_other_without_overlap(run):
    url, run_id = run
    seen = []
    with _client(url) as client:
        params = {}
        while True:
            view = client.get(f"/api/runs/{run_id}", params=params).json()
            seen += [s["sample_id"] for s in view["samples"]]
            if view["next"] is None:
                break
            params = view["next"]
    assert seen == [f"s{i:03d}" for i in range(120)]


def test_filters_by_category(run):
    url, run_id = run
    with _client(url) as client:
        view = client.get(f"/api/runs/{run_id}", params={"category": "geometry",
                                                        "limit": 500}).json()
    assert len(view["samples"]) == 60
    assert {s["category"] for s in view["samples"]} == {"geometry"}


def test_run_page_renders_outputs_as_text(run):
    url, run_id = run
    with _client(url) as client:
        page = client.get(f"/runs/{run_id}")
        later = client.get(f"/runs/{run_id}", params={"after_id": "s049", "after_epoch": 1})
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.text.count('class="interval"') >= 3  # overall + two categories
    assert "Next page" in page.text and "s050" in later.text and "s049" not in later.text


def test_unknown_run_is_a_404(run):
    url, _ = run
    with _client(url) as client:
        response = client.get("/api/runs/nosuchrun")
    assert response.status_code == 404 and "nosuchrun" in response.json()["detail"]


def test_sample_page_shows_the_whole_exchange_as_text(run):
    url, run_id = run
    with _client(url) as client:
        view = client.get(f"/api/runs/{run_id}/sample", params={"id": "s001"}).json()
        page = client.get(f"/runs/{run_id}/sample", params={"id": "s001", "epoch": 1})
        missing = client.get(f"/api/runs/{run_id}/sample", params={"id": "../../etc/passwd"})
    assert view["input"] == f"{XSS} 1" and view["output"] == f"{XSS} 1"
    assert view["scores"]["exact_match"]["value"] == 1.0 and view["attempts"] == 1
    assert page.status_code == 200 and "<script>" not in page.text
    assert page.text.count("&lt;script&gt;alert(1)&lt;/script&gt; 1") >= 3  # input, output, target
    assert missing.status_code == 404  # an id is only ever a database key, never a path


def test_judge_rationale_and_provenance_on_the_sample_page(tmp_path):
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q1", "input": "2+2?", "target": "4"}) + "\n")
    judge = tmp_path / "judge.py"
    judge.write_text(
        "import json\n"
        "def grade(messages):\n"
        "    return json.dumps({'rationale': 'Wrong <b>sum</b>.', 'scores': "
        "{'accuracy': 1, 'completeness': 2, 'clarity': 3}})\n"
    )
    url = str(tmp_path / "store.db")
    scorer = "llm_judge:" + json.dumps({"judge": f"python/{judge}:grade"})
    result = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/echo", "--store", url,
                                      "--no-progress", "--json", "--scorer", scorer])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output)["run_id"]
    with _client(url) as client:
        page = client.get(f"/runs/{run_id}/sample", params={"id": "q1"}).text
    assert "Wrong &lt;b&gt;sum&lt;/b&gt;." in page
    assert f"judge python/{judge}:grade" in page and "accuracy 1, completeness 2, clarity 3" in page


def test_filters_by_score_across_pages(run):
    url, run_id = run
    with _client(url) as client:
        failed = client.get(f"/api/runs/{run_id}", params={"score": "exact_match<1",
                                                          "limit": 30}).json()
        rest = client.get(f"/api/runs/{run_id}", params={"score": "exact_match<1",
                                                        **failed["next"]}).json()
        bad = client.get(f"/api/runs/{run_id}", params={"score": "exact_match~1"})
    ids = [s["sample_id"] for s in failed["samples"] + rest["samples"]]
    assert ids == [f"s{i:03d}" for i in range(0, 120, 3)]  # every third target is "x"
    assert all(s["scores"]["exact_match"] == 0.0 for s in failed["samples"])
    assert rest["next"] is None
    assert bad.status_code == 400 and "exact_match<1" in bad.json()["detail"]


def test_a_pipelines_retrieved_documents_and_tool_calls_on_the_sample_page(tmp_path):
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q1", "input": "2+2?", "target": "4"}) + "\n")
    app = tmp_path / "app.py"
    app.write_text(
        "def answer(prompt):\n"
        f"    return {{'text': '4', 'contexts': [{{'id': 'doc-7', 'text': {XSS!r}, 'score': 0.5}}],"
        " 'tool_calls': [{'name': 'calc', 'arguments': {'x': '<b>'}}], 'trace_id': 't-1'}\n"
    )
    url = str(tmp_path / "store.db")
    result = CliRunner().invoke(cli, ["run", str(data), "-m", f"python/{app}:answer", "--store",
                                      url, "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output)["run_id"]
    with _client(url) as client:
        view = client.get(f"/api/runs/{run_id}/sample", params={"id": "q1"}).json()
        page = client.get(f"/runs/{run_id}/sample", params={"id": "q1"}).text
    assert view["pipeline"]["contexts"] == [{"id": "doc-7", "text": XSS, "score": 0.5}]
    assert "Retrieved documents" in page and "doc-7" in page and "trace <code>t-1</code>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page and '"calc"' in page
    assert "<b>" not in page
