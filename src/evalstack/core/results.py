"""The versioned results schema: what ``--json`` prints, what the store keeps as a run's summary.

Bump ``SCHEMA_VERSION`` on any incompatible change; fields are only ever added.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

RunStatus = Literal["running", "completed", "failed", "interrupted"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricValue(_Frozen):
    """An estimate with its 95% interval and the number of samples behind it.

    The stored and JSON form of ``evalstack.stats.StatResult``, the one in-memory type for an
    estimate with its interval and n (used by the statistics, the metrics, the judges and
    planning alike): ``None`` here where the ``StatResult`` holds ``nan`` (no data).
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str = Field(description="how the interval was computed: wilson, bootstrap, ...")


class LatencySummary(_Frozen):
    p50: float | None
    p95: float | None


class TaskResult(_Frozen):
    """The result of one task on one model, overall and per category."""

    task: str
    task_version: int
    model: str
    samples: int = Field(description="sample-epochs attempted")
    errors: int
    metrics: dict[str, MetricValue]
    categories: dict[str, dict[str, MetricValue]] = Field(default_factory=dict)
    cost_usd: float = Field(description="USD of the model's own calls")
    judge_cost_usd: float = Field(0.0, description="USD of the judges' calls")
    total_cost_usd: float | None = Field(
        None, description="model + judge USD (None in runs stored before judges were priced)")
    latency_ms: LatencySummary
    input_tokens: int = 0
    output_tokens: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    truncated_outputs: int = 0
    run_id: str
    dataset_hash: str
    status: RunStatus = "completed"
    provider_notes: dict[str, Any] = Field(
        default_factory=dict,
        description="what the provider negotiated with the server during the run, e.g. "
                    "which structured-output form it accepted",
    )


class EvalResult(_Frozen):
    """What one ``evalstack run`` produced; the ``--json`` output.

    ``run_id`` names the first run; each task x model pair is stored as its own run, named by
    ``tasks[i].run_id``.
    """

    schema_version: int = SCHEMA_VERSION
    run_id: str
    status: RunStatus
    tasks: list[TaskResult]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
