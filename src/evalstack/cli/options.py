"""Click options generated from ``RunConfig`` so the CLI and the API cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from evalstack.runner.config import RunConfig

# RunConfig fields exposed as flags, with their flag names; the help text comes from the model.
_FLAGS: dict[str, str] = {
    "limit": "--limit",
    "epochs": "--epochs",
    "concurrency": "--concurrency",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    "error_budget": "--error-budget",
    "resume": "--resume",
    "store": "--store",
    "max_output_chars": "--max-output-chars",
    "prices": "--prices",
}
_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING}


def run_config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per exposed ``RunConfig`` field (and ``--no-cache``)."""
    fields = RunConfig.model_fields
    for name in reversed(list(_FLAGS)):
        info = fields[name]
        annotation = info.annotation
        base = next((t for t in (int, float, str) if t == annotation or
                     (getattr(annotation, "__args__", None) and t in annotation.__args__)), str)
        default = info.default
        help_text = info.description or ""
        if default is not None:
            help_text += f" [default: {default}]"
        envvar = "EVALSTACK_STORE" if name == "store" else None
        fn = click.option(_FLAGS[name], name, type=_TYPES[base], default=None, help=help_text,
                          envvar=envvar, show_envvar=envvar is not None)(fn)
    fn = click.option("--no-cache", "no_cache", is_flag=True,
                      help="Do not reuse stored responses (they are still written).")(fn)
    return fn


def build_run_config(values: dict[str, Any], **extra: Any) -> RunConfig:
    """A ``RunConfig`` from the parsed flags (unset flags keep the model's defaults)."""
    given = {k: values.pop(k) for k in list(_FLAGS) if k in values}
    given = {k: v for k, v in given.items() if v is not None}
    if values.pop("no_cache", False):
        given["cache"] = False
    from pydantic import ValidationError

    from evalstack.core.errors import ConfigError

    try:
        return RunConfig(**given, **extra)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_FLAGS.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"Invalid option: {problems}.") from None
