"""``RunConfig``: every setting of how a run executes, grouped in one validated object."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
    timeout: float = Field(120.0, gt=0, description="seconds per request attempt")
    max_retries: int = Field(8, ge=0, description="retries of a retryable error per request")
    retry_base: float = Field(0.5, ge=0, description="first backoff in seconds")
    retry_max: float = Field(30.0, ge=0, description="longest backoff in seconds")
    error_budget: float = Field(
        0.1, ge=0, le=1, description="the run fails if more than this share of samples error"
    )
    cache: bool = Field(True, description="reuse stored responses for identical requests")
    resume: str | None = Field(None, description="run id to resume (else automatic)")
    store: str | None = Field(None, description="store URL or path (else EVALSTACK_STORE)")
    max_output_chars: int = Field(1_000_000, ge=1, description="longer outputs are cut and flagged")
    prices: str | None = Field(None, description="price table file (JSON or YAML)")
    progress: bool = Field(True, description="show a progress bar on stderr")
    write_batch: int = Field(500, ge=1, description="samples per store transaction")
    flush_seconds: float = Field(0.5, gt=0, description="longest wait before stored")
    seed: int = Field(0, description="seed for bootstrap intervals and jitter")
