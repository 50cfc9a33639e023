"""Behaviour under load: one task at rising concurrency levels, and the highest safe level.

Each level is an ordinary run (``evaluate_async``) with ``concurrency`` set to the level, in
its own in-memory store and with the response cache off, so every level really asks the
server. Per level it reports throughput, latency percentiles, error and timeout rates, and
quality compared sample by sample (paired) with the lowest level. The *knee* is the highest
level whose p95 latency is within the SLO and that is not significantly worse than the
lowest level in quality or in failures (``choose_knee``).

Everything but ``measure_level`` / ``run_load`` is a pure function of the measured outcomes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evalstack.core.errors import ConfigError
from evalstack.core.task import Task
from evalstack.runner.config import RunConfig
from evalstack.stats import StatResult, mcnemar, mean_ci, paired_permutation, wilson_ci

#: Levels above this would be capped by the runner's worker limit (``MAX_WORKERS``).
MAX_LEVEL = 1024
DEFAULT_LEVELS = "1,2,4,8,16,32,64"
_TIMEOUT_MARK = "timed out"
_NAN = math.nan

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One sample (and epoch) at one level: its latency, its error and its score."""

    latency_ms: float | None
    error: str | None
    score: float | None
    binary: bool = True

    @property
    def timed_out(self) -> bool:
        return self.error is not None and _TIMEOUT_MARK in self.error

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class LevelRun:
    """What one level measured: its outcomes by (sample id, epoch) and its wall time."""

    level: int
    seconds: float
    outcomes: Mapping[Key, Outcome]
    stopped: bool = False  # ended by the --seconds limit, unfinished samples not counted


@dataclass(frozen=True)
class LevelSummary:
    """One level's numbers, each an estimate with its interval and n."""

    level: int
    n: int
    seconds: float
    stopped: bool
    throughput: StatResult
    p50: StatResult
    p95: StatResult
    p99: StatResult
    errors: StatResult
    timeouts: StatResult
    quality: StatResult
    quality_vs_lowest: StatResult | None
    failures_vs_lowest: StatResult | None


@dataclass(frozen=True)
class Knee:
    """The chosen level (``None`` when no level qualifies) and why the others were not."""

    level: int | None
    excluded: dict[int, list[str]] = field(default_factory=dict)


def parse_levels(text: str) -> list[int]:
    """``--levels``: comma-separated integers from 1 to 1024, sorted and deduplicated.

    Examples:
        >>> parse_levels("8,1, 2,8")
        [1, 2, 8]
    """
    parts = [p.strip() for p in str(text).split(",")]
    hint = "--levels expects comma-separated integers >= 1, such as 1,2,4,8"
    if not any(parts) or not all(parts):
        raise ConfigError(f"{hint}; got {text!r}.")
    values = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise ConfigError(f"{hint}; {part!r} is not an integer.") from None
        if not 1 <= value <= MAX_LEVEL:
            raise ConfigError(f"{hint} and at most {MAX_LEVEL}; got {value}.")
        values.append(value)
    return sorted(set(values))


# -- pure statistics ----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float, confidence: float = 0.95) -> StatResult:
    """The nearest-rank ``q`` quantile with a distribution-free interval from order
    statistics (the ranks a Binomial(n, q) count puts around it; conservative). Values may
    be ``inf`` (a timed-out request: slower than any finite latency).

    Examples:
        >>> r = percentile([float(i) for i in range(1, 101)], 0.5)
        >>> (r.estimate, r.ci_low, r.ci_high, r.n)
        (50.0, 40.0, 61.0, 100)
    """
    from scipy.stats import binom

    x = np.sort(np.asarray(values, dtype=float))
    n = int(x.size)
    if n == 0:
        return StatResult(_NAN, _NAN, _NAN, 0, "order_statistic")
    rank = min(n, max(1, math.ceil(q * n)))
    alpha = 1.0 - confidence
    low = int(binom.ppf(alpha / 2, n, q))
    high = int(binom.ppf(1 - alpha / 2, n, q)) + 1
    low, high = min(max(low, 1), rank), max(min(high, n), rank)
    return StatResult(float(x[rank - 1]), float(x[low - 1]), float(x[high - 1]), n,
                      "order_statistic")


def throughput(done: int, seconds: float, confidence: float = 0.95) -> StatResult:
    """Samples per second with the exact Poisson interval for ``done`` events in ``seconds``
    (Garwood 1936); completions under steady load are more regular than Poisson, so the
    interval errs wide.

    Examples:
        >>> r = throughput(100, 10.0)
        >>> (r.estimate, round(r.ci_low, 2), round(r.ci_high, 2))
        (10.0, 8.14, 12.16)
    """
    from scipy.stats import chi2

    if seconds <= 0:
        return StatResult(_NAN, _NAN, _NAN, done, "poisson_exact")
    alpha = 1.0 - confidence
    low = float(chi2.ppf(alpha / 2, 2 * done)) / 2 if done else 0.0
    high = float(chi2.ppf(1 - alpha / 2, 2 * done + 2)) / 2
    return StatResult(done / seconds, low / seconds, high / seconds, done, "poisson_exact")


