"""The judge's model: one provider behind bounded retries, shared by every judging call.

``JudgeModel.ask`` sends the judge prompt, parses the reply with a caller-supplied parser,
and retries a bounded number of times when the call fails transiently (HTTP 429, 5xx,
timeouts) or when the reply holds no usable verdict. A retry after an unusable verdict uses a
new seed and ``retry_temperature``, because asking a greedy decoder the same question again
gives the same answer. When every attempt fails it raises ``ScorerError`` carrying the
replies, so the failure is stored as a judge error, never as a score.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from evalstack.core import checks
from evalstack.core.errors import ConfigError, ProviderError, ScorerError
from evalstack.core.provider import ModelProvider, public_args
from evalstack.core.types import (
    MAX_TEMPERATURE,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    StructuredOutput,
)
from evalstack.runner.retry import backoff_delay
from evalstack.scorers.judge.verdict import VerdictError

T = TypeVar("T")

#: The model used as judge when none is named: the embedded model (weak, but always there).
DEFAULT_JUDGE = "local/smollm2"
# How much of each failed reply is kept with a judge error.
_KEEP_REPLY_CHARS = 2_000
#: Seconds one verdict may take in all, attempts and backoffs included (as ``--retry-time``).
DEFAULT_RETRY_TIME = 300.0


@dataclass(frozen=True, slots=True)
class JudgeReply(Generic[T]):
    """A parsed verdict and the facts recorded with it.

    Attributes:
        verdict: what the parser returned.
        text: the judge's raw reply.
        model: the judge's model spec (``openai/gpt-4o``).
        version: the model name as the provider reported it (``gpt-4o-2024-08-06``).
        attempts: judge calls made, retries included.
        input_tokens / output_tokens: usage summed over the attempts, when reported.
    """

    verdict: T
    text: str
    model: str
    version: str | None
    attempts: int
    input_tokens: int | None
    output_tokens: int | None


class ReplyCache(Protocol):
    """Where judge replies that parsed are kept, so repeated work asks the judge nothing.

    ``get`` returns the reply text and the judge's reported version stored under a key, or
    ``None``; ``put`` stores them. ``StoreReplyCache`` keeps them in a store's response cache.
    """

    def get(self, key: str) -> tuple[str, str | None] | None: ...

    def put(self, key: str, text: str, version: str | None) -> None: ...


class StoreReplyCache:
    """Judge replies in a store's response cache (written at once: a crash loses nothing)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, key: str) -> tuple[str, str | None] | None:
        found = self.store.cache_get_many([key]).get(key)
        if not isinstance(found, dict) or not isinstance(found.get("judge_reply"), str):
            return None
        version = found.get("version")
        return found["judge_reply"], version if isinstance(version, str) else None

    def put(self, key: str, text: str, version: str | None) -> None:
        self.store.cache_put_many([(key, {"judge_reply": text, "version": version})])


