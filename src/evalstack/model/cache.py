"""Content-addressed response cache.

The key covers the provider's identity (provider, endpoint, model, non-secret arguments),
the operation, every generation parameter, the full input and the epoch, so two models never
share an entry and repeats of a sample stay independent. It is 64 hex characters: 16 from a
sha256 of the identity, then 48 from a sha256 of identity and request, so the store can tell
cheaply whether a model has any cached responses at all. Only successful responses are
cached; an error never is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from evalstack.core.types import (
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    PipelineOutput,
)

# What ``json.dumps(payload, sort_keys=True, ensure_ascii=False)`` uses, built once: dumps
# with any keyword builds a new encoder per call, which showed in profiles of fast runs.
_KEY_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_LIST_JSON = json.JSONEncoder(ensure_ascii=False)


class KeySpace:
    """Computes cache keys for one provider identity."""

    def __init__(self, identity: dict[str, Any], *, with_fields: bool = False) -> None:
        #: Whether requests' sample fields are part of the key (a provider that reads them).
        self.with_fields = with_fields
        encoded = json.dumps(identity, sort_keys=True, default=str).encode("utf-8")
        self.prefix = hashlib.sha256(encoded).hexdigest()[:16]
        self._base = hashlib.sha256(encoded)
        # The JSON of the last generation config seen: every sample of a task shares one.
        self._config: GenerateConfig | None = None
        self._config_json = ""

    def key(self, payload: dict[str, Any]) -> str:
        """The key of any JSON-able request description under this identity."""
        return self._digest(_KEY_JSON.encode(payload))

    def _digest(self, text: str) -> str:
        h = self._base.copy()
        h.update(text.encode("utf-8", "replace"))
        return self.prefix + h.hexdigest()[:48]

    def generate(self, request: GenerateRequest, epoch: int) -> str:
        """``key({"op": "generate", "epoch": ..., "messages": ..., "config": ...})``, with
        the JSON written in that sorted key order directly (the config's encoded once)."""
        config = request.config
        if config is not self._config:
            self._config_json = _KEY_JSON.encode(config.to_dict())
            self._config = config
        messages = _LIST_JSON.encode([[m.role, m.content] for m in request.messages])
        epoch_json = repr(epoch) if type(epoch) is int else _KEY_JSON.encode(epoch)
        fields = ""
        if self.with_fields and request.sample is not None:
            fields = f'"fields": {_KEY_JSON.encode(request.sample.request_fields())}, '
        return self._digest(f'{{"config": {self._config_json}, "epoch": {epoch_json}, '
                            f'{fields}"messages": {messages}, "op": "generate"}}')

    def loglikelihood(self, request: LoglikelihoodRequest) -> str:
        return self.key({"op": "loglikelihood", "context": request.context,
                          "continuations": list(request.continuations)})


_FIELDS: dict[type, tuple[str, ...]] = {}


def output_to_json(output: ModelOutput | LoglikelihoodOutput) -> dict[str, Any]:
    # field names rather than asdict(): asdict deep-copies, which showed in profiles
    kind = type(output)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(output))
    data = {name: getattr(output, name) for name in names}
    if isinstance(output, ModelOutput):
        data["_type"] = "generate"
        if output.pipeline is None:
            del data["pipeline"]  # so a plain model's entries read as they always did
        else:
            data["pipeline"] = output.pipeline.to_dict()
    else:
        data["_type"] = "loglikelihood"
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
    if data.get("pipeline") is not None:
        data["pipeline"] = PipelineOutput.from_dict(data["pipeline"])
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


class StoreCache:
    """A store's response table as a ``ResponseCache``.

    Look-ups made in one event-loop turn go to the store as one query; writes go to
    ``write`` (a run's batched writer, so responses are stored with their samples) or, by
    default, straight to the store. ``read=False`` skips look-ups (nothing can be cached yet).
    """

    def __init__(self, store: Any, *,
                 write: Callable[[str, dict[str, Any]], None] | None = None,
                 read: bool = True) -> None:
        self._reader = BatchedCacheReader(store.cache_get_many) if read else None
        self._store = store
        self._write = write

    async def get(self, key: str) -> dict[str, Any] | None:
        return None if self._reader is None else await self._reader.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._write is not None:
            self._write(key, value)
        else:
            self._store.cache_put_many([(key, value)])
