import asyncio
import json

import pytest

from evalstack.core.errors import CapabilityError, RunFailedError
from evalstack.core.task import Task
from evalstack.core.types import Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate, evaluate_async
from evalstack.scorers.match import exact_match
from evalstack.solvers.generate import generate
from evalstack.solvers.multiple_choice import multiple_choice
from evalstack.store import Store

from . import counting_pipeline

PIPELINE = "python/tests.runner.counting_pipeline:answer"


@pytest.fixture(autouse=True)
def _reset_pipeline():
    counting_pipeline.reset()
    yield
    counting_pipeline.reset()


def _task(n: int = 10, *, category: bool = True, upper: bool = False) -> Task:
    samples = [
        Sample(str(i), f"item {i}", (f"ITEM {i}" if upper else f"item {i}") if i % 3 else "nope",
               metadata={"category": "even" if i % 2 == 0 else "odd"} if category else {})
        for i in range(n)
    ]
    return Task("t", MemoryDataset("d", samples), generate(), [exact_match()])


def _run(**kw) -> RunConfig:
    return RunConfig(progress=False, **kw)


def test_echo_run_reports_interval_n_and_categories(store_path):
    result = evaluate([_task(30)], ["mock/echo"], _run(store=str(store_path)))
    (t,) = result.tasks
    m = t.metrics["exact_match"]
    assert m.n == 30 and m.method == "wilson"
    assert m.estimate == pytest.approx(20 / 30)
    assert m.ci_low < m.estimate < m.ci_high
    assert set(t.categories) == {"even", "odd"}
    assert t.categories["even"]["exact_match"].n == 15
    with Store.open(str(store_path)) as store:
        run = store.get_run(t.run_id)
        assert run.status == "completed"
        assert run.summary["metrics"]["exact_match"]["n"] == 30
        assert run.dataset_hash == t.dataset_hash and run.package_version
        assert store.count_samples(t.run_id) == (30, 0)


def test_capabilities_checked_before_any_request(store_path):
    samples = [Sample("1", "q", "A", choices=("x", "y"))]
    task = Task("mc", MemoryDataset("d", samples), multiple_choice(method="loglikelihood"), [])
    with pytest.raises(CapabilityError, match="log-likelihood"):
        evaluate([task], [PIPELINE], _run(store=str(store_path)))
    assert sum(counting_pipeline.CALLS.values()) == 0


def test_rerun_of_completed_run_uses_cache_not_the_model(store_path):
    first = evaluate([_task(12, upper=True)], [PIPELINE], _run(store=str(store_path)))
    assert sum(counting_pipeline.CALLS.values()) == 12
    counting_pipeline.CALLS.clear()
    second = evaluate([_task(12, upper=True)], [PIPELINE], _run(store=str(store_path)))
    assert sum(counting_pipeline.CALLS.values()) == 0
    assert second.tasks[0].run_id != first.tasks[0].run_id
    assert second.tasks[0].metrics == first.tasks[0].metrics
    with Store.open(str(store_path)) as store:
        assert all(r.cached for r in store.iter_samples(second.tasks[0].run_id))


def test_two_models_never_share_cache_entries(store_path):
    evaluate([_task(5)], ["mock/echo"], _run(store=str(store_path)))
    other = evaluate([_task(5)], ["mock/constant"], _run(store=str(store_path)))
    with Store.open(str(store_path)) as store:
        assert not any(r.cached for r in store.iter_samples(other.tasks[0].run_id))


def test_errors_are_stored_not_cached_and_retried_on_resume(store_path):
    counting_pipeline.FAIL_ON.add("item 4")
    result = evaluate([_task(10)], [PIPELINE], _run(store=str(store_path), error_budget=0.5))
    t = result.tasks[0]
    assert t.errors == 1 and t.metrics["exact_match"].n == 9
    with Store.open(str(store_path)) as store:
        (bad,) = list(store.iter_samples(t.run_id, errors=True))
        assert "pipeline failed on 'item 4'" in bad.error
    counting_pipeline.FAIL_ON.clear()
    counting_pipeline.CALLS.clear()
    again = evaluate([_task(10)], [PIPELINE], _run(store=str(store_path)))
    # nine answers come from the cache; the error was never cached, so it is asked again
    assert dict(counting_pipeline.CALLS) == {"item 4": 1}
    assert again.tasks[0].errors == 0


