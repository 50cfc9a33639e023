"""Sampled online scoring: score a deterministic sample of production traces, within a budget.

A scoring policy (YAML, validated) names its scorers (any evalstack scorer, as ``--scorer``
spells it: ``llm_judge``, ``faithfulness:{"judge": "openai/gpt-4o-mini"}``, ...), a sampling
rate, filters and a daily budget of judge calls:

    name: nightly
    rate: 0.01                  # 1% of traces
    scorers: [llm_judge]
    filters: {model: gpt-4o-mini}
    budget: {judge_calls_per_day: 500}

Sampling is by trace id: a trace is in the sample when the SHA-256 of ``policy name + trace
id``, read as a number in [0, 1), is below the rate. A rerun picks the same traces, a trace is
never scored twice on a metric (the stored score stays), and a new trace is in or out of the
sample at once, whatever else arrived.

Every model call of a scorer goes through the model layer (its limits, retries, cache and
cost). The budget counts the judge calls the scores report (``attempts``); a trace is scored
only when the worst case (every scorer using all its attempts) still fits, so the budget is
never exceeded. When it runs out, scoring stops and says how many sampled traces wait.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.scorer import Score, Scorer, TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.production.store import OnlineScore, save_scores, scored
from evalstack.production.traces import TraceRow, iter_traces
from evalstack.runner.specs import resolve_scorer
from evalstack.store import Store
from evalstack.store.tables import online_scores


class TraceFilter(BaseModel):
    """Which traces a policy looks at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    since_days: float | None = Field(None, gt=0)


