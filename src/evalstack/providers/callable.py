"""The ``python`` provider: any sync or async Python callable, for a user's own pipeline.

``python/<module>:<function>`` (or ``python/<path/to/file.py>:<function>``). The function is
called with the prompt text as its single positional argument; if it has a parameter named
``messages``, it gets the conversation as a list of ``{"role", "content"}`` dicts instead.
It returns a string, or a dict with ``text`` (or ``output``) and optionally:
``input_tokens``/``output_tokens`` (or ``usage: {input_tokens, output_tokens}``), ``contexts``
(the retrieved documents: strings, or objects with ``id``, ``text``, ``score``),
``tool_calls`` (a list of objects), ``cost_usd`` and ``trace_id``. What it returns besides the
text is stored with the sample. Sync functions run in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.text import cap_text
from evalstack.core.types import Capability, GenerateRequest, ModelOutput
from evalstack.providers.pipeline import pipeline_output, tokens_from


def load_callable(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``path/to/file.py:function``."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(
            f"python provider expects 'python/<module>:<function>'; received 'python/{spec}'."
        )
    try:
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise ConfigError(f"python provider: file not found: {path}.")
            mod_name = f"evalstack_user_{abs(hash(path.resolve()))}"
            module_spec = importlib.util.spec_from_file_location(mod_name, path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[mod_name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ImportError as exc:
        raise ConfigError(f"python provider: cannot import {target!r}: {exc}.") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"python provider: {target!r} has no callable named {attr!r}.")
    checked: Callable[..., Any] = fn
    return checked


class CallableProvider:
    """Wraps a user's function as a model (see the module docstring)."""

    capabilities = frozenset({Capability.GENERATE, Capability.CHAT})

    def __init__(self, model: str, **args: Any) -> None:
        self.name = f"python/{model}"
        self.spec = model
        self.args = args
        self.fn = load_callable(model)
        self.is_async = inspect.iscoroutinefunction(self.fn)
        params = inspect.signature(self.fn).parameters
        self.wants_messages = "messages" in params
        self.max_concurrency: int | None = args.get("max_concurrency")
        self.max_output_chars = int(args.get("max_output_chars", 1_000_000))
        self._extra = {k: v for k, v in args.items()
                       if k not in ("max_concurrency", "max_output_chars") and k in params}

    def identity(self) -> dict[str, Any]:
        return {"provider": "python", "model": self.spec, "args": public_args(self.args)}

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        if self.wants_messages:
            call_args: tuple[Any, ...] = ()
            kwargs = {"messages": [m.to_dict() for m in request.messages], **self._extra}
        else:
            prompt = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
            call_args, kwargs = (prompt,), dict(self._extra)
        try:
            if self.is_async:
                result = await self.fn(*call_args, **kwargs)
            else:
                result = await asyncio.to_thread(self.fn, *call_args, **kwargs)
        except ProviderError:
            raise
        except Exception as exc:  # the user's pipeline failed: record it against this sample
            raise ProviderError(f"{self.name} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, dict):
            result = {"text": result}
        text = result.get("text", result.get("output"))
        if not isinstance(text, str):
            raise ProviderError(
                f"{self.name} returned {type(text).__name__}; expected a string or a dict with "
                f"'text'.", retryable=False,
            )
        capped, truncated = cap_text(text, self.max_output_chars)
        in_tok, out_tok = self._tokens(result)
        pipeline = pipeline_output(
            {part: (f"key {part!r}", result.get(part))
             for part in ("contexts", "tool_calls", "cost_usd", "trace_id")},
            label=self.name, reply=result)
        return ModelOutput(capped, in_tok, out_tok, model_version=self.name, truncated=truncated,
                           pipeline=pipeline)

    def _tokens(self, result: dict[str, Any]) -> tuple[int | None, int | None]:
        usage = result.get("usage")
        source = usage if isinstance(usage, dict) else result
        where = "usage." if isinstance(usage, dict) else ""
        def read(k: str) -> int | None:
            return tokens_from(source.get(k), label=self.name, where=f"key {where}{k!r}",
                               reply=result)

        return read("input_tokens"), read("output_tokens")

    async def aclose(self) -> None:
        return None
