"""Running tasks on models: ``evaluate_async`` inside, ``evaluate`` outside.

Each task x model pair is one stored run. Everything is checked before the first request
(capabilities, data, templates); samples stream to the store as they finish; a run restarted
with the same settings resumes where it stopped, asking nothing for samples already stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import json
import os
import signal
import subprocess
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

from evalstack.core.errors import (
    CapabilityError,
    EmptyDatasetError,
    InterruptedRunError,
    ProviderError,
    RunBusyError,
    RunFailedError,
    ScorerError,
    StoreError,
    TerminatedRunError,
    UserError,
)
from evalstack.core.provider import SECRET_ARG_NAMES, ModelProvider, public_args
from evalstack.core.records import RunRecord, SampleRecord
from evalstack.core.redact import url_secrets
from evalstack.core.results import EvalResult, RunStatus, TaskResult
from evalstack.core.scorer import Score, TaskState
from evalstack.core.task import Task
from evalstack.core.types import Sample
from evalstack.model.cache import StoreCache
from evalstack.model.context import ModelContext, use_models
from evalstack.model.model import Model
from evalstack.model.prices import load_table
from evalstack.model.resolve import resolve_model
from evalstack.model.usage import JUDGE_ROLE, MODEL_ROLE, Usage, collect_sample_usage
from evalstack.runner.config import RunConfig
from evalstack.runner.lease import RunLease
from evalstack.runner.metrics import RunTotals, latency_summary, metric_table, summarize
from evalstack.runner.progress import NoProgress, ProgressSink
from evalstack.runner.writer import BatchWriter


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def git_revision() -> str | None:
    """The git commit of the working directory, when it is a repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def secret_values(model_args: dict[str, Any]) -> list[str]:
    """Values that must never be stored: secret model args and credential env vars."""
    values = [str(v) for k, v in model_args.items() if k.lower() in SECRET_ARG_NAMES and v]
    for value in model_args.values():
        if isinstance(value, str) and "://" in value:
            values += url_secrets(value)
    for name, value in os.environ.items():
        upper = name.upper()
        if value and upper.endswith(("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_KEY")):
            values.append(value)
    return values


@dataclass
class _Plan:
    task: Task
    provider: ModelProvider
    model_spec: str
    model_args: dict[str, Any]
    n_samples: int
    epochs: int
    fingerprint: str
    dataset_hash: str


def _plan(task: Task, provider: ModelProvider, model_spec: str, model_args: dict[str, Any],
          run: RunConfig) -> _Plan:
    task = task.adapted(provider.capabilities)
    if task.config.with_defaults() is not task.config:
        # The one generation default (temperature 0, a max_tokens), in the stored spec too, so
        # that the same weights score the same behind any provider.
        task = dataclasses.replace(task, config=task.config.with_defaults())
    missing = task.solver.missing_capabilities(provider.capabilities)
    if missing:
        have = ", ".join(sorted(c.value for c in provider.capabilities)) or "nothing"
        raise CapabilityError(
            f"Task {task.name!r} needs {', '.join(missing)}, but {provider.name} offers {have}. "
            f"Pick a model that supports it, or change the task's method."
        )
    total = len(task.dataset)
    n = min(total, run.limit) if run.limit else total
    if n == 0:
        raise EmptyDatasetError(
            f"Task {task.name!r}: the dataset {task.dataset.name!r} has no samples; nothing to "
            f"evaluate."
        )
    if getattr(task.solver, "checks_samples", False):
        for sample in islice(task.dataset, n):
            task.solver.check(sample)  # type: ignore[attr-defined]
    epochs = run.epochs or task.epochs
    dataset_hash = task.dataset.fingerprint()
    payload = {
        "task": _json_safe(task.spec()),
        "dataset": dataset_hash,
        "model": model_spec,
        "identity": _json_safe(provider.identity()),
        "epochs": epochs,
        "limit": run.limit,
    }
    fp = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return _Plan(task, provider, model_spec, model_args, n, epochs, fp, dataset_hash)


class _BudgetExceeded(Exception):
    pass


