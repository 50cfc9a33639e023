"""Content-addressed response cache.

The key is a sha256 over the provider's identity (provider, endpoint, model, non-secret
arguments), the operation, every generation parameter, the full input and the epoch, so two
models never share an entry and repeats of a sample stay independent. Only successful
responses are cached; an error never is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any, Protocol

from evalstack.core.types import (
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
)


class CacheBackend(Protocol):
    def cache_get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]: ...


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
