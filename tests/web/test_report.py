import json

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.store import Store

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">x</a>',
    "<svg onload=alert(4)>",
]


def test_report_is_self_contained_and_escapes_model_output(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "input": h, "target": "safe",
                                        "category": "c<b>"}) + "\n"
                            for i, h in enumerate(HOSTILE)))
    report = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/echo", "--report", str(report)])
    assert r.exit_code == 0, r.output
    html = report.read_text()
    for payload in HOSTILE:
        assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    for tag in ("<img", "<svg", '<a href="javascript'):
        assert tag not in html
    assert "c&lt;b&gt;" in html
    assert "Content-Security-Policy" in html
    assert "http://" not in html and "https://" not in html  # nothing loaded from the network
    assert "exact_match" in html and "95%" in html


def test_report_command_shows_the_numbers_show_prints(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_STORE", str(tmp_path / "store.db"))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "input": f"q{i}",
                                        "target": f"q{i}" if i % 3 else "no"}) + "\n"
                            for i in range(30)))
    run = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/echo", "--json"])
    run_id = json.loads(run.output)["run_id"]
    shown = json.loads(CliRunner().invoke(cli, ["show", run_id, "--json"]).output)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", run_id[:10], "-o", str(out)])
    assert result.exit_code == 0 and "Report written to" in result.output
    html = out.read_text()
    m = shown["summary"]["metrics"]["exact_match"]
    for value in (m["estimate"], m["ci_low"], m["ci_high"]):
        assert f"{value:.3f}" in html
    assert run_id in html and "<script" not in html.lower()
    # offline: nothing to fetch, and its own policy forbids fetching anything
    assert "http://" not in html and "https://" not in html
    assert "content-security-policy content=\"default-src 'none'" in html.lower()


def test_report_of_an_unknown_run_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_STORE", str(tmp_path / "store.db"))
    Store.open().close()
    result = CliRunner().invoke(cli, ["report", "nosuchrun", "-o", str(tmp_path / "r.html")])
    assert result.exit_code != 0 and "nosuchrun" in result.output
    assert not (tmp_path / "r.html").exists()