def _open_run(plan: _Plan, run: RunConfig, store: Any) -> tuple[str, set[tuple[str, int]]]:
    """The run to write to (resumed or new) and the samples it already holds."""
    from evalstack._version import __version__
    from evalstack.store import new_id

    task = plan.task
    record: RunRecord | None
    if run.resume:
        record = store.get_run(run.resume)
        if record.fingerprint != plan.fingerprint:
            raise UserError(
                f"Run {record.id} was made with different settings (task {record.task_name} "
                f"v{record.task_version}, model {record.model}); resume it with the same task, "
                f"model, arguments, --limit and --epochs, or start a new run without --resume."
            )
    else:
        record = store.find_resumable(plan.fingerprint)
    if record is not None:
        store.set_status(record.id, "running")
        return record.id, store.done_keys(record.id)
    now = datetime.now(UTC)
    record = RunRecord(
        id=new_id(), created_at=now, updated_at=now, status="running",
        task_name=task.name, task_version=task.version, task_spec=_json_safe(task.spec()),
        model=plan.model_spec, model_args=_json_safe(public_args(plan.model_args)),
        dataset_name=task.dataset.name, dataset_hash=plan.dataset_hash,
        dataset_size=plan.n_samples, epochs=plan.epochs, limit=run.limit,
        fingerprint=plan.fingerprint, config=_json_safe(run.model_dump()),
        package_version=__version__, git_revision=git_revision(), summary=None, error=None,
    )
    store.create_run(record)
    return record.id, set()


def _sample_record(sample: Sample, epoch: int, state: TaskState, used: dict[str, Usage],
                   scores: dict[str, dict[str, Any]], error: str | None) -> SampleRecord:
    """What is stored for one finished (or failed) sample."""
    output = state.output
    model, judge = used.get(MODEL_ROLE) or Usage(), used.get(JUDGE_ROLE) or Usage()
    extra: dict[str, Any] = dict(state.metadata)
    if state.choice is not None:
        extra["choice"] = state.choice
    if state.choice_logprobs is not None:
        extra["choice_logprobs"] = list(state.choice_logprobs)
    if output is not None and output.pipeline is not None:
        extra["pipeline"] = output.pipeline.to_dict()
    if state.messages and not (len(state.messages) == 1
                               and state.messages[0].content == sample.input):
        extra["prompt"] = [m.to_dict() for m in state.messages]
    return SampleRecord(
        sample_id=sample.id, epoch=epoch,
        input=sample.input if isinstance(sample.input, str)
        else [m.to_dict() for m in sample.input],
        target=sample.target if isinstance(sample.target, str) else list(sample.target),
        output=output.text if output is not None else "",
        scores=scores, error=error,
        output_truncated=bool(output and output.truncated),
        latency_ms=model.latency_ms, input_tokens=model.input_tokens,
        output_tokens=model.output_tokens, cost_usd=model.cost,
        attempts=model.attempts, cached=model.cached, category=sample.category,
        metadata={**sample.metadata, **extra},
        model_version=model.model_version,
        choices=list(sample.choices) if sample.choices is not None else None,
        judge_input_tokens=judge.input_tokens, judge_output_tokens=judge.output_tokens,
        judge_cost_usd=judge.cost,
    )


#: Workers per run never exceed this, however large ``--concurrency`` is (nor the samples left).
MAX_WORKERS = 1024


async def _run_pair(plan: _Plan, run: RunConfig, store: Any, progress: ProgressSink,
                    prices: dict[str, tuple[float, float]]) -> TaskResult:
    """One task on one model, under the run's lease (a second identical command waits)."""
    lease = RunLease(store, plan.fingerprint, label=f"{plan.task.name} on {plan.model_spec}")
    await lease.acquire(wait=run.wait)
    try:
        return await _run_leased(plan, run, store, progress, prices, lease)
    finally:
        lease.release()


async def _run_leased(plan: _Plan, run: RunConfig, store: Any, progress: ProgressSink,
                      prices: dict[str, tuple[float, float]], lease: RunLease) -> TaskResult:
    """Open (or resume) the run, ask and score the samples left, and store the summary."""
    run_id, done = _open_run(plan, run, store)
    lease.attach(run_id)
    writer = BatchWriter(store, run_id, batch=run.write_batch, interval=run.flush_seconds,
                         secrets=secret_values(plan.model_args))
    models = _run_models(run, store, writer, prices)
    model = models.model(plan.provider, role=MODEL_ROLE)
    loop = _SampleLoop(plan, model, writer, progress, lease, run_id,
                       budget=run.error_budget * plan.n_samples * plan.epochs)
    with use_models(models):
        failure = await loop.run(done)
    _mark_stopped(store, run_id, failure)
    return _finish(plan, run, store, run_id, failure)