def latencies(outcomes: Mapping[Key, Outcome]) -> list[float]:
    """Latencies of the answered samples, and ``inf`` for each timed-out one; samples with
    another error (an HTTP error, say) have no latency to count."""
    out = [o.latency_ms for o in outcomes.values() if o.error is None and o.latency_ms is not None]
    return out + [math.inf for o in outcomes.values() if o.timed_out]


def _pairs(base: Mapping[Key, Outcome], other: Mapping[Key, Outcome],
           value: Callable[[Outcome], float | None]) -> tuple[list[float], list[float]]:
    keys = sorted(k for k in base if k in other)
    a = [value(base[k]) for k in keys]
    b = [value(other[k]) for k in keys]
    kept = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    return [x for x, _ in kept], [y for _, y in kept]


def _is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def paired_quality(base: Mapping[Key, Outcome], other: Mapping[Key, Outcome],
                   seed: int = 0) -> StatResult:
    """``other - base`` in mean score, on the samples scored at both levels: McNemar for
    binary scores, else the paired permutation test (with a paired bootstrap interval)."""
    a, b = _pairs(base, other, lambda o: None if o.failed else o.score)
    binary = all(o.binary for o in (*base.values(), *other.values()))
    if binary and _is_binary(a) and _is_binary(b):
        return mcnemar(a, b)
    return paired_permutation(a, b, rng=np.random.default_rng(seed))


def paired_failures(base: Mapping[Key, Outcome], other: Mapping[Key, Outcome]) -> StatResult:
    """``other - base`` in the share of failed samples (errors and timeouts), McNemar."""
    a, b = _pairs(base, other, lambda o: float(o.failed))
    return mcnemar(a, b)


def _quality(outcomes: Mapping[Key, Outcome], seed: int) -> StatResult:
    scored = [o for o in outcomes.values() if not o.failed and o.score is not None]
    if not scored:
        return StatResult(_NAN, _NAN, _NAN, 0, "none")
    values = [float(o.score) for o in scored if o.score is not None]
    kind = "binary" if all(o.binary for o in scored) and _is_binary(values) else "continuous"
    return mean_ci(values, kind, rng=np.random.default_rng(seed))


def summarize_level(run: LevelRun, base: LevelRun | None, seed: int = 0) -> LevelSummary:
    """The summary of one level; ``base`` is the lowest level (``None`` for that level)."""
    outcomes = run.outcomes
    n = len(outcomes)
    timeouts = sum(o.timed_out for o in outcomes.values())
    errors = sum(o.failed for o in outcomes.values()) - timeouts
    ok = n - errors - timeouts
    lat = latencies(outcomes)
    lowest = base if base is not run else None
    return LevelSummary(
        level=run.level, n=n, seconds=run.seconds, stopped=run.stopped,
        throughput=throughput(ok, run.seconds),
        p50=percentile(lat, 0.50), p95=percentile(lat, 0.95), p99=percentile(lat, 0.99),
        errors=wilson_ci(errors, n), timeouts=wilson_ci(timeouts, n),
        quality=_quality(outcomes, seed),
        quality_vs_lowest=None if lowest is None else paired_quality(lowest.outcomes, outcomes,
                                                                     seed),
        failures_vs_lowest=None if lowest is None else paired_failures(lowest.outcomes, outcomes),
    )


def summarize_levels(runs: Sequence[LevelRun], seed: int = 0) -> list[LevelSummary]:
    """Every level's summary, each compared with the lowest level."""
    ordered = sorted(runs, key=lambda r: r.level)
    base = ordered[0] if ordered else None
    return [summarize_level(r, base, seed) for r in ordered]


def _significantly(result: StatResult | None, alpha: float, sign: int) -> bool:
    """Whether ``result`` is a significant change in the direction of ``sign``."""
    if result is None or result.p_value is None or math.isnan(result.p_value):
        return False
    return result.p_value < alpha and result.estimate * sign > 0


