"""The tree of errors evalstack raises.

::

    EvalstackError              base class
    ├── UserError               bad input the user can fix; printed without a traceback (exit 2)
    │   ├── ConfigError         a flag, model argument or eval-file field is wrong (exit 2)
    │   ├── UnknownNameError    unknown task, provider or scorer, with did-you-mean (exit 2)
    │   ├── DataError           a malformed dataset file; names file:line and field (exit 3)
    │   ├── EmptyDatasetError   the dataset has no samples (exit 4)
    │   ├── CapabilityError     the task needs what the provider lacks (exit 2)
    │   ├── MissingDependencyError  an optional SDK is missing; names the extra (exit 5)
    │   ├── StoreError          the store or an output file can't be opened or written: names
    │   │                       the path, the cause and the fix; runs stay resumable (exit 7)
    │   └── RunBusyError        another live process holds the run's lease (exit 8)
    ├── ProviderError           one model call failed; ``retryable`` says if a retry may help
    ├── RunFailedError          the run's error budget was exceeded (exit 6)
    └── InterruptedRunError     Ctrl-C; the run is stored and resumable (exit 130)
        └── TerminatedRunError  SIGTERM, handled as Ctrl-C (exit 143)

Every message says what was expected, what was received, and how to fix it.
"""

from __future__ import annotations


class EvalstackError(Exception):
    """Base class of every error evalstack raises on purpose."""

    exit_code: int = 1


class UserError(EvalstackError):
    """An error caused by input the user can fix; printed without a traceback."""

    exit_code = 2


class ConfigError(UserError):
    """A flag, model argument, or eval-file field is wrong."""

    exit_code = 2


class UnknownNameError(UserError):
    """A task, provider, or scorer name is not registered."""

    exit_code = 2

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind, self.name = kind, name
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(sorted(known)[:30])
        super().__init__(f"Unknown {kind} {name!r}.{hint} Known {kind}s: {listing}.")


class DataError(UserError):
    """A dataset file is malformed: the message names the file, the line and the field."""

    exit_code = 3


class EmptyDatasetError(UserError):
    """The dataset (after filters and ``--limit``) has no samples."""

    exit_code = 4


class CapabilityError(UserError):
    """The task needs a capability (such as log-likelihood) that the provider does not offer."""

    exit_code = 2


class MissingDependencyError(UserError):
    """An optional dependency is missing; the message names the extra that installs it."""

    exit_code = 5

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package {package!r}, which is not installed. "
            f"Install it with: pip install 'evalstack[{extra}]'"
        )


class StoreError(UserError):
    """The store (or a file evalstack writes) cannot be opened, read or written.

    The message names the path, the cause (missing, read-only, locked, disk full, not an
    evalstack store, ...) and the fix. A run interrupted by one is left resumable.
    """

    exit_code = 7


class RunBusyError(UserError):
    """Another live process is writing the same run (it holds the run's lease)."""

    exit_code = 8


class ProviderError(EvalstackError):
    """A model call failed.

    Attributes:
        retryable: whether retrying the same request may succeed (429, 5xx, timeouts,
            connection errors).
        retry_after: seconds the server asked us to wait, if it said so.
        status: the HTTP status, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class ScorerError(EvalstackError):
    """A scorer could not score a sample (a judge gave no usable verdict, say).

    The runner records it as that score's error and the sample's error, never as a score,
    keeps the other scorers' scores, and retries the sample when the run is resumed.

    Attributes:
        details: JSON-safe facts stored with the error (the judge model, its replies, ...).
    """

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})


class RunFailedError(EvalstackError):
    """The run stopped because more samples errored than the error budget allows."""

    exit_code = 6


class InterruptedRunError(EvalstackError):
    """The run was interrupted (Ctrl-C); what finished is stored and the run can be resumed."""

    exit_code = 130


class TerminatedRunError(InterruptedRunError):
    """The run got SIGTERM (CI runners, systemd, Kubernetes, ``timeout``); stored, resumable."""

    exit_code = 143


def validation_problems(exc: object, prefix: str = "") -> str:
    """A pydantic ``ValidationError`` as one line: ``loc: message; loc: message``.

    Examples:
        >>> from pydantic import BaseModel, ValidationError
        >>> class M(BaseModel):
        ...     n: int
        >>> try:
        ...     M(n="x")
        ... except ValidationError as e:
        ...     print(validation_problems(e))
        n: Input should be a valid integer, unable to parse string as an integer
    """
    return "; ".join(
        f"{prefix}{'.'.join(str(x) for x in e['loc']) or '(top level)'}: {e['msg']}"
        for e in exc.errors()  # type: ignore[attr-defined]
    )
