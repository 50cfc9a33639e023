"""Content-addressed response cache.

The key is a sha256 over the provider's identity (provider, endpoint, model, non-secret
arguments), the operation, every generation parameter, the full input and the epoch, so two
models never share an entry and repeats of a sample stay independent. Only successful
responses are cached; an error never is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from evalstack.core.types import (
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)


def identity_prefix(identity: dict[str, Any]) -> bytes:
    """The canonical bytes of a provider identity, computed once per provider."""
    return json.dumps(identity, sort_keys=True, default=str).encode("utf-8")


def generate_key(prefix: bytes, request: GenerateRequest, epoch: int) -> str:
    h = hashlib.sha256(prefix)
    payload = {
        "op": "generate",
        "epoch": epoch,
        "messages": [[m.role, m.content] for m in request.messages],
        "config": request.config.to_dict(),
    }
    h.update(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8", "replace"))
    return h.hexdigest()


def loglikelihood_key(prefix: bytes, request: LoglikelihoodRequest) -> str:
    h = hashlib.sha256(prefix)
    payload = {"op": "loglikelihood", "context": request.context,
               "continuations": list(request.continuations)}
    h.update(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8", "replace"))
    return h.hexdigest()


def output_to_json(output: ModelOutput | LoglikelihoodOutput) -> dict[str, Any]:
    data = asdict(output)
    data["_type"] = "generate" if isinstance(output, ModelOutput) else "loglikelihood"
    return data


def output_from_json(data: dict[str, Any]) -> ModelOutput | LoglikelihoodOutput:
    data = dict(data)
    kind = data.pop("_type", "generate")
    if kind == "loglikelihood":
        greedy = data.get("is_greedy")
        return LoglikelihoodOutput(
            tuple(data["logprobs"]), tuple(greedy) if greedy is not None else None,
            data.get("input_tokens"),
        )
    if data.get("logprobs") is not None:
        data["logprobs"] = tuple(data["logprobs"])
    return ModelOutput(**data)


class BatchedCacheReader:
    """Coalesces the cache look-ups made in one event-loop turn into one store query.

    Many samples are in flight at once; looking each key up on its own costs a database round
    trip per request, which dominated a fast run. Look-ups queue up and are answered together
    at the end of the current loop iteration.
    """

    def __init__(self, fetch: Callable[[list[str]], dict[str, dict[str, Any]]]) -> None:
        self._fetch = fetch
        self._pending: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self.queries = 0

    async def get(self, key: str) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.setdefault(key, []).append(future)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, {}
        try:
            found = self._fetch(list(batch))
            self.queries += 1
        except Exception as exc:  # every waiter sees the store's error
            for futures in batch.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
            return
        for key, futures in batch.items():
            value = found.get(key)
            for f in futures:
                if not f.done():
                    f.set_result(value)