class Budget(BaseModel):
    """What a policy may spend per UTC day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge_calls_per_day: int | None = Field(None, ge=0)


class ScoringPolicy(BaseModel):
    """A sampled scoring policy (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    rate: float = Field(gt=0, le=1)
    scorers: list[str] = Field(min_length=1)
    filters: TraceFilter = TraceFilter()
    budget: Budget = Budget()


def load_policy(path: str | Path) -> ScoringPolicy:
    """Read and check a policy file.

    Raises:
        ConfigError: the file is missing, not YAML, or a field is wrong (named, with what was
            expected).
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Scoring policy not found: {p}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None
    try:
        return ScoringPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ConfigError(
            f"{p}: field {field!r}: {first['msg']} (received {first.get('input')!r}). A policy "
            "has name, rate (0-1], scorers (a list of scorer specs), and optionally filters "
            "{model, since_days} and budget {judge_calls_per_day}."
        ) from None


def in_sample(policy: str, trace_id: str, rate: float) -> bool:
    """Whether a trace is in a policy's sample (deterministic by trace id).

    Examples:
        >>> in_sample("nightly", "4bf92f3577b34da6a3ce929d0e0e4736", 1.0)
        True
        >>> in_sample("nightly", "4bf92f3577b34da6a3ce929d0e0e4736", 0.5) in (True, False)
        True
    """
    digest = hashlib.sha256(f"{policy}\x00{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


@dataclass(frozen=True, slots=True)
class ScoringReport:
    """What one ``score_traces`` pass did.

    Attributes:
        considered: traces that passed the filters.
        sampled: of those, in the sample.
        already: sampled traces scored before (not again).
        scored: traces scored now.
        waiting: sampled traces left unscored because the budget ran out.
        judge_calls: judge calls spent now.
        errors: scores that were judge errors (stored as errors, never as scores).
        message: a one-line summary, saying when the budget stopped scoring.
    """

    considered: int
    sampled: int
    already: int
    scored: int
    waiting: int
    judge_calls: int
    errors: int
    message: str


def _calls(score: Score | None) -> int:
    meta = (score.metadata or {}) if score is not None else {}
    attempts = meta.get("attempts")
    if isinstance(attempts, int):
        return attempts
    checks = meta.get("checks")
    return len(checks) if isinstance(checks, list) else 0


def _calls_today(store: Store, project: str, policy: str, now: datetime) -> int:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    query = sa.select(online_scores.c.metadata).where(
        online_scores.c.project_id == project, online_scores.c.policy == policy,
        online_scores.c.scored_at >= day)
    with store.engine.connect() as conn:
        return sum(int((m or {}).get("judge_calls", 0)) for (m,) in conn.execute(query))


async def _score_one(scorer: Scorer, trace: TraceRow) -> tuple[Score | None, str | None]:
    sample = Sample(trace.trace_id, trace.question, metadata={
        "conversation_id": trace.conversation_id, **trace.metadata})
    state = TaskState(sample, output=ModelOutput(trace.answer))
    try:
        result = scorer(sample, state)
        score = await result if not isinstance(result, Score) else result
    except ScorerError as exc:
        return None, str(exc)
    return score, None


def _worst_case(scorers: Sequence[Scorer]) -> int:
    total = 0
    for s in scorers:
        args = s.spec.args
        total += int(args.get("max_attempts", 3)) * (int(args.get("max_statements", 1))
                                                      if "max_statements" in args else 1)
    return max(total, 1)


async def score_traces(store: Store, project: str, policy: ScoringPolicy, *,
                       now: datetime | None = None,
                       build: Callable[[str], Scorer] = resolve_scorer) -> ScoringReport:
    """Score the project's new sampled traces under ``policy`` (see the module docstring).

    Runs inside the caller's model layer (``evalstack.model.context.use_models``); without
    one, the default limits apply and nothing is cached.
    """
    now = now or datetime.now(UTC)
    scorers = [build(spec) for spec in policy.scorers]
    names = [s.spec.name for s in scorers]
    done = scored(store, project, set(names))
    since = now - timedelta(days=policy.filters.since_days) if policy.filters.since_days else None
    budget = policy.budget.judge_calls_per_day
    spent_before = _calls_today(store, project, policy.name, now) if budget is not None else 0
    worst = _worst_case(scorers)
    considered = sampled = already = count = errors = calls = waiting = 0
    try:
        for trace in iter_traces(store, project, since=since):
            if policy.filters.model and trace.model != policy.filters.model:
                continue
            considered += 1
            if not in_sample(policy.name, trace.trace_id, policy.rate):
                continue
            sampled += 1
            if all((trace.trace_id, n) in done for n in names):
                already += 1
                continue
            if budget is not None and spent_before + calls + worst > budget:
                waiting += 1
                continue
            fresh, spent = await _score_trace(scorers, names, trace, done, policy.name, now)
            errors += sum(s.error is not None for s in fresh)
            calls += spent
            save_scores(store, project, fresh)
            count += 1
    finally:
        for s in scorers:
            close = getattr(s, "aclose", None)
            if close is not None:
                await close()
    message = (f"{policy.name}: {count} trace(s) scored, {already} scored before, of "
               f"{sampled} sampled from {considered} ({policy.rate:.2%}); {calls} judge calls")
    if waiting:
        message += (f". The daily budget of {budget} judge calls ran out: {waiting} sampled "
                    "trace(s) wait for the next day's budget")
    return ScoringReport(considered, sampled, already, count, waiting, calls, errors,
                         message + ".")


async def _score_trace(scorers: Sequence[Scorer], names: Sequence[str], trace: TraceRow,
                       done: set[tuple[str, str]], policy: str, now: datetime
                       ) -> tuple[list[OnlineScore], int]:
    out: list[OnlineScore] = []
    spent = 0
    for scorer, name in zip(scorers, names, strict=True):
        if (trace.trace_id, name) in done:
            continue
        score, error = await _score_one(scorer, trace)
        calls = _calls(score) if score is not None else int(scorer.spec.args.get(
            "max_attempts", 3))
        spent += calls
        meta: dict[str, Any] = dict(score.metadata or {}) if score is not None else {}
        meta["judge_calls"] = calls
        out.append(OnlineScore(trace.trace_id, name, policy,
                               score.value if score is not None else None, now, error,
                               None, meta))
    return out, spent
