"""One decorator that records a component's name and arguments.

A scorer or solver factory decorated with ``@component("scorer")`` returns a callable that
carries a ``spec``: its registered name and the arguments it was built with. Every stored
score says which scorer, with which settings, produced it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TypeVar, overload

if TYPE_CHECKING:  # only for annotations: core.task and core.scorer import this module
    from evalstack.core.scorer import Score, Scorer, SyncScorer, TaskState
    from evalstack.core.task import Solver
    from evalstack.core.types import Sample

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")


@dataclass(frozen=True)
class ComponentSpec:
    """Which factory built a component, and with which arguments."""

    kind: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        if not self.args:
            return self.name
        inner = ",".join(f"{k}={v!r}" for k, v in sorted(self.args.items()))
        return f"{self.name}({inner})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "args": self.args}


class _ScorerDecorator(Protocol):
    """``@component("scorer")``: the factory's results become ``Scorer``s (they get a ``spec``).

    A factory annotated to return a synchronous scoring function builds ``SyncScorer``s.
    """

    @overload
    def __call__(
        self, factory: Callable[P, Callable[[Sample, TaskState], Score]]
    ) -> Callable[P, SyncScorer]: ...

    @overload
    def __call__(self, factory: Callable[P, object]) -> Callable[P, Scorer]: ...


@overload
def component(  # type: ignore[overload-overlap]  # a literal kind picks the precise overload
    kind: Literal["scorer"], name: str | None = None
) -> _ScorerDecorator: ...


@overload
def component(  # type: ignore[overload-overlap]  # a literal kind picks the precise overload
    kind: Literal["solver"], name: str | None = None
) -> Callable[[Callable[P, object]], Callable[P, Solver]]: ...


@overload
def component(kind: str, name: str | None = None) -> Callable[[F], F]: ...


def component(kind: str, name: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Mark a factory so that what it returns carries a ``spec`` (a ``ComponentSpec``).

    Examples:
        >>> @component("scorer")
        ... def always(value: float = 1.0):
        ...     return lambda sample, state: value
        >>> always(0.5).spec.label()
        'always(value=0.5)'
    """

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(factory)
        comp_name = name or factory.__name__

        @functools.wraps(factory)
        def build(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            explicit = dict(bound.arguments)
            built = factory(*args, **kwargs)
            spec = ComponentSpec(kind, comp_name, explicit)
            try:
                built.spec = spec
            except AttributeError:  # a builtin or slotted callable: wrap it
                inner = built

                def wrapper(*a: Any, **k: Any) -> Any:
                    return inner(*a, **k)

                wrapper.spec = spec  # type: ignore[attr-defined]
                built = wrapper
            return built

        build.component_kind = kind  # type: ignore[attr-defined]
        return build

    return decorate
