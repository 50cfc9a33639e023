"""What the viewer's pages show, as plain JSON-able data: one function per page.

The HTML pages and their JSON twins (``/api/...``) call the same function, so they always
agree. Nothing here renders HTML.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from evalstack.core.costs import summary_cost_text
from evalstack.core.records import RunRecord


def run_row(run: RunRecord) -> dict[str, Any]:
    """One run as the runs page lists it: identity, status, counts and metrics with intervals."""
    summary = run.summary or {}
    metrics = {
        name: {k: m.get(k) for k in ("estimate", "ci_low", "ci_high", "n", "method")}
        for name, m in sorted((summary.get("metrics") or {}).items())
    }
    return {
        "id": run.id,
        "created_at": run.created_at.isoformat(),
        "status": run.status,
        "task": run.task_name,
        "task_version": run.task_version,
        "model": run.model,
        "samples": summary.get("samples"),
        "errors": summary.get("errors"),
        "cost_usd": summary.get("cost_usd"),
        "judge_cost_usd": summary.get("judge_cost_usd"),
        "metrics": metrics,
    }


def list_runs(store: Any, *, task: str | None = None, model: str | None = None,
              status: str | None = None, since: date | None = None, sort: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
    """Runs newest first, filtered; ``sort`` names a metric to order by (best first, runs
    without it last)."""
    runs = store.list_runs(limit=None if since is not None else limit, task=task, model=model,
                           status=status)
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
        runs = [r for r in runs if r.created_at >= start][:limit]
    rows = [run_row(r) for r in runs]
    if sort:
        def key(row: dict[str, Any]) -> tuple[int, float]:
            value = (row["metrics"].get(sort) or {}).get("estimate")
            if value is None or not math.isfinite(value):
                return (1, 0.0)
            return (0, -float(value))

        rows.sort(key=key)
    return rows


def metric_names(rows: list[dict[str, Any]]) -> list[str]:
    """Every metric any listed run has, sorted."""
    return sorted({name for row in rows for name in row["metrics"]})


PREVIEW_CHARS = 200


def _score_cells(scores: dict[str, Any]) -> dict[str, Any]:
    return {name: (s.get("value") if isinstance(s, dict) else s) for name, s in scores.items()}


def score_filter(text: str | None) -> tuple[str, str, float] | None:
    """``"exact_match<1"`` (or ``<=``, ``>``, ``>=``, ``=``) as (metric, operator, value).

    Examples:
        >>> score_filter("llm_judge<=0.5")
        ('llm_judge', '<=', 0.5)
        >>> score_filter("") is None
        True
    """
    if not text:
        return None
    import re

    m = re.fullmatch(r"\s*([^<>=\s]+)\s*(<=|>=|<|>|=)\s*(-?[0-9.]+)\s*", text)
    if m is None:
        raise ValueError(f"a score filter looks like exact_match<1 or llm_judge>=0.75; "
                         f"received {text[:60]!r}")
    return m.group(1), m.group(2), float(m.group(3))


def _passes(record: Any, rule: tuple[str, str, float]) -> bool:
    name, op, bound = rule
    score = record.scores.get(name)
    value = score.get("value") if isinstance(score, dict) else score
    if not isinstance(value, int | float):
        return False
    return {"<": value < bound, "<=": value <= bound, ">": value > bound,
            ">=": value >= bound, "=": value == bound}[op]


def _filtered_page(store: Any, run_id: str, after: tuple[str, int] | None, limit: int,
                   category: str | None, errors: bool | None,
                   score: tuple[str, str, float] | None) -> tuple[list[Any], bool]:
    """Up to ``limit`` samples after ``after`` that pass the filters, and whether more do.

    Category and errors filter in the database; a score filter reads on in chunks."""
    if score is None:
        page = store.sample_page(run_id, after=after, limit=limit + 1, category=category,
                                 errors=errors)
        return page[:limit], len(page) > limit
    found: list[Any] = []
    while True:
        chunk = store.sample_page(run_id, after=after, limit=500, category=category,
                                  errors=errors)
        found += [r for r in chunk if _passes(r, score)]
        if len(found) > limit or len(chunk) < 500:
            return found[:limit], len(found) > limit
        after = (chunk[-1].sample_id, chunk[-1].epoch)


def run_view(store: Any, run_id: str, *, after: tuple[str, int] | None = None,
             limit: int = 50, category: str | None = None, errors: bool | None = None,
             score: tuple[str, str, float] | None = None) -> dict[str, Any]:
    """The run page: the run's row, its full spec, per-category metrics, latency and cost,
    and one page of samples (``next`` is the key of the page after, or ``None``)."""
    run = store.resolve_run(run_id)
    summary = run.summary or {}
    page, more = _filtered_page(store, run.id, after, limit, category, errors, score)
    total, errored = store.count_samples(run.id)
    categories = {
        cat: {name: {k: m.get(k) for k in ("estimate", "ci_low", "ci_high", "n")}
              for name, m in sorted(metrics.items())}
        for cat, metrics in sorted((summary.get("categories") or {}).items())
    }
    return {
        "run": run_row(run),
        "spec": {
            "task": run.task_name, "task_version": run.task_version, "task_spec": run.task_spec,
            "model": run.model, "model_args": run.model_args, "dataset": run.dataset_name,
            "dataset_hash": run.dataset_hash, "dataset_size": run.dataset_size,
            "epochs": run.epochs, "limit": run.limit, "git_revision": run.git_revision,
            "package_version": run.package_version, "error": run.error,
        },
        "latency_ms": summary.get("latency_ms"),
        "tokens": {"input": summary.get("input_tokens"), "output": summary.get("output_tokens")},
        "cost": summary_cost_text(summary),
        "stored_samples": total,
        "errored_samples": errored,
        "categories": categories,
        "samples": [
            {"sample_id": r.sample_id, "epoch": r.epoch, "category": r.category,
             "scores": _score_cells(r.scores), "error": r.error,
             "output": r.output[:PREVIEW_CHARS], "output_chars": len(r.output),
             "latency_ms": r.latency_ms}
            for r in page
        ],
        "next": {"after_id": page[-1].sample_id, "after_epoch": page[-1].epoch}
        if more and page else None,
    }


def sample_view(store: Any, run_id: str, sample_id: str, epoch: int = 1) -> dict[str, Any]:
    """The sample page: the whole exchange and every score with its explanation.

    Raises:
        LookupError: the run has no such sample-epoch.
    """
    run = store.resolve_run(run_id)
    record = store.get_sample(run.id, sample_id, epoch)
    if record is None:
        raise LookupError(f"Run {run.id} has no sample {sample_id!r} in epoch {epoch}.")
    prompt = record.metadata.get("prompt")
    scores = {}
    for name, score in record.scores.items():
        s = score if isinstance(score, dict) else {"value": score}
        meta = s.get("metadata") or {}
        scores[name] = {"value": s.get("value"), "kind": s.get("kind"), "answer": s.get("answer"),
                        "explanation": s.get("explanation"), "error": s.get("error"),
                        "judge": meta.get("judge"), "criteria": meta.get("criteria")}
    return {
        "run": {"id": run.id, "task": run.task_name, "model": run.model},
        "sample_id": record.sample_id, "epoch": record.epoch, "category": record.category,
        "input": record.input, "messages": prompt if isinstance(prompt, list) else None,
        "choices": record.choices, "target": record.target, "output": record.output,
        "output_truncated": record.output_truncated, "scores": scores, "error": record.error,
        "latency_ms": record.latency_ms, "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens, "cost_usd": record.cost_usd,
        "judge_input_tokens": record.judge_input_tokens,
        "judge_output_tokens": record.judge_output_tokens,
        "judge_cost_usd": record.judge_cost_usd,
        "attempts": record.attempts, "cached": record.cached,
        "model_version": record.model_version,
        "metadata": {k: v for k, v in record.metadata.items() if k not in ("prompt", "pipeline")},
        "pipeline": _pipeline(record.metadata.get("pipeline")),
    }


def _pipeline(value: Any) -> dict[str, Any] | None:
    """What a pipeline target returned besides its text (stored under metadata), if anything."""
    if not isinstance(value, dict):
        return None
    contexts = value.get("contexts")
    calls = value.get("tool_calls")
    return {"contexts": [c for c in contexts if isinstance(c, dict)] if isinstance(contexts, list)
            else None,
            "tool_calls": calls if isinstance(calls, list) else None,
            "cost_usd": value.get("cost_usd"), "trace_id": value.get("trace_id")}


def compare_view(store: Any, refs: list[str], *, allow_mismatch: bool = False,
                 allow_judge_mismatch: bool = False, alpha: float = 0.05) -> dict[str, Any]:
    """The compare page: what ``evalstack compare`` reports, for each run against the first."""
    from evalstack.analysis.compare import compare_runs
    from evalstack.analysis.pairs import load_scores

    loaded = []
    for ref in refs:
        run = store.resolve_run(ref)
        loaded.append((run, load_scores(store, run)))
    results = compare_runs(loaded, alpha=alpha, allow_mismatch=allow_mismatch,
                           allow_judge_mismatch=allow_judge_mismatch)
    return {"runs": [r.id for r, _ in loaded],
            "comparisons": [c.to_dict() for c in results]}


def side_by_side(store: Any, run_a: str, run_b: str, sample_id: str, epoch: int = 1
                 ) -> dict[str, Any]:
    """One sample in two runs, for looking at a flip."""
    return {"a": sample_view(store, run_a, sample_id, epoch),
            "b": sample_view(store, run_b, sample_id, epoch)}
