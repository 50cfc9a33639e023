"""`evalstack plan` end to end: textbook figures, pilots run on the mock provider, errors."""

from __future__ import annotations

import json

import pytest

from evalstack.store import Store
from tests.analysis.helpers import invoke, mock_run, write_dataset

N = 60


@pytest.fixture
def pilots(tmp_path):
    """Two pilots on the same 60 items: A right on 60%, B fixes 12 and breaks 1."""
    data = write_dataset(tmp_path / "data.jsonl", N)
    a = [i % 10 < 6 for i in range(N)]
    b = list(a)
    for i in range(N):
        if not a[i] and i % 10 in (6, 7):
            b[i] = True
    b[0] = False
    return mock_run(tmp_path, data, "a", a), mock_run(tmp_path, data, "b", b)


def test_textbook_figures():
    r = invoke("plan", "--accuracy", "0.5", "--delta", "0.05", "--discordance", "0.15")
    assert r.exit_code == 0, r.output
    assert "1565" in r.output and "469" in r.output
    assert "50.0% -> 55.0%" in r.output and "15.0% (given)" in r.output


def test_without_discordance_the_paired_column_says_how_to_get_one():
    r = invoke("plan", "--accuracy", "0.5", "--delta", "0.05")
    assert r.exit_code == 0, r.output
    assert "1565" in r.output and "needs discordance" in r.output
    assert "--discordance, or two pilot runs: --pilot A --pilot B" in r.output


def test_minimum_detectable_effect_in_markdown():
    r = invoke("plan", "--accuracy", "0.5", "--n", "500", "--discordance", "0.15",
               "--format", "markdown")
    assert r.exit_code == 0, r.output
    assert "**Detectable at n=500, in points (alpha 0.05, power 80%)**" in r.output
    assert "| overall | 500 | 50.0% | 15.0% (given) | 8.8 | 4.8 |" in r.output


def test_json_is_one_object():
    r = invoke("plan", "--accuracy", "0.5", "--delta", "0.05", "--discordance", "0.15",
               "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["rows"][0]["n_unpaired"] == 1565 and out["rows"][0]["n_paired"] == 469
    assert out["design"]["alpha"] == 0.05 and out["forecasts"] == []


def test_one_pilot_prints_categories_and_a_cost_forecast(pilots, tmp_path):
    a, _ = pilots
    r = invoke("plan", "--pilot", a, "--delta", "0.05")
    assert r.exit_code == 0, r.output
    assert f"Pilot: {a}, metric exact_match" in r.output
    assert "algebra" in r.output and "geometry" in r.output and "1471" in r.output
    assert "Cost forecast: mock/scripted, 60 samples x 1 epoch" in r.output
    assert "free (local model)" in r.output

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"mock/scripted": {"input": 2.5, "output": 10.0}}))
    r = invoke("plan", "--pilot", a[:10], "--delta", "0.05", "--prices", str(prices),
               "--samples", "10000", "--epochs", "2", "--concurrency", "4", "--json")
    assert r.exit_code == 0, r.output
    (f,) = json.loads(r.stdout)["forecasts"]
    assert (f["pricing"], f["samples"], f["epochs"], f["concurrency"]) == ("priced", 10000, 2, 4)
    # the mock counts one token each way per sample: 20,000 x ($2.5 + $10) / 1M
    assert f["cost_usd"]["estimate"] == pytest.approx(20_000 * 12.5 / 1e6)

    r = invoke("plan", "--pilot", a, "--delta", "0.05", "--model", "openai/gpt-4o-mini",
               "--samples", "10000")
    assert r.exit_code == 0, r.output
    assert "Cost forecast: openai/gpt-4o-mini, 10000 samples" in r.output
    assert "$0.15 in / $0.6 out per 1M tokens" in r.output


def test_two_pilots_measure_the_discordance(pilots):
    a, b = pilots
    r = invoke("plan", "--pilot", a, "--pilot", b, "--delta", "0.05", "--n", "500")
    assert r.exit_code == 0, r.output
    assert "(measured)" in r.output and "21.7%" in r.output  # 13 of 60 discordant
    r = invoke("plan", "--pilot", a, "--pilot", b, "--delta", "0.05", "--json")
    out = json.loads(r.stdout)
    overall = out["rows"][0]
    assert overall["discordance"] == pytest.approx(13 / 60)
    assert overall["discordance_source"] == "measured" and overall["n_paired"] > 0
    assert out["pilots"] == [a, b] and len(out["forecasts"]) == 2


def test_pilots_of_different_tasks_are_refused(pilots, tmp_path):
    a, _ = pilots
    other = write_dataset(tmp_path / "other.jsonl", 10)
    c = mock_run(tmp_path, other, "c", [True] * 10)
    r = invoke("plan", "--pilot", a, "--pilot", c, "--delta", "0.05")
    assert r.exit_code == 2
    assert "cannot be paired" in r.output and "same task version and data" in r.output


@pytest.mark.parametrize(("args", "message"), [
    (["--accuracy", "72", "--delta", "0.05"], "--accuracy must be strictly between 0 and 1"),
    (["--accuracy", "0.5", "--delta", "0.6"], "Pass a smaller --delta"),
    (["--accuracy", "0.5"], "Nothing to plan"),
    (["--delta", "0.05"], "Expected the baseline accuracy"),
    (["--accuracy", "0.5", "--delta", "0.05", "--model", "openai/gpt-4o"],
     "--model need(s) a pilot run"),
    (["--pilot", "nope", "--delta", "0.05"], "No run with id or id prefix 'nope'"),
    (["--pilot", "a", "--pilot", "b", "--pilot", "c", "--delta", "0.05"],
     "at most two --pilot runs"),
])
def test_errors_exit_nonzero_without_a_traceback(args, message):
    Store.open().close()  # an empty store: the run named is what is missing
    r = invoke("plan", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_the_same_pilot_twice_is_refused(pilots):
    a, _ = pilots
    r = invoke("plan", "--pilot", a, "--pilot", a, "--delta", "0.05")
    assert r.exit_code == 2 and "are the same run" in r.output
