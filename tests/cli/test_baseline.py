"""``evalstack baseline``: set, list, show and rm, and their errors."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.core.records import RunRecord
from evalstack.store import Store, new_id


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _run(store_url: str | None = None, **summary_metrics: float) -> str:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    metrics = {name: {"estimate": v, "ci_low": v - 0.1, "ci_high": v + 0.1, "n": 10,
                      "method": "wilson"} for name, v in summary_metrics.items()}
    run = RunRecord(
        id=new_id(), created_at=now, updated_at=now, status="completed", task_name="demo",
        task_version=1, task_spec={}, model="mock/echo", model_args={}, dataset_name="d",
        dataset_hash="0" * 64, dataset_size=10, epochs=1, limit=None, fingerprint="f" * 64,
        config={}, package_version="0", git_revision=None,
        summary={"metrics": metrics} if metrics else None, error=None,
    )
    with Store.open(store_url or os.environ["EVALSTACK_STORE"]) as store:
        store.create_run(run)
    return run.id


def test_set_list_show_rm_round_trip():
    old, new = _run(exact_match=0.5), _run(exact_match=0.75)
    r = run_cli("baseline", "set", "prod", old[:14], "--note", "v1.3 shipped")
    assert r.exit_code == 0, r.output
    assert f"Baseline 'prod' now points at run {old} (demo on mock/echo" in r.output
    assert "evalstack gate --baseline prod --candidate NEW_RUN" in r.output

    r = run_cli("baseline", "list")
    assert r.exit_code == 0, r.output
    assert "prod" in r.output and old in r.output and "v1.3 shipped" in r.output
    assert "exact_match 0.500 [0.400, 0.600]" in r.output

    r = run_cli("baseline", "set", "prod", new)
    assert r.exit_code == 0, r.output
    assert f"Baseline 'prod' moved from run {old} to run {new}" in r.output

    out = json.loads(run_cli("baseline", "show", "prod", "--json").output)
    assert out["name"] == "prod" and out["run_id"] == new and out["note"] is None
    assert out["run"]["task"] == "demo" and out["run"]["metrics"]["exact_match"]["estimate"] == 0.75
    assert out["created_at"] <= out["updated_at"]

    r = run_cli("baseline", "show", "prod")
    assert r.exit_code == 0
    assert f"run: {new} (completed)" in r.output
    assert "headline: exact_match 0.750 [0.650, 0.850]" in r.output

    r = run_cli("baseline", "rm", "prod")
    assert r.exit_code == 0
    assert f"Removed baseline 'prod' (it pointed at run {new}; the run is kept)." in r.output
    assert "No baselines yet" in run_cli("baseline", "list").output
    assert run_cli("baseline", "list", "--json").output == ""


def test_set_can_promote_another_baseline_and_list_json_is_json_lines():
    a, b = _run(), _run()
    run_cli("baseline", "set", "candidate", b)
    run_cli("baseline", "set", "prod", a)
    assert run_cli("baseline", "set", "prod", "candidate").exit_code == 0
    rows = [json.loads(line) for line in run_cli("baseline", "list", "--json").output.splitlines()]
    assert [(row["name"], row["run_id"]) for row in rows] == [("candidate", b), ("prod", b)]
    r = run_cli("baseline", "set", "prod", b)
    assert "already pointed at run" in r.output


def test_store_option(tmp_path):
    other = str(tmp_path / "other.db")
    run_id = _run(other)
    assert run_cli("baseline", "set", "prod", run_id, "--store", other).exit_code == 0
    assert run_cli("baseline", "list", "--store", other, "--json").output.count("prod") == 1
    Store.open().close()  # the default store, empty
    assert "No baselines yet" in run_cli("baseline", "list").output


def test_unknown_run():
    _run()
    r = run_cli("baseline", "set", "prod", "nope")
    assert r.exit_code == 2
    assert r.output.startswith("error: No run with id or id prefix 'nope'")
    assert len(r.output.strip().splitlines()) == 1


def test_bad_name():
    run_id = _run()
    r = run_cli("baseline", "set", "my baseline", run_id)
    assert r.exit_code == 2
    assert ("error: Invalid baseline name 'my baseline': expected 1-64 characters of letters, "
            "digits, '.', '_' and '-', such as prod or release-1.4.") in r.output


def test_unknown_baseline_has_did_you_mean():
    run_id = _run()
    run_cli("baseline", "set", "prod", run_id)
    run_cli("baseline", "set", "staging", run_id)
    for args in (["show", "prdo"], ["rm", "prdo"]):
        r = run_cli("baseline", *args)
        assert r.exit_code == 2
        assert "error: No baseline named 'prdo'" in r.output
        assert "Did you mean 'prod'?" in r.output
        assert "Known baselines: prod, staging." in r.output
    assert len(run_cli("baseline", "list", "--json").output.splitlines()) == 2


def test_unknown_baseline_in_an_empty_store():
    Store.open().close()
    r = run_cli("baseline", "show", "prod")
    assert r.exit_code == 2
    assert "has no baselines yet" in r.output and "evalstack baseline set" in r.output


def test_help_teaches_with_examples():
    r = run_cli("baseline", "--help")
    assert r.exit_code == 0
    assert "evalstack baseline set prod RUN_ID" in r.output
    assert "evalstack gate --baseline prod --candidate NEW_RUN" in r.output
    for sub in ("set", "list", "show", "rm"):
        sub_help = run_cli("baseline", sub, "--help")
        assert sub_help.exit_code == 0 and "Example" in sub_help.output
        assert "EVALSTACK_STORE" in sub_help.output
