"""The judge's model: a provider asked through the model layer, shared by every judging call.

``JudgeModel.ask`` sends the judge prompt through ``evalstack.model`` (which owns the limits,
timeouts, transport retries, cache and cost), parses the reply with a caller-supplied parser,
and asks again a bounded number of times when the reply holds no usable verdict. A retry
after an unusable verdict uses a new seed and ``retry_temperature``, because asking a greedy
decoder the same question again gives the same answer. When every attempt fails it raises
``ScorerError`` carrying the replies, so the failure is stored as a judge error, never as a
score.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from evalstack.core import checks
from evalstack.core.errors import ConfigError, ProviderError, ScorerError
from evalstack.core.provider import ModelProvider, public_args
from evalstack.core.types import (
    MAX_TEMPERATURE,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    ModelOutput,
    StructuredOutput,
)
from evalstack.model.context import get_model
from evalstack.model.resolve import resolve_model
from evalstack.model.usage import JUDGE_ROLE, Usage
from evalstack.scorers.judge.verdict import VerdictError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: The model used as judge when none is named: the embedded model (weak, but always there).
DEFAULT_JUDGE = "local/smollm2"
# How much of each failed reply is kept with a judge error.
_KEEP_REPLY_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class JudgeReply(Generic[T_co]):
    """A parsed verdict and the facts recorded with it.

    Attributes:
        verdict: what the parser returned.
        text: the judge's raw reply.
        model: the judge's model spec (``openai/gpt-4o``).
        version: the model name as the provider reported it (``gpt-4o-2024-08-06``).
        attempts: judge calls made, retries included.
        input_tokens / output_tokens: usage summed over the attempts, when reported.
    """

    verdict: T_co
    text: str
    model: str
    version: str | None
    attempts: int
    input_tokens: int | None
    output_tokens: int | None


def content_key(*parts: str | None) -> str:
    """A key for what a judge call is about (template hash and texts), never the nonce."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8", "replace")
                          ).hexdigest()


