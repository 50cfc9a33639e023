"""Click options generated from ``RunConfig`` so the CLI and the API cannot drift apart.

Flags with a range use the checked types here (``FiniteFloat``, ``Proportion``,
``IntAtLeast``): a bad value is a ``ConfigError`` naming the flag, what it expects and what
it got, before anything runs (``evalstack.core.checks``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from evalstack.core import checks
from evalstack.runner.config import RunConfig

if TYPE_CHECKING:  # generic in the stubs of click 8.4+, a plain class at run time before
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


def flag_name(param: click.Parameter | None) -> str:
    """The name a user typed a parameter by: its longest ``--`` option, else its name."""
    if param is None:
        return "the value"
    long = [o for o in param.opts if o.startswith("--")]
    if long:
        return max(long, key=len)
    return param.opts[0] if param.opts else str(param.name)


class FiniteFloat(_ParamType):
    """A finite float in a range (each end closed unless open); NaN and infinities refused.

    Examples:
        >>> FiniteFloat(0, 2).convert("0.7", None, None)
        0.7
    """

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False,
                 what: str = "a finite number", example: str | None = None) -> None:
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        self.what, self.example = what, example

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        return checks.in_range(flag_name(param), value, self.low, self.high,
                               low_open=self.low_open, high_open=self.high_open,
                               what=self.what, example=self.example)


class Proportion(FiniteFloat):
    """A proportion in [0, 1] (an end excluded when open); ``2`` gets a "did you mean 0.02?".

    Examples:
        >>> Proportion().convert("0.02", None, None)
        0.02
    """

    name = "proportion"

    def __init__(self, *, low_open: bool = False, high_open: bool = False,
                 high: float = 1.0, what: str = "a proportion",
                 example: str | None = None) -> None:
        super().__init__(0.0, high, low_open=low_open, high_open=high_open, what=what,
                         example=example)


class IntAtLeast(_ParamType):
    """An integer of at least ``minimum``.

    Examples:
        >>> IntAtLeast(1).convert("3", None, None)
        3
    """

    name = "integer"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if self.minimum == 1:
            return checks.positive_int(flag_name(param), value)
        return checks.int_at_least(flag_name(param), value, self.minimum)


#: A significance level: strictly between 0 and 0.5 (``5`` is refused: "did you mean 0.05?").
ALPHA = FiniteFloat(0, 0.5, low_open=True, high_open=True, what="a significance level",
                    example="0.05")

# RunConfig fields exposed as flags, with their flag names; the help text comes from the model.
_FLAGS: dict[str, str] = {
    "limit": "--limit",
    "epochs": "--epochs",
    "concurrency": "--concurrency",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    "retry_time": "--retry-time",
    "error_budget": "--error-budget",
    "resume": "--resume",
    "store": "--store",
    "max_output_chars": "--max-output-chars",
    "prices": "--prices",
}
# The checked type of each flag with a range; the others are strings.
_FLAG_TYPES: dict[str, _ParamType] = {
    "limit": IntAtLeast(1),
    "epochs": IntAtLeast(1),
    "concurrency": IntAtLeast(1),
    "rpm": FiniteFloat(0, low_open=True, what="a rate", example="60"),
    "tpm": FiniteFloat(0, low_open=True, what="a rate", example="100000"),
    "timeout": FiniteFloat(0, low_open=True, what="a number of seconds", example="120"),
    "retry_time": FiniteFloat(0, low_open=True, what="a number of seconds", example="300"),
    "max_retries": IntAtLeast(0),
    "error_budget": Proportion(example="0.1"),
    "max_output_chars": IntAtLeast(1),
}


def run_config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per exposed ``RunConfig`` field (and ``--no-cache``, ``--no-wait``)."""
    fields = RunConfig.model_fields
    for name in reversed(list(_FLAGS)):
        info = fields[name]
        default = info.default
        help_text = info.description or ""
        if default is not None:
            help_text += f" [default: {default}]"
        envvar = "EVALSTACK_STORE" if name == "store" else None
        fn = click.option(_FLAGS[name], name, type=_FLAG_TYPES.get(name, click.STRING),
                          default=None, help=help_text, envvar=envvar,
                          show_envvar=envvar is not None)(fn)
    fn = click.option("--no-cache", "no_cache", is_flag=True,
                      help="Do not reuse stored responses (they are still written).")(fn)
    fn = click.option("--no-wait", "no_wait", is_flag=True,
                      help="If another process is writing the same run, stop at once (exit 8) "
                           "instead of waiting for it to finish.")(fn)
    return fn


#: The flags every command that calls models shares with ``run``: limits and retries.
MODEL_CALL_FLAGS = ("concurrency", "rpm", "tpm", "timeout", "max_retries", "retry_time")


def model_call_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``run``'s limit and retry flags (``--rpm``, ``--max-retries``, ...) for a command that
    calls models outside a run (``judge validate``, ``judge pairwise``)."""
    fields = RunConfig.model_fields
    for name in reversed(MODEL_CALL_FLAGS):
        info = fields[name]
        help_text = (info.description or "") + f" [default: {info.default}]"
        fn = click.option(_FLAGS[name], name, type=_FLAG_TYPES.get(name, click.STRING),
                          default=None, help=help_text)(fn)
    return fn


def build_run_config(values: dict[str, Any], **extra: Any) -> RunConfig:
    """A ``RunConfig`` from the parsed flags (unset flags keep the model's defaults)."""
    given = {k: values.pop(k) for k in list(_FLAGS) if k in values}
    given = {k: v for k, v in given.items() if v is not None}
    if values.pop("no_cache", False):
        given["cache"] = False
    if values.pop("no_wait", False):
        given["wait"] = False
    from pydantic import ValidationError

    from evalstack.core.errors import ConfigError

    try:
        return RunConfig(**given, **extra)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_FLAGS.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"Invalid option: {problems}.") from None
