"""Sampled online scoring: 1% of 10,000 traces judged by llm_judge on the test server, the
same traces on a rerun, nothing twice, and a judge-call budget never exceeded."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from evalstack.core.errors import ConfigError
from evalstack.production.scoring import ScoringPolicy, in_sample, load_policy, score_traces
from evalstack.production.store import create_project, scored
from evalstack.production.traces import Interaction, log_interactions
from evalstack.store import Store
from evalstack.store.tables import online_scores
from evalstack.testing.fake_server import FakeServer

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _traffic(store, n):
    pid, _ = create_project(store, "bot")
    items = [Interaction(input=f"question {i}?", output=f"answer {i}",
                         started_at=T0 + timedelta(seconds=10 * i), model="gpt-4o-mini",
                         conversation_id=f"c{i // 3}", user_id=f"u{i % 50}")
             for i in range(n)]
    for start in range(0, n, 2000):
        log_interactions(store, pid, items[start:start + 2000])
    return pid


def _policy(url, **extra):
    judge = json.dumps({"judge": "openai/judge-model", "judge_args": {"base_url": url},
                        "max_attempts": 1})
    return ScoringPolicy(name="nightly", rate=0.01, scorers=[f"llm_judge:{judge}"], **extra)


@pytest.mark.slow
def test_one_percent_of_ten_thousand_traces_judged_once(tmp_path):
    with Store.open(str(tmp_path / "s.db")) as store, FakeServer() as server:
        pid = _traffic(store, 10_000)
        policy = _policy(server.url)
        first = asyncio.run(score_traces(store, pid, policy, now=T0 + timedelta(days=1)))
        expected = sum(in_sample("nightly", t, 0.01) for (t,) in _ids(store))
        assert first.considered == 10_000 and first.sampled == expected == first.scored
        assert 70 <= first.scored <= 130  # 100 +/- three binomial standard deviations
        assert server.stats()["requests"] == first.judge_calls == first.scored
        picked = scored(store, pid)
        again = asyncio.run(score_traces(store, pid, policy, now=T0 + timedelta(days=1)))
        assert again.scored == 0 and again.already == first.scored
        assert scored(store, pid) == picked
        assert server.stats()["requests"] == first.judge_calls  # nothing scored twice
        with store.engine.connect() as conn:
            values = [v for (v,) in conn.execute(sa.select(online_scores.c.value))]
        assert len(values) == first.scored and all(0 <= v <= 1 for v in values)


def test_the_budget_of_judge_calls_is_never_exceeded_and_says_so(tmp_path):
    with Store.open(str(tmp_path / "s.db")) as store, FakeServer() as server:
        pid = _traffic(store, 2_000)
        policy = _policy(server.url, budget={"judge_calls_per_day": 7}).model_copy(
            update={"rate": 0.05})
        day = T0 + timedelta(days=1)
        report = asyncio.run(score_traces(store, pid, policy, now=day))
        assert report.judge_calls == server.stats()["requests"] == 7
        assert report.waiting == report.sampled - 7 > 0
        assert "budget of 7 judge calls ran out" in report.message
        # the same day: nothing more; the next day: another 7
        more = asyncio.run(score_traces(store, pid, policy, now=day + timedelta(hours=1)))
        assert more.scored == 0 and server.stats()["requests"] == 7
        nxt = asyncio.run(score_traces(store, pid, policy, now=day + timedelta(days=1)))
        assert nxt.scored == 7 and server.stats()["requests"] == 14


def test_sampling_is_deterministic_and_near_the_rate():
    ids = [f"{i:032x}" for i in range(20_000)]
    picked = [t for t in ids if in_sample("p", t, 0.1)]
    assert picked == [t for t in ids if in_sample("p", t, 0.1)]
    assert 1_800 <= len(picked) <= 2_200
    assert set(picked) != {t for t in ids if in_sample("other", t, 0.1)}


def test_a_bad_policy_names_the_field(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("name: nightly\nrate: 2\nscorers: [llm_judge]\n")
    with pytest.raises(ConfigError, match=r"field 'rate'.*received 2"):
        load_policy(path)
    path.write_text("name: nightly\nrate: 0.1\nscorers: [llm_judge]\nbudgt: {}\n")
    with pytest.raises(ConfigError, match="field 'budgt'"):
        load_policy(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="policy.yaml:.*not valid YAML"):
        load_policy(path)


def _ids(store):
    from evalstack.store.tables import traces

    with store.engine.connect() as conn:
        return conn.execute(sa.select(traces.c.trace_id)).all()