def exclusions(s: LevelSummary, slo_ms: float | None, alpha: float) -> list[str]:
    """Why level ``s`` cannot be the knee (empty when it can)."""
    if s.n == 0:
        return ["no sample finished"]
    if s.throughput.n == 0:
        return ["no sample was answered without an error"]
    reasons = []
    p95 = s.p95.estimate
    if slo_ms is not None and not p95 <= slo_ms:
        shown = "at the timeout" if math.isinf(p95) else f"{p95:.0f} ms"
        reasons.append(f"p95 {shown} > SLO {slo_ms:g} ms")
    q = s.quality_vs_lowest
    if q is not None and _significantly(q, alpha, -1):
        reasons.append(f"quality {q.estimate:+.3f} vs lowest level (p={q.p_value:.2g})")
    f = s.failures_vs_lowest
    if f is not None and _significantly(f, alpha, +1):
        reasons.append(f"failures {f.estimate:+.3f} vs lowest level (p={f.p_value:.2g})")
    return reasons


def choose_knee(summaries: Sequence[LevelSummary], slo_ms: float | None,
                alpha: float = 0.05) -> Knee:
    """The highest level that meets the SLO and is not significantly worse than the lowest
    level in quality or failures; the excluded levels with their reasons.

    Examples:
        >>> choose_knee([], 100.0).level is None
        True
    """
    excluded = {s.level: r for s in summaries if (r := exclusions(s, slo_ms, alpha))}
    passing = [s.level for s in summaries if s.level not in excluded]
    return Knee(max(passing) if passing else None, excluded)


# -- measurement --------------------------------------------------------------------------


def level_config(run: RunConfig, level: int) -> RunConfig:
    """``run`` at concurrency ``level``: no cache reuse, a throwaway store, no error budget
    (errors are measured, not fatal), no resume and no progress bar."""
    return run.model_copy(update={
        "concurrency": level, "cache": False, "store": ":memory:", "resume": None,
        "error_budget": 1.0, "progress": False,
    })


def read_outcomes(store: Any, metric: str) -> dict[Key, Outcome]:
    """The outcomes of the one run in ``store``, scored by ``metric``."""
    runs = store.list_runs(limit=1)
    if not runs:
        return {}
    out: dict[Key, Outcome] = {}
    for row in store.iter_scores(runs[0].id):
        score = row.scores.get(metric) or {}
        value = score.get("value")
        out[(row.sample_id, row.epoch)] = Outcome(
            latency_ms=row.latency_ms, error=row.error,
            score=None if value is None else float(value),
            binary=score.get("kind", "binary") == "binary",
        )
    return out


async def _timed(work: Coroutine[Any, Any, Any], seconds: float | None) -> tuple[float, bool]:
    """Run ``work`` for at most ``seconds``: (wall seconds, whether the limit stopped it)."""
    start = time.perf_counter()
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        assert seconds is not None
        return seconds, True
    return time.perf_counter() - start, False


async def measure_level(task: Task, model: str, run: RunConfig, level: int, *, metric: str,
                        model_args: dict[str, Any] | None = None,
                        seconds: float | None = None) -> LevelRun:
    """Run ``task`` on ``model`` at concurrency ``level`` and read back every outcome."""
    from evalstack.runner.evaluate import evaluate_async
    from evalstack.runner.progress import NoProgress
    from evalstack.store import Store

    store = Store.open(":memory:")
    try:
        work = evaluate_async([task], [model], level_config(run, level),
                              model_args=model_args, store=store, progress=NoProgress())
        elapsed, stopped = await _timed(work, seconds)
        return LevelRun(level, elapsed, read_outcomes(store, metric), stopped)
    finally:
        store.close()


async def run_load(task: Task, model: str, run: RunConfig, levels: Sequence[int], *,
                   metric: str, model_args: dict[str, Any] | None = None,
                   seconds: float | None = None,
                   on_level: Callable[[LevelRun], None] | None = None) -> list[LevelRun]:
    """Every level in turn, lowest first (``on_level`` hears of each as it ends)."""
    runs = []
    for level in sorted(levels):
        measured = await measure_level(task, model, run, level, metric=metric,
                                       model_args=model_args, seconds=seconds)
        if on_level is not None:
            on_level(measured)
        runs.append(measured)
    return runs


# -- the report ---------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def stat_json(r: StatResult | None) -> dict[str, Any] | None:
    """A ``StatResult`` as JSON; ``nan`` and ``inf`` (a latency at the timeout) are null."""
    if r is None:
        return None
    out: dict[str, Any] = {"estimate": _num(r.estimate), "ci_low": _num(r.ci_low),
                           "ci_high": _num(r.ci_high), "n": r.n, "method": r.method}
    if r.p_value is not None:
        out["p_value"] = _num(r.p_value)
    if math.isinf(r.estimate) or math.isinf(r.ci_high):
        out["at_timeout"] = {"estimate": math.isinf(r.estimate), "ci_high": math.isinf(r.ci_high)}
    return out