def _run_models(run: RunConfig, store: Any, writer: BatchWriter,
                prices: dict[str, tuple[float, float]]) -> ModelContext:
    """The run's models (the solver's and its judges'), all under the run's limits, cached
    through the run's writer, and priced from its table."""
    def cache(prefix: str) -> StoreCache:
        # A model with no cached responses at all needs no look-ups (the common first run).
        return StoreCache(store, write=writer.add_cache,
                          read=run.cache and store.cache_has_prefix(prefix))

    return ModelContext(run.call_policy(), cache=cache, prices=prices)


class _SampleLoop:
    """Asks and scores the samples still to do, with parallel workers, writing each one."""

    def __init__(self, plan: _Plan, model: Model, writer: BatchWriter, progress: ProgressSink,
                 lease: RunLease, run_id: str, *, budget: float) -> None:
        self.plan, self.model, self.writer, self.progress = plan, model, writer, progress
        self.lease, self.run_id, self.budget = lease, run_id, budget
        self.names = plan.task.score_names()
        self._scorers = list(zip(self.names, plan.task.scorers, strict=True))
        self.errors = 0
        self.cost = 0.0

    def _pending(self, done: set[tuple[str, int]]) -> Iterator[tuple[Sample, int]]:
        for sample in islice(self.plan.task.dataset, self.plan.n_samples):
            for epoch in range(1, self.plan.epochs + 1):
                if (sample.id, epoch) not in done:
                    yield sample, epoch

    async def run(self, done: set[tuple[str, int]]) -> BaseException | None:
        """Every pending sample; returns what stopped the loop early, if anything."""
        plan = self.plan
        planned = plan.n_samples * plan.epochs
        prepare = getattr(plan.provider, "prepare", None)
        if prepare is not None and len(done) < planned:
            await prepare()
        self.progress.start(f"{plan.task.name} · {plan.model_spec}", planned, len(done))
        work = self._pending(done)
        # One worker per slot would be one per ``--concurrency`` however few samples are left.
        n_workers = max(1, min(self.model.concurrency, planned - len(done), MAX_WORKERS))
        workers = [asyncio.create_task(self._worker(work)) for _ in range(n_workers)]
        failure: BaseException | None = None
        try:
            await asyncio.gather(*workers)
        except BaseException as exc:
            failure = exc
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            self.progress.finish()
            try:
                self.writer.close()
            except StoreError as exc:
                failure = failure or exc
        return failure

    async def _worker(self, work: Iterator[tuple[Sample, int]]) -> None:
        for sample, epoch in work:
            await self._one(sample, epoch)

    async def _one(self, sample: Sample, epoch: int) -> None:
        if self.lease.lost:
            raise RunBusyError(
                f"Run {self.run_id} was taken over by another process after this one stalled "
                "for longer than its lease; stopping so that no prompt is asked twice."
            )
        state = TaskState(sample, config=self.plan.task.config)
        with collect_sample_usage() as used:
            state, scores, error = await self._solve_and_score(state, epoch)
        self.writer.add_sample(_sample_record(sample, epoch, state, used, scores, error))
        self.cost += sum(u.cost for u in used.values())
        if error is not None:
            self.errors += 1
        self.progress.advance(self.errors, self.cost)
        if error is not None and self.errors > self.budget:
            raise _BudgetExceeded(error)

    async def _solve_and_score(
        self, state: TaskState, epoch: int
    ) -> tuple[TaskState, dict[str, dict[str, Any]], str | None]:
        """The solver's state, the scores, and the sample's error (``None`` if it had none)."""
        scores: dict[str, dict[str, Any]] = {}
        try:
            state = await self.plan.task.solver(state, self.model.for_sample(epoch))
            failed = await self._score(state, scores)
            return state, scores, "; ".join(failed) if failed else None
        except ProviderError as exc:
            return state, scores, str(exc)
        except UserError:
            raise
        except Exception as exc:  # a scorer or solver bug is this sample's error, not the run's
            return state, scores, f"{type(exc).__name__}: {exc}"

    async def _score(self, state: TaskState, scores: dict[str, dict[str, Any]]) -> list[str]:
        """Fill ``scores``; returns the scorers' errors, each stored as that score's error."""
        failed: list[str] = []
        for name, scorer in self._scorers:
            try:
                result = scorer(state.sample, state)
                if not isinstance(result, Score) and inspect.isawaitable(result):
                    result = await result
            except ScorerError as exc:  # recorded as this score's error, never a score
                scores[name] = {"error": str(exc), **exc.details}
                failed.append(f"{name}: {exc}")
                continue
            assert isinstance(result, Score)
            scores[name] = result.to_dict()
        return failed