def content_key(*parts: str | None) -> str:
    """A key for what a judge call is about (template hash and texts), never the nonce."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8", "replace")
                          ).hexdigest()


class JudgeModel:
    """A judge model: a provider built lazily from a spec, with bounded retries.

    Args:
        judge: a ``provider/model`` spec, or a provider object.
        judge_args: model arguments for a spec (``base_url=...``); secrets are never stored.
        max_attempts: judge calls per verdict at most (>= 1), retries included.
        max_tokens: the judge's output budget per call.
        temperature: the first attempt's temperature (0 = greedy).
        retry_temperature: the temperature of retries after an unusable verdict.
        concurrency: judge calls in flight at once (the provider may impose fewer).
        seed: the seed of the first attempt; retry ``k`` uses ``seed + k``.
        retry_time: seconds one verdict may take in all, every attempt and backoff included;
            when it runs out the verdict is a judge error (no call is left waiting).
        cache: keeps replies that parsed, keyed by the judge's identity, its settings and
            the call's content (``ask(..., key=...)``); errors are never cached.
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
        cache: ReplyCache | None = None,
        retry_time: float = DEFAULT_RETRY_TIME,
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
        self.retry_time = checks.in_range("the judge's retry_time", retry_time, 0,
                                          low_open=True, what="a number of seconds",
                                          example="300")
        self.seed = int(seed)
        self._provider: ModelProvider | None = None if isinstance(judge, str) else judge
        self._owned = isinstance(judge, str)
        self._concurrency = concurrency
        self._gate: asyncio.Semaphore | None = None
        self._lock: asyncio.Lock | None = None
        self._rng = random.Random(seed)
        self.cache = cache
        self._keys: Any = None

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
                from evalstack.runner.resolve import resolve_model

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
        """Ask the judge and parse its reply, retrying within ``max_attempts``.

        Args:
            messages: the judge prompt, or a function of the attempt number (1-based) that
                builds a fresh prompt per attempt (a new nonce each time).
            parse: turns the reply into a verdict or raises ``VerdictError``.
            structured: the reply's required shape, for providers that enforce one.
            key: what the call is about (``content_key(...)``); with a ``cache``, a reply
                that parsed before is reused (``attempts == 0``) and a new one is kept.

        Raises:
            ScorerError: no attempt gave a usable verdict; ``details`` holds the judge model,
                the reason and the (shortened) replies.
        """
        provider = await self.provider()
        cache_key = self._cache_key(provider, key, structured)
        if cache_key is not None and self.cache is not None:
            cached = self.cache.get(cache_key)
            if cached is not None:
                text, cached_version = cached
                try:
                    return JudgeReply(parse(text), text, self.model, cached_version, 0, None,
                                      None)
                except VerdictError:
                    pass  # parsing rules changed since: ask again
        if self._gate is None:
            limit = provider.max_concurrency or self._concurrency
            self._gate = asyncio.Semaphore(min(limit, self._concurrency))
        replies: list[str] = []
        reasons: list[str] = []
        tokens_in: int | None = None
        tokens_out: int | None = None
        version: str | None = None
        spent = 0.0  # seconds in calls and backoffs, bounded by retry_time
        for attempt in range(1, self.max_attempts + 1):
            if spent >= self.retry_time:  # after an unusable verdict: no time left to ask again
                reasons[-1] += self._gave_up(attempt - 1, spent)
                break
            prompt = messages(attempt) if callable(messages) else messages
            retry_after_verdict = bool(reasons) and reasons[-1].startswith("verdict:")
            config = GenerateConfig(
                max_tokens=self.max_tokens,
                temperature=self.retry_temperature if retry_after_verdict else self.temperature,
                seed=self.seed + attempt - 1,
                structured=structured,
            )
            request = GenerateRequest(
                tuple(ChatMessage(m["role"], m["content"]) for m in prompt),  # type: ignore[arg-type]
                config,
            )
            start = time.perf_counter()
            try:
                async with self._gate:
                    start = time.perf_counter()
                    async with asyncio.timeout(self.retry_time - spent):
                        output = await provider.generate(request)
            except TimeoutError:
                spent += time.perf_counter() - start
                reasons.append("call: timed out" + self._gave_up(attempt, spent))
                break
            except ProviderError as exc:
                spent += time.perf_counter() - start
                reasons.append(f"call: {exc}")
                if not exc.retryable or attempt == self.max_attempts:
                    break
                delay = backoff_delay(attempt, exc, base=0.5, cap=20.0, rng=self._rng)
                if spent + delay >= self.retry_time:
                    reasons[-1] += self._gave_up(attempt, spent)
                    break
                await asyncio.sleep(delay)
                spent += delay
                continue
            spent += time.perf_counter() - start
            version = output.model_version or version
            if output.input_tokens is not None:
                tokens_in = (tokens_in or 0) + output.input_tokens
            if output.output_tokens is not None:
                tokens_out = (tokens_out or 0) + output.output_tokens
            replies.append(output.text)
            try:
                verdict = parse(output.text)
            except VerdictError as exc:
                reasons.append(f"verdict: {exc.reason}")
                continue
            if cache_key is not None and self.cache is not None:
                self.cache.put(cache_key, output.text, output.model_version)
            return JudgeReply(verdict, output.text, self.model, version, attempt,
                              tokens_in, tokens_out)
        raise ScorerError(
            f"judge {self.model} gave no usable verdict in {len(reasons)} attempt(s): "
            f"{reasons[-1] if reasons else 'no attempt made'}",
            {
                "judge": {"model": self.model, "version": version},
                "reasons": reasons,
                "replies": [r[:_KEEP_REPLY_CHARS] for r in replies],
            },
        )

    def _gave_up(self, attempts: int, spent: float) -> str:
        return (f"; gave up after {attempts} attempt(s) in {spent:.1f} s (the judge's "
                f"retry_time budget is {self.retry_time:g} s)")

    def _cache_key(self, provider: ModelProvider, key: str | None,
                   structured: StructuredOutput | None) -> str | None:
        if key is None or self.cache is None:
            return None
        if self._keys is None:  # the provider's identity is hashed once, not per call
            from evalstack.runner.cache import KeySpace

            self._keys = KeySpace(provider.identity())
        return self._keys.key({
            "op": "judge", "key": key, "max_tokens": self.max_tokens,
            "temperature": self.temperature, "seed": self.seed,
            "structured": None if structured is None else structured.to_dict(),
        })

    def run_notes(self) -> dict[str, Any]:
        """What the judge's provider negotiated with its server (e.g. the structured form)."""
        notes = getattr(self._provider, "run_notes", None)
        return dict(notes()) if callable(notes) else {}

    async def aclose(self) -> None:
        """Close the provider if this object built it; the next call starts afresh."""
        if self._provider is not None and self._owned:
            await self._provider.aclose()
            self._provider = None
            self._keys = None
        self._gate = None  # bound to this event loop; a later run makes new ones
        self._lock = None