def level_json(s: LevelSummary, reasons: list[str]) -> dict[str, Any]:
    """One level of the ``--json`` report."""
    return {
        "level": s.level, "n": s.n, "seconds": round(s.seconds, 4), "stopped": s.stopped,
        "throughput": stat_json(s.throughput),
        "latency_ms": {"p50": stat_json(s.p50), "p95": stat_json(s.p95),
                       "p99": stat_json(s.p99)},
        "error_rate": stat_json(s.errors), "timeout_rate": stat_json(s.timeouts),
        "quality": stat_json(s.quality),
        "quality_vs_lowest": stat_json(s.quality_vs_lowest),
        "failures_vs_lowest": stat_json(s.failures_vs_lowest),
        "excluded": reasons,
    }


# -- the report as text (the table, the viewer and the HTML report) ------------------------


def ms_text(r: dict[str, Any] | None) -> str:
    """A latency with its interval; ``timeout`` where it is at the timeout."""
    if r is None or (r["estimate"] is None and "at_timeout" not in r):
        return "-"
    timed = r.get("at_timeout", {})
    est = "timeout" if timed.get("estimate") else f"{r['estimate']:.0f}"
    high = "timeout" if timed.get("ci_high") else f"{r['ci_high']:.0f}"
    low = "-" if r["ci_low"] is None else f"{r['ci_low']:.0f}"
    return f"{est} [{low}, {high}]"


def rate_text(r: dict[str, Any] | None, digits: int = 3) -> str:
    """An estimate with its interval, to ``digits`` decimals."""
    if r is None or r["estimate"] is None:
        return "-"
    return f"{r['estimate']:.{digits}f} [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"


def pct_text(r: dict[str, Any] | None) -> str:
    """A rate as a percentage with its interval."""
    if r is None or r["estimate"] is None:
        return "-"
    return f"{100 * r['estimate']:.1f}% [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"


def vs_text(r: dict[str, Any] | None) -> str:
    """A paired difference with the lowest level: interval and p-value."""
    if r is None:
        return "(baseline)"
    if r["estimate"] is None:
        return "-"
    p = r.get("p_value")
    shown = "-" if p is None or math.isnan(p) else f"{p:.2g}"
    return f"{r['estimate']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] p={shown}"


#: The columns of the per-level table, as ``level_cells`` fills them.
LEVEL_COLUMNS = ("level", "n", "ok/s", "p50 ms", "p95 ms", "p99 ms", "errors", "timeouts",
                 "quality", "vs lowest (paired)")


def level_cells(r: dict[str, Any]) -> list[Any]:
    """One level (``level_json``) as the table's cells, numbers with their intervals."""
    lat = r["latency_ms"]
    return [r["level"], r["n"], rate_text(r["throughput"], 1), ms_text(lat["p50"]),
            ms_text(lat["p95"]), ms_text(lat["p99"]), pct_text(r["error_rate"]),
            pct_text(r["timeout_rate"]), rate_text(r["quality"]),
            vs_text(r["quality_vs_lowest"])]


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """The knee and why each other level was excluded, in words (``report`` as ``load
    --json`` prints it)."""
    slo = report["slo_ms"]
    rule = (f"p95 <= {slo:g} ms" if slo is not None else "no --slo-ms, latency not checked")
    knee = report["knee"]
    lines = [f"Knee: {knee} ({rule}; quality and failures not significantly worse than "
             f"level {report['levels'][0]} at alpha {report['alpha']:g})" if knee is not None
             else f"Knee: none: no level qualifies ({rule})."]
    lines += [f"- level {lvl} excluded: {'; '.join(why)}"
              for lvl, why in report["excluded"].items()]
    first: dict[str, Any] = report["results"][0] if report["results"] else {}
    if first and (first["error_rate"]["estimate"] or first["timeout_rate"]["estimate"]):
        lines.append(f"Note: the lowest level itself had failures (errors "
                     f"{pct_text(first['error_rate'])}, timeouts "
                     f"{pct_text(first['timeout_rate'])}); "
                     "the comparisons with it cannot see failures it shares.")
    most = max((r["n"] for r in report["results"]), default=0)
    over = [r["level"] for r in report["results"] if r["level"] > most]
    if over:
        lines.append(f"Note: level(s) {', '.join(map(str, over))} exceed the {most} samples "
                     "run, so fewer requests were in flight; give more --samples.")
    if any(r["stopped"] for r in report["results"]):
        lines.append("Note: --seconds stopped some levels; their unfinished samples are not "
                     "counted, and each level is compared on the samples both finished.")
    lines.append("Intervals are 95%; latency intervals from order statistics, throughput "
                 "Poisson, rates Wilson; each level compared with the lowest on the same "
                 "samples.")
    return lines