def _mark_stopped(store: Any, run_id: str, failure: BaseException | None) -> None:
    """A run stopped by Ctrl-C, SIGTERM, the store or a lost lease stays resumable (marked
    ``interrupted``); any other failure but the error budget marks it ``failed``. Re-raises."""
    if isinstance(failure, asyncio.CancelledError | KeyboardInterrupt | StoreError
                  | RunBusyError):
        # Marking it may fail for the same reason; it is resumable either way.
        try:
            store.set_status(run_id, "interrupted",
                             error=str(failure) if isinstance(failure, StoreError) else None)
        except StoreError:
            pass
        raise failure
    if failure is not None and not isinstance(failure, _BudgetExceeded):
        store.set_status(run_id, "failed", error=f"{type(failure).__name__}: {failure}")
        raise failure


def _finish(plan: _Plan, run: RunConfig, store: Any, run_id: str,
            failure: BaseException | None) -> TaskResult:
    """Summarise the stored samples, store the summary, and fail past the error budget."""
    planned = plan.n_samples * plan.epochs
    totals = summarize(store.iter_scores(run_id))
    over_budget = (totals.errors > run.error_budget * planned
                   or isinstance(failure, _BudgetExceeded))
    result = _task_result(plan, run, totals, run_id, "failed" if over_budget else "completed")
    error_text = None
    if over_budget:
        first = next(iter(store.iter_samples(run_id, errors=True)), None)
        example = f" First error: {first.error}" if first is not None else ""
        error_text = (
            f"{totals.errors} of {planned} samples failed, more than the error budget of "
            f"{run.error_budget:.0%} (--error-budget).{example} Finished samples are stored: fix "
            f"the cause and run the same command again to resume run {run_id}."
        )
    store.set_status(run_id, result.status, summary=result.model_dump(mode="json"),
                     error=error_text)
    if error_text is not None:
        raise RunFailedError(error_text)
    return result


def _task_result(plan: _Plan, run: RunConfig, totals: RunTotals, run_id: str,
                 status: RunStatus) -> TaskResult:
    task = plan.task
    return TaskResult(
        task=task.name, task_version=task.version, model=plan.model_spec,
        samples=totals.samples, errors=totals.errors,
        metrics=metric_table(totals.metrics, run.seed),
        categories={c: metric_table(g, run.seed) for c, g in sorted(totals.categories.items())},
        cost_usd=round(totals.cost, 6), judge_cost_usd=round(totals.judge_cost, 6),
        total_cost_usd=round(totals.cost + totals.judge_cost, 6),
        latency_ms=latency_summary(totals.latencies),
        input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
        judge_input_tokens=totals.judge_input_tokens,
        judge_output_tokens=totals.judge_output_tokens,
        truncated_outputs=totals.truncated, run_id=run_id, dataset_hash=plan.dataset_hash,
        status=status, provider_notes=_provider_notes(plan.provider, task.scorers,
                                                      task.score_names()),
    )


def _provider_notes(provider: ModelProvider, scorers: Sequence[Any],
                    names: Sequence[str]) -> dict[str, Any]:
    """What the model's provider, and each judge's, learnt about its server (``run_notes()``,
    e.g. which structured-output form it accepted), stored with the run."""
    found: dict[str, Any] = {}
    for key, owner in [("model", provider), *zip(names, scorers, strict=True)]:
        notes = getattr(owner, "run_notes", None)
        if callable(notes) and (value := notes()):
            found[key] = _json_safe(value)
    return found


