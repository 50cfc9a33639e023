"""``evalstack alerts`` and ``alerts check`` on a simulated month in a store."""

from __future__ import annotations

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.store import Store
from tests.production.test_monitor import _store_traffic


def test_check_fires_once_and_the_list_shows_it(tmp_path):
    store = str(tmp_path / "s.db")
    with Store.open(store) as st:
        _store_traffic(st, seed=0)
    (tmp_path / "metrics.yaml").write_text(
        "- {name: resolution_rate, kind: rate, event: resolved}\n")
    (tmp_path / "rules.yaml").write_text(
        '- {name: low-resolution, metric: resolution_rate, comparison: "<", threshold: 0.7,'
        " sustain: 2, min_n: 50}\n")
    args = ["alerts", "check", "--project", "bot", "--metrics", str(tmp_path / "metrics.yaml"),
            "--rules", str(tmp_path / "rules.yaml"), "--store", store]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0 and first.output.count("alert ") == 1, first.output
    assert "not delivered (no webhook configured)" in first.output
    again = CliRunner().invoke(cli, args)
    assert "No new alert" in again.output
    listed = CliRunner().invoke(cli, ["alerts", "--project", "bot", "--store", store])
    assert listed.exit_code == 0 and "low-resolution" in listed.output
    (tmp_path / "rules.yaml").write_text("- {name: x, metric: nope, comparison: '<', "
                                         "threshold: 0.5}\n")
    bad = CliRunner().invoke(cli, args)
    assert bad.exit_code != 0 and "nope" in bad.output and "Traceback" not in bad.output
