"""Hot in-memory value types: samples, requests to models, and their outputs.

These are frozen, slotted dataclasses because a run holds many of them at once.
Everything that is serialized (configs, results) is a pydantic model in ``results.py``.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat conversation."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Sample:
    """One item of a dataset.

    Attributes:
        id: stable identifier, unique within the dataset.
        input: a prompt string, or a tuple of chat messages.
        target: the expected answer; several acceptable answers as a tuple.
        choices: answer options for multiple-choice tasks; ``target`` is then the correct
            option's letter (``"A"``) or its text.
        metadata: free-form fields; ``metadata["category"]`` groups results.

    Examples:
        >>> Sample(id="q1", input="2+2=", target="4", metadata={"category": "math"}).category
        'math'
    """

    id: str
    input: str | tuple[ChatMessage, ...]
    target: str | tuple[str, ...] = ""
    choices: tuple[str, ...] | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def category(self) -> str | None:
        value = self.metadata.get("category")
        return None if value is None else str(value)

    @property
    def targets(self) -> tuple[str, ...]:
        """The acceptable answers as a tuple (one element for a single target)."""
        return (self.target,) if isinstance(self.target, str) else self.target

    def input_text(self) -> str:
        """The input as plain text (the last user message for chat input)."""
        if isinstance(self.input, str):
            return self.input
        users = [m.content for m in self.input if m.role == "user"]
        return users[-1] if users else ""

    def request_fields(self) -> dict[str, Any]:
        """What a pipeline target may build its request from: the metadata, ``id`` and
        ``input`` (the text; chat input as a list of ``{role, content}``). Never the target.

        Examples:
            >>> Sample("q1", "2+2?", "4", metadata={"topic": "sums"}).request_fields()
            {'topic': 'sums', 'id': 'q1', 'input': '2+2?'}
        """
        value: Any = (self.input if isinstance(self.input, str)
                      else [m.to_dict() for m in self.input])
        return {**self.metadata, "id": self.id, "input": value}


class Capability(enum.StrEnum):
    """What a provider can do; a task declares which of these it needs."""

    GENERATE = "generate"
    LOGLIKELIHOOD = "loglikelihood"
    #: The model takes a conversation and answers as an assistant (a chat template or a chat
    #: API), rather than continuing raw text. Tasks with a chat form pick it for such models.
    CHAT = "chat"
    #: Per-token log-probabilities of a text and each position's full next-token
    #: distribution summary (mean and variance of log p over the vocabulary): Min-K% Prob and
    #: Min-K%++ membership scores. Only in-process models (llama.cpp, transformers) offer it.
    TOKEN_SCORES = "token_scores"


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """A constraint on the shape of the reply, for providers that can enforce one.

    OpenAI-compatible servers get ``json_schema`` as ``response_format`` (chat API); llama.cpp
    gets ``grammar`` (GBNF) when given, else the schema. Providers that cannot enforce either
    (Anthropic, transformers, mock) ignore it, so callers must still parse the reply
    tolerantly.

    Attributes:
        name: a short name for the schema (``verdict``), sent with ``response_format``.
        json_schema: the JSON Schema as JSON text (text keeps the config hashable).
        grammar: a llama.cpp GBNF grammar forcing the same shape, if any.

    Examples:
        >>> StructuredOutput("verdict", '{"type": "object"}').to_dict()["name"]
        'verdict'
    """

    name: str
    json_schema: str
    grammar: str | None = None

    def schema(self) -> dict[str, Any]:
        """The JSON Schema as a dict."""
        import json

        loaded = json.loads(self.json_schema)
        assert isinstance(loaded, dict)
        return loaded

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "json_schema": self.json_schema, "grammar": self.grammar}


#: The generation default every provider gets when nothing sets one (docs/models.md):
#: greedy decoding, so that the same weights score the same behind any provider.
DEFAULT_TEMPERATURE = 0.0
#: The reply length when neither the task nor the command line sets ``max_tokens``. Every
#: request carries one, so a request that times out cannot keep a server generating.
DEFAULT_MAX_TOKENS = 512
#: The highest temperature accepted (OpenAI's range is [0, 2]; Anthropic's [0, 1]).
MAX_TEMPERATURE = 2.0


@dataclass(frozen=True, slots=True)
class GenerateConfig:
    """Generation parameters; every field is part of the response-cache key.

    ``structured`` constrains the reply's shape where the provider supports it (see
    ``StructuredOutput``).
    """

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    structured: StructuredOutput | None = None

    def __post_init__(self) -> None:
        """Refuse settings no provider should be sent (NaN, a negative temperature, ...).

        Raises:
            ConfigError: naming the field, the range expected and the value received.

        Examples:
            >>> GenerateConfig(temperature=float("nan"))
            Traceback (most recent call last):
            ...
            evalstack.core.errors.ConfigError: expected temperature to be a finite number in \
