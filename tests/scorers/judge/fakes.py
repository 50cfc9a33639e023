"""A judge model for tests: a Python function of the prompt, behind the provider protocol."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from evalstack.core.types import Capability, GenerateConfig, GenerateRequest, ModelOutput

_BLOCK = re.compile(r"<<<(?P<label>[A-Z_0-9]+)-(?P<nonce>[0-9a-f]+)>>>\n(?P<body>.*?)\n"
                    r"<<<END-(?P=label)-(?P=nonce)>>>", re.DOTALL)


def blocks(request: GenerateRequest) -> dict[str, str]:
    """The data blocks of a judge prompt, by label (ANSWER, QUESTION, RESPONSE_1, ...)."""
    return {m["label"]: m["body"] for m in _BLOCK.finditer(request.messages[-1].content)}


def verdict(scores: dict[str, int], rationale: str = "because") -> str:
    return json.dumps({"rationale": rationale, "scores": scores})


def all_scores(value: int, names: tuple[str, ...] = ("accuracy", "completeness", "clarity")
               ) -> str:
    return verdict({n: value for n in names})


class FunctionJudge:
    """Replies with ``fn(request)``; records every request."""

    capabilities = frozenset({Capability.GENERATE})
    max_concurrency: int | None = None

    def __init__(self, fn: Callable[[GenerateRequest], str], name: str = "test/judge",
                 version: str = "judge-v1") -> None:
        self.fn = fn
        self.name = name
        self.version = version
        self.requests: list[GenerateRequest] = []
        self.closed = False

    def identity(self) -> dict[str, Any]:
        return {"provider": "test", "model": self.name}

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        self.requests.append(request)
        return ModelOutput(self.fn(request), 10, 5, self.version, "stop")

    async def loglikelihood(self, request: Any) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True

    @property
    def configs(self) -> list[GenerateConfig]:
        return [r.config for r in self.requests]
