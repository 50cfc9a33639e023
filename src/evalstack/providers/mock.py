"""The mock provider: scripted outputs, echo, injected latency, errors and 429s, no network.

Model specs:
    ``mock/echo``                 reply with the last user message
    ``mock/constant``             reply with ``text`` (model arg, default "")
    ``mock/scripted``             reply with ``outputs`` in turn (a list, cycled), or look the
                                  prompt up in ``replies`` (a mapping, or a JSON file path)
    ``mock/error``                every call fails with ``status`` (default 500)

Model args for every mode: ``latency_ms``, ``fail_rate`` (0..1), ``fail_status`` (429, 500,
400, or 0 for a timeout), ``retry_after`` (seconds, sent with 429s), ``seed``,
``loglikelihood`` (declare log-likelihood; scores are a deterministic hash of the text).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
from pathlib import Path
from typing import Any

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.text import cap_text
from evalstack.core.types import (
    Capability,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)

MODES = ("echo", "constant", "scripted", "error")
_ARGS = {
    "text", "outputs", "replies", "status", "latency_ms", "fail_rate", "fail_status",
    "retry_after", "seed", "loglikelihood", "max_output_chars",
}


class MockProvider:
    """A scripted model for tests and demos (see the module docstring for the specs).

    Attributes:
        calls: how many requests it has answered or failed, for assertions.
    """

    max_concurrency: int | None = None

    def __init__(self, model: str, **args: Any) -> None:
        if model not in MODES:
            import difflib

            close = difflib.get_close_matches(model, MODES, n=1)
            hint = f" Did you mean mock/{close[0]}?" if close else ""
            raise ConfigError(
                f"Unknown mock model {model!r}; expected one of {', '.join(MODES)}.{hint}"
            )
        unknown = set(args) - _ARGS
        if unknown:
            raise ConfigError(
                f"Unknown model argument(s) for mock/{model}: {', '.join(sorted(unknown))}. "
                f"Accepted: {', '.join(sorted(_ARGS))}."
            )
        self.mode = model
        self.name = f"mock/{model}"
        self.args = args
        self.latency = float(args.get("latency_ms", 0)) / 1000.0
        self.fail_rate = float(args.get("fail_rate", 0.0))
        self.fail_status = int(args.get("fail_status", 500))
        self.retry_after = args.get("retry_after")
        self._rng = random.Random(args.get("seed", 0))
        self.max_output_chars = int(args.get("max_output_chars", 1_000_000))
        outputs = args.get("outputs")
        self._outputs = itertools.cycle([str(o) for o in outputs]) if outputs else None
        replies = args.get("replies")
        if isinstance(replies, str):
            replies = json.loads(Path(replies).read_text(encoding="utf-8"))
        self._replies: dict[str, str] | None = replies
        caps = {Capability.GENERATE}
        if args.get("loglikelihood"):
            caps.add(Capability.LOGLIKELIHOOD)
        self.capabilities = frozenset(caps)
        self.calls = 0

    def identity(self) -> dict[str, Any]:
        return {"provider": "mock", "model": self.mode, "args": public_args(self.args)}

    async def _maybe_fail(self) -> None:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.mode == "error":
            status = int(self.args.get("status", 500))
            raise ProviderError(
                f"mock error {status}", retryable=status == 429 or status >= 500, status=status
            )
        if self.fail_rate and self._rng.random() < self.fail_rate:
            if self.fail_status == 0:
                raise ProviderError("mock timeout", retryable=True)
            retryable = self.fail_status in (408, 429) or self.fail_status >= 500
            after = float(self.retry_after) if self.retry_after is not None else None
            raise ProviderError(
                f"mock HTTP {self.fail_status}", retryable=retryable, retry_after=after,
                status=self.fail_status,
            )

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        await self._maybe_fail()
        prompt = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        if self.mode == "echo":
            text = prompt
        elif self.mode == "constant":
            text = str(self.args.get("text", ""))
        elif self._replies is not None:
            text = self._replies.get(prompt, "")
        elif self._outputs is not None:
            text = next(self._outputs)
        else:
            text = ""
        capped, truncated = cap_text(text, self.max_output_chars)
        return ModelOutput(
            text=capped,
            input_tokens=sum(len(m.content.split()) for m in request.messages),
            output_tokens=len(text.split()),
            model_version=self.name,
            finish_reason="stop",
            truncated=truncated,
        )

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        if Capability.LOGLIKELIHOOD not in self.capabilities:
            raise ProviderError(f"{self.name} was not created with loglikelihood=true")
        await self._maybe_fail()
        scores = []
        for cont in request.continuations:
            digest = hashlib.sha256((request.context + "\x00" + cont).encode()).digest()
            scores.append(-1.0 - digest[0] / 64.0)
        return LoglikelihoodOutput(tuple(scores), input_tokens=len(request.context.split()))

    async def aclose(self) -> None:
        return None