def test_error_budget_fails_clearly_and_keeps_samples(store_path):
    counting_pipeline.FAIL_ON.update(f"item {i}" for i in range(5))
    with pytest.raises(RunFailedError, match=r"more than the error budget of 10%") as err:
        evaluate([_task(10)], [PIPELINE], _run(store=str(store_path), concurrency=1))
    assert "resume" in str(err.value)
    with Store.open(str(store_path)) as store:
        (run,) = store.list_runs()
        assert run.status == "failed"
        total, errored = store.count_samples(run.id)
        assert errored >= 2 and total >= errored


def test_retries_on_429_until_success_and_counts_attempts(store_path):
    result = evaluate(
        [_task(40)], ["mock/echo"],
        _run(store=str(store_path), retry_base=0.001, retry_max=0.01),
        model_args={"fail_rate": 0.5, "fail_status": 429, "retry_after": 0, "seed": 3},
    )
    t = result.tasks[0]
    assert t.errors == 0 and t.samples == 40
    with Store.open(str(store_path)) as store:
        attempts = [r.attempts for r in store.iter_samples(t.run_id)]
    assert max(attempts) > 1 and sum(attempts) > 40


def test_no_retry_on_400(store_path):
    result = evaluate(
        [_task(6)], ["mock/echo"], _run(store=str(store_path), error_budget=1.0),
        model_args={"fail_rate": 1.0, "fail_status": 400},
    )
    with Store.open(str(store_path)) as store:
        records = list(store.iter_samples(result.tasks[0].run_id))
    assert all(r.error and r.attempts == 1 for r in records)


def test_cost_counts_every_attempt(store_path, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"python/": {"input": 1_000_000, "output": 1_000_000}}))
    counting_pipeline.FAIL_ON.clear()
    result = evaluate([_task(4)], [PIPELINE], _run(store=str(store_path), prices=str(prices)))
    # 3 input + 2 output tokens per call at $1 per token
    assert result.tasks[0].cost_usd == pytest.approx(4 * 5.0)


def test_huge_and_hostile_outputs_are_capped_and_stored(store_path):
    text = ("x\x00\ud800" * 10) + "y" * 10_000_000
    result = evaluate([_task(2)], ["mock/constant"],
                      _run(store=str(store_path), max_output_chars=100_000),
                      model_args={"text": text, "max_output_chars": 100_000})
    t = result.tasks[0]
    assert t.truncated_outputs == 2 and t.errors == 0
    with Store.open(str(store_path)) as store:
        rec = next(store.iter_samples(t.run_id))
    assert rec.output_truncated and len(rec.output) == 100_000
    assert "\x00" not in rec.output and "\ufffd" in rec.output


def test_cancel_leaves_resumable_run_and_resume_skips_stored(store_path):
    counting_pipeline.DELAY["seconds"] = 0.02
    run = _run(store=str(store_path), concurrency=2, flush_seconds=0.05, write_batch=1)

    async def interrupted() -> None:
        job = asyncio.create_task(evaluate_async([_task(40)], [PIPELINE], run))
        await asyncio.sleep(0.3)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    asyncio.run(interrupted())
    with Store.open(str(store_path)) as store:
        (rec,) = store.list_runs()
        assert rec.status == "interrupted"
        stored = {sid for sid, _ in store.done_keys(rec.id)}
    assert 0 < len(stored) < 40
    counting_pipeline.CALLS.clear()
    counting_pipeline.DELAY["seconds"] = 0.0
    result = evaluate([_task(40)], [PIPELINE], _run(store=str(store_path), cache=False))
    assert result.tasks[0].run_id == rec.id
    asked = {p.split()[1] for p in counting_pipeline.CALLS}
    assert not asked & stored
    assert result.tasks[0].samples == 40


def test_provider_prepare_runs_once_before_requests_and_is_not_latency(store_path):
    from evalstack.providers.mock import MockProvider

    class SlowToLoad(MockProvider):
        prepared = 0

        async def prepare(self) -> None:
            await asyncio.sleep(0.5)
            SlowToLoad.prepared += 1

    provider = SlowToLoad("echo")
    result = evaluate([_task(5)], [provider], _run(store=str(store_path)))
    assert SlowToLoad.prepared == 1
    assert result.tasks[0].latency_ms.p95 < 100
