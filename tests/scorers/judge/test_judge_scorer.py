"""The llm_judge and llm_jury scorers, end to end: real runs, stored scores, judge errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from evalstack import RunConfig, Sample, Task, evaluate
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput
from evalstack.datasets import MemoryDataset
from evalstack.scorers.judge.jury import llm_jury, pool
from evalstack.scorers.judge.prompt import template_hash
from evalstack.scorers.judge.rubric import default_rubric, load_rubric
from evalstack.scorers.judge.scorer import llm_judge
from evalstack.solvers import generate
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer
from tests.scorers.judge.fakes import FunctionJudge, all_scores, blocks, verdict

QA = [Sample("q1", "Capital of France?", "Paris"), Sample("q2", "2+2?", "4"),
      Sample("q3", "Largest planet?", "Jupiter")]


def _run(tmp_path, scorer, samples=QA, model="mock/echo", resume=None):
    store = Store.open(str(tmp_path / "s.db"))
    result = evaluate([Task("qa", MemoryDataset("qa", samples), generate(), [scorer])], [model],
                      RunConfig(progress=False, error_budget=1.0, resume=resume), store=store)
    return store, result.tasks[0]


def _grade(scorer, answer, sample=QA[0]):
    state = TaskState(sample, output=ModelOutput(answer))
    return asyncio.run(scorer(sample, state))


def test_openai_compatible_judge_on_the_test_server_end_to_end(tmp_path):
    with FakeServer(model_version="judge-model-2026-01-15") as server:
        scorer = llm_judge("openai/judge-model", judge_args={"base_url": server.url,
                                                             "api_key": "sk-secret-judge"})
        store, task = _run(tmp_path, scorer)
        body = server.stats()["last_request"]["body"]
    # the verdict schema went to the server as OpenAI's structured-output response_format
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["scores"]["required"] == [
        "accuracy", "completeness", "clarity"]
    assert task.errors == 0 and task.metrics["llm_judge"].n == 3
    rows = list(store.iter_samples(task.run_id))
    expected_hash = template_hash(default_rubric())
    for row in rows:
        s = row.scores["llm_judge"]
        meta = s["metadata"]
        assert meta["judge"] == {"model": "openai/judge-model",
                                 "version": "judge-model-2026-01-15",
                                 "template_hash": expected_hash, "rubric": "default"}
        assert set(meta["criteria"]) == {"accuracy", "completeness", "clarity"}
        assert s["explanation"].startswith("fake structured reply")  # the rationale
        overall = sum(meta["criteria"].values()) / 3
        assert s["value"] == pytest.approx((overall - 1) / 4)
    # the judge's API key is never stored, not even in the scorer's recorded arguments
    run = store.get_run(task.run_id)
    assert "sk-secret-judge" not in json.dumps(run.task_spec)
    assert run.task_spec["scorers"][0]["args"]["judge_args"] == {"base_url": server.url}
    store.close()


def test_reference_and_answer_reach_the_judge_in_their_blocks():
    judge = FunctionJudge(lambda r: all_scores(5 if blocks(r)["ANSWER"] == "Paris" else 1))
    scorer = llm_judge(judge)
    good, bad = _grade(scorer, "Paris"), _grade(scorer, "Lyon")
    assert (good.value, bad.value) == (1.0, 0.0)
    seen = blocks(judge.requests[0])
    assert seen == {"QUESTION": "Capital of France?", "REFERENCE": "Paris", "ANSWER": "Paris"}
    assert good.metadata["attempts"] == 1 and good.explanation == "because"


def test_unparseable_verdicts_are_retried_then_a_judge_error_never_a_score():
    judge = FunctionJudge(lambda r: "The answer deserves a 5.")
    scorer = llm_judge(judge, max_attempts=3)
    with pytest.raises(ScorerError) as info:
        _grade(scorer, "Paris")
    assert len(judge.requests) == 3
    assert "no usable verdict in 3 attempt(s)" in str(info.value)
    assert info.value.details["replies"] == ["The answer deserves a 5."] * 3
    # retries after a bad verdict change the seed and sample at retry_temperature
    temps = [c.temperature for c in judge.configs]
    assert temps == [0.0, 0.7, 0.7] and len({c.seed for c in judge.configs}) == 3


def test_a_retry_that_parses_is_the_score():
    replies = iter(["{", all_scores(4)])
    judge = FunctionJudge(lambda r: next(replies))
    score = _grade(llm_judge(judge), "Paris")
    assert score.value == 0.75 and score.metadata["attempts"] == 2


def test_judge_errors_are_stored_as_errors_and_retried_on_resume(tmp_path):
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        return "no verdict" if blocks(request)["QUESTION"] == "2+2?" else all_scores(5)

    judge = FunctionJudge(flaky)
    store, task = _run(tmp_path, llm_judge(judge, max_attempts=2))
    assert task.errors == 1 and task.metrics["llm_judge"].n == 2
    bad = next(r for r in store.iter_samples(task.run_id) if r.sample_id == "q2")
    assert bad.error.startswith("llm_judge: judge test/judge gave no usable verdict")
    assert "value" not in bad.scores["llm_judge"]
    assert bad.scores["llm_judge"]["replies"] == ["no verdict", "no verdict"]
    assert bad.output == "2+2?"  # the model's answer is kept
    store.close()
    # a fixed judge on resume re-judges only the errored sample
    judge.fn = lambda r: all_scores(3)
    store, again = _run(tmp_path, llm_judge(judge, max_attempts=2), resume=task.run_id)
    assert again.run_id == task.run_id
    assert len(judge.requests) == 4 + 1  # 2 ok + 2 failed attempts earlier, 1 now
    assert again.errors == 0 and again.metrics["llm_judge"].n == 3
    store.close()


def test_other_scorers_keep_their_scores_when_the_judge_fails(tmp_path):
    from evalstack.scorers.match import exact_match

    store = Store.open(":memory:")
    judge = FunctionJudge(lambda r: "")
    t = Task("qa", MemoryDataset("qa", QA[:1]), generate(), [exact_match(),
                                                             llm_judge(judge, max_attempts=1)])
    result = evaluate([t], ["mock/echo"], RunConfig(progress=False, error_budget=1.0),
                      store=store)
    row = next(iter(store.iter_samples(result.tasks[0].run_id)))
    assert row.scores["exact_match"]["value"] == 0.0
    assert row.scores["llm_judge"]["reasons"] == ["verdict: the judge's reply is empty"]


def test_custom_rubric_from_yaml(tmp_path):
    path = tmp_path / "tone.yaml"
    path.write_text("name: tone\nscale_min: 0\nscale_max: 2\ncriteria:\n"
                    "  - name: polite\n    description: Is it polite?\n    weight: 3\n"
                    "  - name: brief\n    description: Is it brief?\n")
    judge = FunctionJudge(lambda r: verdict({"polite": 2, "brief": 0}))
    score = _grade(llm_judge(judge, rubric=str(path)), "Sure!")
    assert score.value == pytest.approx((2 * 3 + 0) / 4 / 2)
    assert score.answer == "1.5/2"
    assert score.metadata["judge"]["template_hash"] == template_hash(load_rubric(str(path)))


def test_source_field_is_shown_and_missing_source_is_a_clear_error():
    judge = FunctionJudge(lambda r: all_scores(4, ("faithfulness", "coverage", "no_added_facts")))
    scorer = llm_judge(judge, rubric="summarization", source_field="document")
    sample = Sample("d1", "Summarize.", "", metadata={"document": "The cat sat."})
    _grade(scorer, "A cat sat.", sample)
    assert blocks(judge.requests[0])["SOURCE"] == "The cat sat."
    with pytest.raises(ConfigError, match="no metadata field 'document'"):
        _grade(scorer, "x", Sample("d2", "Summarize.", ""))


@pytest.mark.parametrize("how, expected", [("mean", (2 + 4 + 5) / 3), ("median", 4.0),
                                           ("majority", 2.0)])
def test_jury_pools_its_members(how, expected):
    from evalstack.scorers.judge.jury import _JuryScorer

    judges = [FunctionJudge(lambda r, v=v: all_scores(v), name=f"test/j{v}") for v in (2, 4, 5)]
    score = _grade(_JuryScorer(_members(judges), how, None), "Paris")
    assert score.metadata["overall"] == pytest.approx(expected)
    assert score.value == pytest.approx((expected - 1) / 4)
    assert [j["overall"] for j in score.metadata["jurors"]] == [2.0, 4.0, 5.0]
    assert score.metadata["judge"]["model"].startswith(f"jury({how}): test/j2")


def _members(judges):
    from evalstack.scorers.judge.model import JudgeModel
    from evalstack.scorers.judge.scorer import RubricJudge

    return [RubricJudge(default_rubric(), JudgeModel(j)) for j in judges]


def test_jury_with_a_failing_member_is_a_judge_error():
    from evalstack.scorers.judge.jury import _JuryScorer

    judges = [FunctionJudge(lambda r: all_scores(5), name="test/ok"),
              FunctionJudge(lambda r: "no", name="test/bad")]
    jury = _JuryScorer(_members(judges), "mean", None)
    with pytest.raises(ScorerError, match="test/bad"):
        _grade(jury, "Paris")


def test_jury_arguments_are_checked():
    with pytest.raises(ConfigError, match="two or more"):
        llm_jury(["mock/a"])
    with pytest.raises(ConfigError, match="aggregate"):
        llm_jury(["mock/a", "mock/b"], aggregate="mode")
    with pytest.raises(ConfigError, match="not in the jury"):
        llm_jury(["mock/a", "mock/b"], judge_args={"mock/c": {}})
    spec = llm_jury(["mock/a", "mock/b"], judge_args={"mock/a": {"api_key": "k", "x": 1}}).spec
    assert spec.args["judge_args"] == {"mock/a": {"x": 1}}


def test_majority_tie_goes_to_the_lower_score():
    assert pool([5.0, 5.0, 1.0, 1.0], "majority", default_rubric()) == 1.0
    assert pool([4.4, 3.6, 1.0], "majority", default_rubric()) == 4.0