class JudgeModel:
    """A judge model: a provider built lazily from a spec, asked through the model layer.

    Args:
        judge: a ``provider/model`` spec, or a provider object.
        judge_args: model arguments for a spec (``base_url=...``); secrets are never stored.
        max_attempts: replies asked for per verdict at most (>= 1): a reply without a
            usable verdict is asked again. Transport retries (429, 5xx, timeouts) are the
            model layer's, under the run's ``--max-retries``, ``--timeout`` and
            ``--retry-time``.
        max_tokens: the judge's output budget per call.
        temperature: the first attempt's temperature (0 = greedy).
        retry_temperature: the temperature of retries after an unusable verdict.
        concurrency: judge calls in flight at once at most (the run's ``--concurrency`` and
            the provider may impose fewer).
        seed: the seed of the first attempt; retry ``k`` uses ``seed + k``.
    """

    def __init__(
        self,
        judge: str | ModelProvider = DEFAULT_JUDGE,
        judge_args: dict[str, Any] | None = None,
        *,
        max_attempts: int = 3,
        max_tokens: int = 512,
        temperature: float = 0.0,
        retry_temperature: float = 0.7,
        concurrency: int = 4,
        seed: int = 0,
    ) -> None:
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(f"Judge max_attempts must be an integer >= 1; got {max_attempts!r}.")
        if not isinstance(max_tokens, int) or max_tokens < 16:
            raise ConfigError(f"Judge max_tokens must be an integer >= 16; got {max_tokens!r}.")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(f"Judge concurrency must be an integer >= 1; got {concurrency!r}.")
        self._spec = judge
        self._args = dict(judge_args or {})
        self.model = judge if isinstance(judge, str) else judge.name
        self.max_attempts = max_attempts
        self.max_tokens = max_tokens
        self.temperature = checks.in_range("the judge's temperature", temperature, 0,
                                           MAX_TEMPERATURE)
        self.retry_temperature = checks.in_range("the judge's retry_temperature",
                                                 retry_temperature, 0, MAX_TEMPERATURE,
                                                 example="0.7")
        self.seed = int(seed)
        self._provider: ModelProvider | None = None if isinstance(judge, str) else judge
        self._owned = isinstance(judge, str)
        self._concurrency = concurrency
        self._lock: asyncio.Lock | None = None

    def describe(self) -> dict[str, Any]:
        """The judge's model and non-secret arguments, as stored with a scorer's spec."""
        return {"model": self.model, "args": public_args(self._args)}

    async def provider(self) -> ModelProvider:
        """The provider, built (and prepared) on first use."""
        if self._provider is not None:
            return self._provider
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._provider is None:
                provider = resolve_model(str(self._spec), self._args)
                prepare = getattr(provider, "prepare", None)
                if prepare is not None:
                    await prepare()
                self._provider = provider
        return self._provider

    async def ask(
        self,
        messages: Sequence[dict[str, str]] | Callable[[int], Sequence[dict[str, str]]],
        parse: Callable[[str], T],
        structured: StructuredOutput | None = None,
        key: str | None = None,
    ) -> JudgeReply[T]:
        """Ask the judge and parse its reply, asking again within ``max_attempts``.

        Each call goes through the model layer (``get_model``): it obeys the run's (or the
        command's) limits, timeouts and retries, is cached there, and its tokens and cost are
        counted as the ``judge`` role's. A reply without a usable verdict is asked again with
        a new seed and ``retry_temperature``.

        Args:
            messages: the judge prompt, or a function of the attempt number (1-based) that
                builds a fresh prompt per attempt (a new nonce each time).
            parse: turns the reply into a verdict or raises ``VerdictError``.
            structured: the reply's required shape, for providers that enforce one.
            key: what the call is about (``content_key(...)``); the first attempt's reply is
                cached under it (a cached reply that parses is reused, ``attempts == 0``).

        Raises:
            ScorerError: no attempt gave a usable verdict; ``details`` holds the judge model,
                the reason and the (shortened) replies.
        """
        model = get_model(await self.provider(), role=JUDGE_ROLE, concurrency=self._concurrency)
        replies: list[str] = []
        reasons: list[str] = []
        used = Usage()

        def parses(output: ModelOutput) -> bool:  # only a usable verdict is cached
            try:
                parse(output.text)
            except VerdictError:
                return False
            return True

        for attempt in range(1, self.max_attempts + 1):
            prompt = messages(attempt) if callable(messages) else messages
            request = self._request(prompt, attempt, bool(reasons), structured)
            try:
                # Every attempt is looked up and kept under the same key: the reply that
                # parsed is the one a repeated run finds.
                output = await model.generate(request, usage=used,
                                              key=self._cache_payload(key, structured),
                                              refresh=bool(replies), keep=parses)
            except ProviderError as exc:
                reasons.append(f"call: {exc}")
                break  # the model layer has already retried what can be retried
            replies.append(output.text)
            try:
                verdict = parse(output.text)
            except VerdictError as exc:
                reasons.append(f"verdict: {exc.reason}")
                continue
            return JudgeReply(verdict, output.text, self.model, used.model_version,
                              used.attempts, used.input_tokens, used.output_tokens)
        raise ScorerError(
            f"judge {self.model} gave no usable verdict in {len(reasons)} attempt(s): "
            f"{reasons[-1] if reasons else 'no attempt made'}",
            {
                "judge": {"model": self.model, "version": used.model_version},
                "reasons": reasons,
                "replies": [r[:_KEEP_REPLY_CHARS] for r in replies],
            },
        )

    def _request(self, prompt: Sequence[dict[str, str]], attempt: int, after_failure: bool,
                 structured: StructuredOutput | None) -> GenerateRequest:
        config = GenerateConfig(
            max_tokens=self.max_tokens,
            temperature=self.retry_temperature if after_failure else self.temperature,
            seed=self.seed + attempt - 1,
            structured=structured,
        )
        return GenerateRequest(
            tuple(ChatMessage(m["role"], m["content"]) for m in prompt),  # type: ignore[arg-type]
            config,
        )

    def _cache_payload(self, key: str | None,
                       structured: StructuredOutput | None) -> dict[str, Any] | None:
        """The cache key of the first attempt: what the call is about and the judge's
        settings, never the prompt's nonce."""
        if key is None:
            return None
        return {"op": "judge", "key": key, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "seed": self.seed,
                "structured": None if structured is None else structured.to_dict()}

    def run_notes(self) -> dict[str, Any]:
        """What the judge's provider negotiated with its server (e.g. the structured form)."""
        notes = getattr(self._provider, "run_notes", None)
        return dict(notes()) if callable(notes) else {}

    async def aclose(self) -> None:
        """Close the provider if this object built it; the next call starts afresh."""
        if self._provider is not None and self._owned:
            await self._provider.aclose()
            self._provider = None
        self._lock = None  # bound to this event loop; a later run makes a new one
