"""MT-Bench: two turns in one conversation, references for the judge, the ``answered`` metric."""

from __future__ import annotations

import asyncio
import collections

import pytest

from evalstack.benchmarks.mt_bench import CATEGORY_TEMPERATURE, answered, mt_bench
from evalstack.core import registry
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import TaskState
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    ModelOutput,
    Sample,
)
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.solvers.multi_turn import multi_turn
from evalstack.store import Store

TURN_1 = ("Compose an engaging travel blog post about a recent trip to Hawaii, highlighting "
          "cultural experiences and must-see attractions.")
TURN_2 = "Rewrite your previous response. Start every sentence with the letter A."


class Recorder:
    """A provider that answers "reply N" and keeps every request it was sent."""

    name = "test/recorder"
    capabilities = frozenset({Capability.GENERATE})
    max_concurrency = None

    def __init__(self) -> None:
        self.requests: list[GenerateRequest] = []

    def identity(self) -> dict:
        return {"provider": "recorder"}

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        self.requests.append(request)
        return ModelOutput(f"reply {len(self.requests)}")

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def task():
    return mt_bench()


def test_the_first_question_is_sent_as_two_turns_of_one_conversation(task):
    first = next(iter(task.dataset))
    recorder = Recorder()
    state = asyncio.run(task.solver(TaskState(first, config=task.config), recorder))
    sent = [r.messages for r in recorder.requests]
    assert sent == [
        (ChatMessage("user", TURN_1),),
        (ChatMessage("user", TURN_1), ChatMessage("assistant", "reply 1"),
         ChatMessage("user", TURN_2)),
    ]
    # writing is sampled at FastChat's 0.7, at most 1,024 tokens
    assert [r.config for r in recorder.requests] == [
        GenerateConfig(max_tokens=1024, temperature=0.7)] * 2
    assert state.metadata["turns"] == ["reply 1", "reply 2"]
    assert state.completion == "reply 2" and state.messages == sent[-1]


def test_loads_80_questions_with_categories_and_references(task):
    samples = list(task.dataset)
    assert len(samples) == 80 and [s.id for s in samples] == [str(i) for i in range(81, 161)]
    assert collections.Counter(s.category for s in samples) == {
        c: 10 for c in CATEGORY_TEMPERATURE}
    assert all(len(s.metadata["user_turns"]) == 2 for s in samples)
    assert all(s.input == s.metadata["user_turns"][0] for s in samples)
    with_answer = [s for s in samples if "reference_answer" in s.metadata]
    assert [s.id for s in with_answer] == [str(i) for i in range(101, 131)]
    assert all(len(s.metadata["reference_answer"]) == 2 for s in with_answer)
    assert sum("reference" in s.metadata for s in samples) == 39
    assert {s.metadata["temperature"] for s in samples if s.category == "math"} == {0.0}
    assert registry.lookup("task", "mt_bench") is mt_bench


def test_one_temperature_for_all_and_bad_values():
    assert {s.metadata["temperature"] for s in mt_bench(temperature=0).dataset} == {0}
    with pytest.raises(ConfigError, match="temperature"):
        mt_bench(temperature=-1)


def test_missing_data_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="FastChat") as err:
        mt_bench()
    assert "mt_bench/question.jsonl" in str(err.value)


def test_end_to_end_stores_both_replies_and_scores_answered(task, tmp_path):
    first, second = list(task.dataset)[:2]
    q2 = second.metadata["user_turns"]
    replies = {TURN_1: "Aloha from Hawaii!", TURN_2: "   ",
               q2[0]: "Dear supervisor, ...", q2[1]: "The email is short and clear."}
    result = evaluate([task], [MockProvider("scripted", replies=replies)],
                      RunConfig(store=str(tmp_path / "s.db"), progress=False, limit=2))
    t = result.tasks[0]
    assert set(t.metrics) == {"answered"} and t.metrics["answered"].estimate == 0.5
    with Store.open(str(tmp_path / "s.db")) as store:
        records = {r.sample_id: r for r in store.iter_samples(t.run_id)}
    assert records["81"].metadata["turns"] == ["Aloha from Hawaii!", "   "]
    assert records["81"].output == "   " and records["81"].scores["answered"]["value"] == 0.0
    assert records["82"].metadata["turns"] == ["Dear supervisor, ...",
                                               "The email is short and clear."]
    assert records["82"].metadata["user_turns"] == q2
    assert [m["role"] for m in records["82"].metadata["prompt"]] == ["user", "assistant", "user"]


def test_multi_turn_rejects_samples_without_turns():
    solver = multi_turn()
    with pytest.raises(DataError, match="user_turns"):
        solver.check(Sample("1", "hi"))
    with pytest.raises(DataError, match="non-empty list"):
        solver.check(Sample("1", "hi", metadata={"user_turns": "just one string"}))


def test_multi_turn_system_message_and_fixed_config():
    sample = Sample("1", "a", metadata={"user_turns": ["a", "b", "c"], "temperature": 0.9})
    recorder = Recorder()
    solver = multi_turn(system="Be brief.", config=GenerateConfig(max_tokens=5))
    state = asyncio.run(solver(TaskState(sample), recorder))
    assert [m.role for m in state.messages] == ["system", "user", "assistant", "user",
                                                "assistant", "user"]
    assert state.metadata["turns"] == ["reply 1", "reply 2", "reply 3"]
    # without temperature_field the sample's temperature is not used
    assert {r.config for r in recorder.requests} == {GenerateConfig(max_tokens=5)}


def test_answered_reads_the_last_turn():
    sample = Sample("1", "q")
    state = TaskState(sample, output=ModelOutput("ok"), metadata={"turns": ["first", ""]})
    assert answered()(sample, state).value == 0.0
    assert answered()(sample, TaskState(sample, output=ModelOutput("ok"))).value == 1.0


def test_vicuna_bench_has_80_single_turn_questions_with_fastchat_temperatures() -> None:
    from evalstack.benchmarks.mt_bench import vicuna_bench

    task = vicuna_bench()
    samples = list(task.dataset)
    assert len(samples) == 80 and registry.names("task").count("vicuna_bench") == 1
    cats = collections.Counter(s.metadata["category"] for s in samples)
    assert len(cats) == 9 and cats["generic"] == 10 and cats["math"] == 3
    assert all(len(s.metadata["user_turns"]) == 1 for s in samples)
    temps = {s.metadata["category"]: s.metadata["temperature"] for s in samples}
    assert temps["coding"] == 0.0 and temps["math"] == 0.0 and temps["generic"] == 0.7
    assert {s.metadata["temperature"] for s in vicuna_bench(temperature=0).dataset} == {0}
    with pytest.raises(ConfigError, match="vicuna_bench temperature"):
        vicuna_bench(temperature=-1)
