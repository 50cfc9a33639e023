"""``RunConfig``: every setting of how a run executes, grouped in one validated object."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from evalstack.core import checks
from evalstack.model.policy import CallPolicy

# Fields checked here, by kind (pydantic's own constraints also stay, for the schema).
_POSITIVE_SECONDS = ("timeout", "retry_time", "flush_seconds")
_OPTIONAL_RATES = ("rpm", "tpm")
_BACKOFFS = ("retry_base", "retry_max")
_COUNTS = {"limit": 1, "epochs": 1, "concurrency": 1, "max_retries": 0,
           "max_output_chars": 1, "write_batch": 1}


class RunConfig(BaseModel):
    """How to run: limits, concurrency, retries, budget, cache, resume and storage.

    Examples:
        >>> RunConfig(limit=10, concurrency=4).max_retries
        8
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int | None = Field(None, ge=1, description="evaluate only the first N samples")
    epochs: int | None = Field(None, ge=1, description="repeats of each sample (task default: 1)")
    concurrency: int = Field(32, ge=1, description="requests in flight per model")
    rpm: float | None = Field(None, gt=0, description="requests per minute limit")
    tpm: float | None = Field(None, gt=0, description="tokens per minute limit (estimated)")
    timeout: float = Field(
        120.0, gt=0, description="seconds per request attempt (all attempts: --retry-time)"
    )
    max_retries: int = Field(8, ge=0, description="retries of a retryable error per request")
    retry_base: float = Field(0.5, ge=0, description="first backoff in seconds")
    retry_max: float = Field(30.0, ge=0, description="longest backoff in seconds")
    retry_time: float = Field(
        300.0, gt=0,
        description="seconds one request may take in all, retries and backoffs included; "
                    "each attempt also stops at --timeout",
    )
    error_budget: float = Field(
        0.1, ge=0, le=1, description="the run fails if more than this share of samples error"
    )
    cache: bool = Field(True, description="reuse stored responses for identical requests")
    resume: str | None = Field(None, description="run id to resume (else automatic)")
    wait: bool = Field(
        True, description="wait while another process writes the same run (else stop, exit 8)"
    )
    store: str | None = Field(None, description="store URL or path (else EVALSTACK_STORE)")
    max_output_chars: int = Field(1_000_000, ge=1, description="longer outputs are cut and flagged")
    prices: str | None = Field(None, description="price table file (JSON or YAML)")
    progress: bool = Field(True, description="show a progress bar on stderr")
    write_batch: int = Field(500, ge=1, description="samples per store transaction")
    flush_seconds: float = Field(0.5, gt=0, description="longest wait before stored")
    seed: int = Field(0, description="seed for bootstrap intervals and jitter")

    @field_validator(*_POSITIVE_SECONDS, *_OPTIONAL_RATES, mode="before")
    @classmethod
    def _positive(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in _OPTIONAL_RATES:
            return None
        return checks.field_check(checks.in_range, str(info.field_name), value, low=0,
                                  low_open=True)

    @field_validator(*_BACKOFFS, mode="before")
    @classmethod
    def _non_negative(cls, value: Any, info: ValidationInfo) -> Any:
        return checks.field_check(checks.in_range, str(info.field_name), value, low=0)

    @field_validator("error_budget", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Any:
        return checks.field_check(checks.proportion, "error_budget", value)

    @field_validator(*_COUNTS, mode="before")
    @classmethod
    def _count(cls, value: Any, info: ValidationInfo) -> Any:
        name = str(info.field_name)
        if value is None and name in ("limit", "epochs"):
            return None
        return checks.field_check(checks.int_at_least, name, value, minimum=_COUNTS[name])

    def call_policy(self) -> CallPolicy:
        """The limits and retries every model of the run obeys (solver's and judges')."""
        return CallPolicy(
            concurrency=self.concurrency, rpm=self.rpm, tpm=self.tpm, timeout=self.timeout,
            retry_time=self.retry_time, max_retries=self.max_retries,
            retry_base=self.retry_base, retry_max=self.retry_max, seed=self.seed,
            cache=self.cache,
        )
