"""What calls to a model used: attempts, tokens, cost and latency, by role.

Every call adds to a ``Usage``: the caller's own when it passes one, and the current
sample's (``sample_usage``) for its role, so a judge's tokens and cost land on the sample
it scored without the judge knowing about samples.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType

#: The role of the model under evaluation; judges use ``"judge"``.
MODEL_ROLE = "model"
JUDGE_ROLE = "judge"


@dataclass(slots=True)
class Usage:
    """Usage summed over calls.

    Attributes:
        attempts: requests sent, retries included (cache hits send none).
        input_tokens / output_tokens: as reported by the provider, ``None`` if never reported.
        cost: USD, from the price table.
        cached: whether any call was answered from the response cache.
        latency_ms: milliseconds spent in successful attempts, or ``None``.
        model_version: the model name the provider last reported.
    """

    attempts: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float = 0.0
    cached: bool = False
    latency_ms: float | None = None
    model_version: str | None = None

    def add_tokens(self, input_tokens: int | None, output_tokens: int | None,
                   cost: float) -> None:
        """Count one successful call's tokens and cost."""
        if input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + input_tokens
        if output_tokens is not None:
            self.output_tokens = (self.output_tokens or 0) + output_tokens
        self.cost += cost


_SAMPLE: ContextVar[dict[str, Usage] | None] = ContextVar("evalstack_sample_usage",
                                                          default=None)


def sample_usage(role: str) -> Usage | None:
    """The current sample's usage for ``role``, or ``None`` outside a sample."""
    by_role = _SAMPLE.get()
    if by_role is None:
        return None
    found = by_role.get(role)
    if found is None:
        found = by_role[role] = Usage()
    return found


class collect_sample_usage:  # noqa: N801 - used as a function, ``with collect_sample_usage()``
    """Collect, by role, the usage of every call made inside the block (one sample's).

    A class rather than a ``@contextmanager`` generator: the sample loop enters one per
    sample, and the generator's machinery showed in profiles.

    Examples:
        >>> with collect_sample_usage() as used:
        ...     sample_usage("judge").add_tokens(10, 2, 0.0)
        >>> used["judge"].input_tokens
        10
    """

    __slots__ = ("_by_role", "_token")

    def __init__(self) -> None:
        self._by_role: dict[str, Usage] = {}
        self._token: Token[dict[str, Usage] | None] | None = None

    def __enter__(self) -> dict[str, Usage]:
        self._token = _SAMPLE.set(self._by_role)
        return self._by_role

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            _SAMPLE.reset(self._token)
            self._token = None