async def _close_scorers(tasks: Sequence[Task]) -> None:
    """Scorers that own resources (a judge's model) release them with ``aclose()``."""
    seen: set[int] = set()
    for task in tasks:
        for scorer in task.scorers:
            close = getattr(scorer, "aclose", None)
            if close is not None and id(scorer) not in seen:
                seen.add(id(scorer))
                await close()


async def evaluate_async(
    tasks: Sequence[Task],
    models: Sequence[str | ModelProvider],
    run: RunConfig = RunConfig(),
    *,
    model_args: dict[str, Any] | None = None,
    store: Any = None,
    progress: ProgressSink | None = None,
) -> EvalResult:
    """Run every task on every model and return the results (also stored).

    Args:
        tasks: the tasks to run.
        models: ``provider/model`` specs, or provider objects.
        run: how to run (limits, concurrency, retries, store, ...).
        model_args: arguments for every model built from a spec.
        store: an open ``Store``; by default ``Store.open(run.store)``.
        progress: where to report progress; by default a progress bar on stderr when
            ``run.progress`` is true.
    """
    from evalstack.store import Store

    model_args = dict(model_args or {})
    own_store = store is None
    if own_store:
        store = Store.open(run.store)
    if progress is None:
        from evalstack.runner.progress import RichProgress

        progress = RichProgress() if run.progress else NoProgress()
    providers: list[tuple[str, ModelProvider]] = []
    try:
        for m in models:
            if isinstance(m, str):
                providers.append((m, resolve_model(m, model_args)))
            else:
                providers.append((m.name, m))
        plans = [_plan(t, p, spec, model_args, run) for t in tasks for spec, p in providers]
        prices = load_table(run.prices)
        results = []
        for plan in plans:
            results.append(await _run_pair(plan, run, store, progress, prices))
        status = "completed" if all(r.status == "completed" for r in results) else "failed"
        return EvalResult(run_id=results[0].run_id, status=status, tasks=results)
    finally:
        for _, p in providers:
            await p.aclose()
        await _close_scorers(tasks)
        if own_store:
            store.close()


def evaluate(
    tasks: Sequence[Task],
    models: Sequence[str | ModelProvider],
    run: RunConfig = RunConfig(),
    **kwargs: Any,
) -> EvalResult:
    """The synchronous form of ``evaluate_async``; Ctrl-C leaves a resumable run.

    Examples:
        >>> from evalstack import Sample, Task, RunConfig, evaluate
        >>> from evalstack.datasets import MemoryDataset
        >>> from evalstack.solvers import generate
        >>> from evalstack.scorers.match import exact_match
        >>> data = MemoryDataset("echo", [Sample("1", "hello", "hello")])
        >>> result = evaluate([Task("echo", data, generate(), [exact_match()])], ["mock/echo"],
        ...                   RunConfig(store=":memory:", progress=False))
        >>> result.tasks[0].metrics["exact_match"].estimate
        1.0
    """
    terminated: list[int] = []
    try:
        return asyncio.run(_until_terminated(evaluate_async(tasks, models, run, **kwargs),
                                             terminated))
    except KeyboardInterrupt:
        raise InterruptedRunError(
            "Interrupted. Finished samples are stored; run the same command again to resume "
            "(or pass --resume RUN_ID)."
        ) from None
    except asyncio.CancelledError:
        if not terminated:
            raise
        raise TerminatedRunError(
            "Terminated (SIGTERM). Finished samples are stored; run the same command again to "
            "resume (or pass --resume RUN_ID)."
        ) from None


_T = TypeVar("_T")


async def _until_terminated(work: Coroutine[Any, Any, _T], terminated: list[int]) -> _T:
    """Run ``work``; SIGTERM (CI runners, systemd, Kubernetes, ``timeout``) cancels it as
    Ctrl-C does, so the run is stored as ``interrupted`` and resumes."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()

    def stop() -> None:
        terminated.append(signal.SIGTERM)
        if me is not None:
            me.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return await work
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
