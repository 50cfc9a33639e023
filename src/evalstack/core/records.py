"""What the store keeps: one record per run, per sample-epoch, per named baseline, per label.

These are frozen, slotted dataclasses because a run writes and reads many of them; the store's
tables have one column per field (``store/tables.py``), so adding a field here means adding a
migration there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """The outcome of one sample in one epoch of a run.

    Attributes:
        sample_id: the dataset sample's id.
        epoch: 0-based epoch number.
        input: the prompt text, or chat messages as ``{"role", "content"}`` dicts.
        target: the expected answer, or several acceptable answers.
        output: what the model produced (already capped, see ``output_truncated``).
        scores: scorer name -> ``Score.to_dict()``.
        error: why the sample failed; ``None`` when it succeeded.
        output_truncated: the output was cut to the configured cap.
        latency_ms: wall time of the model calls, when measured.
        input_tokens / output_tokens: usage summed over every model call.
        cost_usd: the estimated cost of the model calls.
        attempts: model calls made, retries included.
        cached: the output came from the response cache.
        category: the sample's category, for per-category results.
        metadata: solver and dataset notes.
        model_version: the model name as the provider reported it.
        choices: answer options for multiple-choice tasks.
        judge_input_tokens / judge_output_tokens / judge_cost_usd: what the judges that
            scored this sample used (not counted in ``input_tokens`` or ``cost_usd``).

    Examples:
        >>> r = SampleRecord("q1", 0, "2+2=", "4", "4", {"exact_match": {"value": 1.0}})
        >>> (r.error, r.attempts, r.metadata)
        (None, 1, {})
    """

    sample_id: str
    epoch: int
    input: str | list[dict[str, Any]]
    target: str | list[str]
    output: str
    scores: dict[str, dict[str, Any]]
    error: str | None = None
    output_truncated: bool = False
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float = 0.0
    attempts: int = 1
    cached: bool = False
    category: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    model_version: str | None = None
    choices: list[str] | None = None
    judge_input_tokens: int | None = None
    judge_output_tokens: int | None = None
    judge_cost_usd: float = 0.0

    def input_text(self) -> str:
        """The input as plain text (the last user message for chat input).

        Examples:
            >>> SampleRecord("q", 1, [{"role": "user", "content": "hi"}], "", "", {}).input_text()
            'hi'
        """
        if isinstance(self.input, str):
            return self.input
        users = [m.get("content", "") for m in self.input if m.get("role") == "user"]
        return str(users[-1]) if users else ""

    def target_text(self) -> str | None:
        """The target as one text (several acceptable answers one per line), or ``None``."""
        text = self.target if isinstance(self.target, str) else "\n".join(self.target)
        return text or None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run: one task on one model, with everything needed to reproduce and resume it.

    Attributes:
        id: a time-sortable id (``evalstack.store.new_id()``).
        created_at / updated_at: timezone-aware UTC timestamps.
        status: ``running``, ``completed``, ``failed`` or ``interrupted``.
        task_name / task_version / task_spec: which task, its version, and ``Task.spec()``.
        model / model_args: the model spec and its non-secret arguments.
        dataset_name / dataset_hash / dataset_size: which data, its sha256, sample count.
        epochs / limit: how many epochs, and the ``--limit`` applied (``None`` for all).
        fingerprint: a hash of everything that determines the results; runs with equal
            fingerprints can resume each other.
        config: the run configuration (concurrency, budgets, ...).
        package_version / git_revision: which evalstack, and the user's git commit if any.
        summary: the ``TaskResult`` as a JSON dict once the run has one.
        error: why the run failed or stopped.
    """

    id: str
    created_at: datetime
    updated_at: datetime
    status: str
    task_name: str
    task_version: int
    task_spec: dict[str, Any]
    model: str
    model_args: dict[str, Any]
    dataset_name: str
    dataset_hash: str
    dataset_size: int
    epochs: int
    limit: int | None
    fingerprint: str
    config: dict[str, Any]
    package_version: str
    git_revision: str | None
    summary: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class BaselineRecord:
    """A name pinned to a run, such as the run a CI gate compares new runs against.

    Attributes:
        name: 1-64 characters of letters, digits, ``.``, ``_`` and ``-``.
        run_id: the full id of the run the name points at.
        created_at / updated_at: timezone-aware UTC timestamps; ``updated_at`` changes each
            time the name is moved to another run.
        note: why this run is the baseline, if the user said.
    """

    name: str
    run_id: str
    created_at: datetime
    updated_at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A person's judgement of one sample: a rating, or a blind preference between two runs.

    Attributes:
        run_id / sample_id / epoch: the sample labelled (for a preference, run A's).
        kind: ``"rating"`` (thumbs, per-criterion ratings, comment) or ``"pairwise"``.
        labeller: who labelled it, as they gave their name.
        created_at: when, timezone-aware UTC.
        other_run_id: run B of a pairwise preference.
        preference: ``"a"``, ``"b"`` or ``"tie"`` (pairwise).
        thumbs: +1 or -1 (rating), if given.
        ratings: criterion -> 1-5 (rating), if given.
        comment: free text, if given.
        id: the store's id once stored.
    """

    run_id: str
    sample_id: str
    epoch: int
    kind: str
    labeller: str
    created_at: datetime
    other_run_id: str | None = None
    preference: str | None = None
    thumbs: int | None = None
    ratings: dict[str, int] | None = None
    comment: str | None = None
    id: int | None = None


class ScoreRow(NamedTuple):
    """The part of a stored sample that summaries need (no input, output or metadata)."""

    sample_id: str
    epoch: int
    scores: dict[str, dict[str, Any]]
    error: str | None
    output_truncated: bool
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float
    category: str | None
    judge_input_tokens: int | None = None
    judge_output_tokens: int | None = None
    judge_cost_usd: float | None = 0.0


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """Who holds the lease on a run's fingerprint: the live process writing that run.

    Attributes:
        fingerprint: the run settings' fingerprint (the lease exists before the run does).
        run_id: the run being written, once it is known.
        owner: a token unique to the holding process and attempt.
        host / pid: where the holder runs.
        command: the holder's command line, secrets redacted.
        acquired_at / expires_at: when it was taken, and when it lapses unless renewed.
    """

    fingerprint: str
    run_id: str | None
    owner: str
    host: str
    pid: int
    command: str | None
    acquired_at: datetime
    expires_at: datetime
