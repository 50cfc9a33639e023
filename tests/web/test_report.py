import json

from click.testing import CliRunner

from evalstack.cli.main import cli

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
