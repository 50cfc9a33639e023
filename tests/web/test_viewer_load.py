"""Load tests in the viewer and the report: a real `evalstack load` against the fake server
(a known capacity, and answers corrupted past 2 requests in flight), stored, then drawn as
inline SVG with one point per level and the knee marked; a hostile target name stays text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from evalstack.cli.main import cli
from evalstack.testing import FakeServer
from evalstack.web.app import create_app

BASE = "http://127.0.0.1:8765"
LEVELS = [1, 2, 4, 8]
XSS = "<script>alert(1)</script>"
TARGET = f"openai/{XSS}"  # the model name is the untrusted part of a target spec


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One stored load test: its store URL and the report `load --json` printed."""
    tmp = tmp_path_factory.mktemp("load")
    task = tmp / "echo.jsonl"
    task.write_text("".join(json.dumps({"id": f"s{i:02d}", "input": f"answer {i}",
                                        "target": f"answer {i}"}) + "\n" for i in range(16)),
                    encoding="utf-8")
    url = str(tmp / "store.db")
    with FakeServer(capacity=4, degrade_above=2, latency_ms=20) as server:
        r = CliRunner().invoke(cli, [
            "load", TARGET, str(task), "-M", f"base_url={server.url}", "--levels",
            ",".join(map(str, LEVELS)), "--samples", "16", "--slo-ms", "1000", "--json",
            "--store", url])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["knee"] == 2, report["excluded"]  # 4 and 8 in flight degrade the answers
    yield {"url": url, "report": report, "id": report["load_test_id"], "tmp": tmp}


def _client(url: str) -> TestClient:
    return TestClient(create_app(url), base_url=BASE)


def _svgs(html: str) -> dict[str, str]:
    """Each chart's SVG text by its kind (``latency``, ``throughput``, ``quality``)."""
    found = re.findall(r'<svg class="chart (\w+)".*?</svg>', html, flags=re.S)
    bodies = re.findall(r'<svg class="chart \w+".*?</svg>', html, flags=re.S)
    return dict(zip(found, bodies, strict=True))


def _assert_charts(html: str, knee: int) -> None:
    charts = _svgs(html)
    assert set(charts) == {"latency", "throughput", "quality"}
    points = {name: re.findall(r'<circle class="pt" data-x="(\d+)"', svg)
              for name, svg in charts.items()}
    levels = [str(v) for v in LEVELS]
    assert points["latency"] == levels * 3  # p50, p95 and p99
    assert points["throughput"] == levels and points["quality"] == levels
    for svg in charts.values():
        assert f'<g class="marker" data-x="{knee}">' in svg and f"knee {knee}" in svg
        assert "<script" not in svg and "style=" not in svg  # the CSP forbids inline style
    assert 'data-series="p95"' in charts["latency"]


def test_load_test_page_draws_each_level_and_the_knee(stored: dict[str, Any]) -> None:
    with _client(stored["url"]) as client:
        page = client.get(f"/load/{stored['id']}")
        twin = client.get(f"/api/load/{stored['id'][:14]}").json()
    assert page.status_code == 200
    _assert_charts(page.text, 2)
    assert page.text.count('<tr class="knee">') == 1
    assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert twin["report"] == stored["report"]  # the JSON twin is what `load --json` printed
    assert twin["id"] == stored["id"] and twin["knee"] == 2
    assert twin["excluded"].keys() == {"4", "8"}
    assert [lv["level"] for lv in twin["levels"]] == LEVELS


def test_load_list_links_each_test_and_the_nav_links_the_list(stored: dict[str, Any]) -> None:
    with _client(stored["url"]) as client:
        listing = client.get("/load")
        rows = client.get("/api/load").json()
        runs = client.get("/runs")
        spec = client.get("/api/openapi.json").json()
    assert listing.status_code == 200
    assert f'href="/load/{stored["id"]}"' in listing.text
    assert XSS not in listing.text and "&lt;script&gt;" in listing.text
    assert [r["id"] for r in rows] == [stored["id"]]
    assert rows[0]["knee"] == 2 and rows[0]["levels"] == LEVELS and rows[0]["samples"] == 16
    assert rows[0]["model"] == TARGET  # JSON carries the text as it is
    assert 'href="/load"' in runs.text
    assert {"/api/load", "/api/load/{test_id}"} <= set(spec["paths"])


def test_an_unknown_load_test_is_a_404_naming_it(stored: dict[str, Any]) -> None:
    with _client(stored["url"]) as client:
        page = client.get("/load/NOSUCH")
        api = client.get("/api/load/NOSUCH")
    assert page.status_code == api.status_code == 404
    assert "NOSUCH" in api.json()["detail"]


def test_report_draws_the_load_test(stored: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "load.html"
    r = CliRunner().invoke(cli, ["report", "--load", stored["id"][:14], "-o", str(out),
                                 "--store", stored["url"]])
    assert r.exit_code == 0, r.output
    assert "1 load test" in r.output
    html = out.read_text(encoding="utf-8")
    _assert_charts(html, 2)
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert "Knee: 2" in html and "level 4 excluded" in html


def test_report_needs_a_run_or_a_load_test(stored: dict[str, Any], tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", "-o", str(tmp_path / "r.html"),
                                 "--store", stored["url"]])
    assert r.exit_code == 2 and "--load" in r.output
    r = CliRunner().invoke(cli, ["report", "--load", "NOSUCH", "-o", str(tmp_path / "r.html"),
                                 "--store", stored["url"]])
    assert r.exit_code != 0 and "No load test" in r.output
    assert not (tmp_path / "r.html").exists()


# -- the chart helper ---------------------------------------------------------------------


def test_chart_text_is_escaped_and_a_timeout_is_drawn_at_the_top() -> None:
    from evalstack.web.charts import Point, Series, line_chart, load_charts

    svg = line_chart([Series(XSS, [Point(1, 5.0, 4.0, 6.0), Point(4, None, 5.0, None,
                                                                   over=True, high_over=True,
                                                                   note="at the timeout")])],
                     title=XSS, x_label="a&b", log2_x=True, marker=4, marker_label=XSS)
    assert XSS not in svg and "<script" not in svg
    # aria-label, <title>, the title text, the series name, the marker, two tooltips
    assert svg.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 7
    assert "a&amp;b" in svg
    at_top = re.findall(r'<circle class="pt" data-x="4" cx="[\d.]+" cy="([\d.]+)" r="3.5" '
                        r'fill="#fff"', svg)
    assert at_top == ["30.0"]  # the top edge of the plot, an open marker
    assert "at the timeout" in svg
    none = load_charts([{"level": 1, "quality": None}, {"level": 2}], None)
    assert all('class="marker"' not in s for s in none.values())