[0, 2]; received nan. Pass a number such as 0.
        """
        from evalstack.core import checks

        if self.max_tokens is not None:
            checks.positive_int("max_tokens", self.max_tokens)
        if self.temperature is not None:
            checks.in_range("temperature", self.temperature, 0, MAX_TEMPERATURE)
        if self.top_p is not None:
            checks.proportion("top_p", self.top_p, low_open=True, example="1")

    def with_defaults(self) -> GenerateConfig:
        """This config with ``temperature`` and ``max_tokens`` filled in where unset.

        Examples:
            >>> c = GenerateConfig(max_tokens=16).with_defaults()
            >>> (c.temperature, c.max_tokens)
            (0.0, 16)
        """
        if self.temperature is not None and self.max_tokens is not None:
            return self
        return dataclasses.replace(
            self,
            temperature=DEFAULT_TEMPERATURE if self.temperature is None else self.temperature,
            max_tokens=DEFAULT_MAX_TOKENS if self.max_tokens is None else self.max_tokens,
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": list(self.stop),
            "seed": self.seed,
            "logprobs": self.logprobs,
        }
        if self.structured is not None:  # absent otherwise, so older cache keys still match
            d["structured"] = self.structured.to_dict()
        return d


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """A request to generate text from a conversation.

    Attributes:
        messages: the conversation.
        config: generation settings.
        sample: the sample the request is for, for a pipeline target whose request is built
            from its fields (``Sample.request_fields``, ``http/...``). Providers that do not
            declare ``uses_sample_fields`` ignore it, and its fields are part of the cache key
            only for those that do.
    """

    messages: tuple[ChatMessage, ...]
    config: GenerateConfig = GenerateConfig()
    sample: Sample | None = None

    @staticmethod
    def from_prompt(prompt: str, config: GenerateConfig = GenerateConfig()) -> GenerateRequest:
        return GenerateRequest((ChatMessage("user", prompt),), config)


@dataclass(frozen=True, slots=True)
class RetrievedDoc:
    """One document a pipeline retrieved for its answer (any field may be missing).

    Examples:
        >>> RetrievedDoc("d1", "Paris is in France.", 0.9).to_dict()
        {'id': 'd1', 'text': 'Paris is in France.', 'score': 0.9}
    """

    id: str | None = None
    text: str | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "score": self.score}


@dataclass(frozen=True, slots=True)
class PipelineOutput:
    """What a whole system (``http/...``, ``python/...``) returned besides its answer text.

    Attributes:
        contexts: the retrieved documents, best first, when the system reports them.
        tool_calls: the tool calls it made, as the JSON objects it returned.
        cost_usd: the cost it reported for this request.
        trace_id: its trace id (for example an OpenTelemetry trace), to find the spans.

    Examples:
        >>> out = PipelineOutput(contexts=(RetrievedDoc("d1"),), trace_id="abc")
        >>> PipelineOutput.from_dict(out.to_dict()) == out
        True
    """

    contexts: tuple[RetrievedDoc, ...] | None = None
    tool_calls: tuple[Mapping[str, Any], ...] | None = None
    cost_usd: float | None = None
    trace_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "contexts": None if self.contexts is None else [c.to_dict() for c in self.contexts],
            "tool_calls": None if self.tool_calls is None else [dict(t) for t in self.tool_calls],
            "cost_usd": self.cost_usd,
            "trace_id": self.trace_id,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> PipelineOutput:
        contexts = data.get("contexts")
        calls = data.get("tool_calls")
        return PipelineOutput(
            contexts=None if contexts is None else tuple(RetrievedDoc(**c) for c in contexts),
            tool_calls=None if calls is None else tuple(calls),
            cost_usd=data.get("cost_usd"),
            trace_id=data.get("trace_id"),
        )

    @property
    def context_ids(self) -> list[str]:
        """The retrieved documents' ids, in rank order (those without an id left out)."""
        return [c.id for c in self.contexts or () if c.id is not None]


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """What a provider returned for one generate request.

    Attributes:
        text: the generated text.
        input_tokens / output_tokens: usage, when the provider reports it.
        model_version: the model name as the provider reports it.
        finish_reason: ``stop``, ``length``, ...
        truncated: the text was cut to the configured output cap.
        logprobs: per-token log-probabilities when requested and offered.
        pipeline: what a pipeline target returned besides the text (retrieved documents,
            tool calls, its cost, a trace id); ``None`` for a plain model.
    """

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    model_version: str | None = None
    finish_reason: str | None = None
    truncated: bool = False
    logprobs: tuple[float, ...] | None = None
    pipeline: PipelineOutput | None = None


@dataclass(frozen=True, slots=True)
class LoglikelihoodRequest:
    """Score each continuation given a context: ``log P(continuation | context)``."""

    context: str
    continuations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoglikelihoodOutput:
    """One summed log-probability per continuation, and whether it is the greedy decode."""

    logprobs: tuple[float, ...]
    is_greedy: tuple[bool, ...] | None = None
    input_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TokenScoresRequest:
    """Score every token of ``text`` given its prefix (the first token given the start token)."""

    text: str


@dataclass(frozen=True, slots=True)
class TokenScores:
    """Per-token scores of a text under the model's next-token distributions.

    Attributes:
        tokens: the scored token ids (the text's tokens, without a start token).
        logprobs: ``log p(token_t | prefix)`` for each token.
        mean: ``mu_t = sum_z p(z) log p(z)`` of the distribution at each position.
        variance: ``sigma_t^2 = sum_z p(z) (log p(z) - mu_t)^2`` at each position.
        input_tokens: tokens read, for usage.
    """

    tokens: tuple[int, ...]
    logprobs: tuple[float, ...]
    mean: tuple[float, ...]
    variance: tuple[float, ...]
    input_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "logprobs": list(self.logprobs),
                "mean": list(self.mean), "variance": list(self.variance),
                "input_tokens": self.input_tokens}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenScores:
        return cls(tuple(int(t) for t in data["tokens"]),
                   tuple(float(x) for x in data["logprobs"]),
                   tuple(float(x) for x in data["mean"]),
                   tuple(float(x) for x in data["variance"]), data.get("input_tokens"))
