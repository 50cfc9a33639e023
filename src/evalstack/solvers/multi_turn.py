"""The ``multi_turn`` solver: a conversation of several user turns, each answered in context.

Each user turn is sent with the whole conversation so far, the model's reply is appended as
an assistant message, and the next turn follows: MT-Bench's two-turn protocol.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from evalstack.core.component import component
from evalstack.core.errors import DataError
from evalstack.core.scorer import TaskState
from evalstack.core.task import ModelCaller
from evalstack.core.types import Capability, ChatMessage, GenerateConfig, GenerateRequest, Sample


class MultiTurnSolver:
    """Sends each user turn in order and keeps every reply (see ``multi_turn``)."""

    checks_samples = True

    def __init__(self, turns_field: str, system: str | None, config: GenerateConfig | None,
                 temperature_field: str | None) -> None:
        self.turns_field = turns_field
        self.system = system
        self.config = config
        self.temperature_field = temperature_field

    def missing_capabilities(self, available: frozenset[Capability]) -> list[str]:
        return [] if Capability.GENERATE in available else ["text generation"]

    def turns(self, sample: Sample) -> list[str]:
        """The sample's user turns; a ``DataError`` says what is wrong with them."""
        turns = sample.metadata.get(self.turns_field)
        if (not isinstance(turns, Sequence) or isinstance(turns, str) or not turns
                or not all(isinstance(t, str) for t in turns)):
            raise DataError(
                f"Sample {sample.id!r}: multi_turn needs metadata[{self.turns_field!r}] to be a "
                f"non-empty list of user turns (strings); received {turns!r}."
            )
        return list(turns)

    def check(self, sample: Sample) -> None:
        self.turns(sample)

    def _config(self, state: TaskState) -> GenerateConfig:
        config = self.config or state.config
        if self.temperature_field is not None:
            value = state.sample.metadata.get(self.temperature_field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                config = dataclasses.replace(config, temperature=float(value))
        return config

    async def __call__(self, state: TaskState, model: ModelCaller) -> TaskState:
        config = self._config(state)
        messages: list[ChatMessage] = [ChatMessage("system", self.system)] if self.system else []
        replies: list[str] = []
        for turn in self.turns(state.sample):
            messages.append(ChatMessage("user", turn))
            state.messages = tuple(messages)
            state.output = await model.generate(GenerateRequest(state.messages, config))
            replies.append(state.output.text)
            messages.append(ChatMessage("assistant", state.output.text))
        state.metadata["turns"] = replies
        return state


@component("solver")
def multi_turn(
    turns_field: str = "user_turns",
    system: str | None = None,
    config: GenerateConfig | None = None,
    temperature_field: str | None = None,
) -> MultiTurnSolver:
    """Hold a conversation: each user turn is answered with the earlier turns and replies in
    context.

    After solving, ``state.output`` is the last reply, ``state.messages`` the conversation sent
    for it, and ``state.metadata["turns"]`` the list of every reply, in order.

    Args:
        turns_field: the sample metadata field holding the list of user turns.
        system: an optional system message before the first turn.
        config: generation settings; defaults to the task's.
        temperature_field: a sample metadata field whose number, when present, replaces the
            temperature for that sample (MT-Bench's per-category temperatures).

    Examples:
        >>> import asyncio
        >>> from evalstack.providers.mock import MockProvider
        >>> sample = Sample("1", "Hi", metadata={"user_turns": ["Hi", "Again"]})
        >>> state = asyncio.run(multi_turn()(TaskState(sample), MockProvider("echo")))
        >>> state.metadata["turns"], [m.role for m in state.messages]
        (['Hi', 'Again'], ['user', 'assistant', 'user'])
    """
    return MultiTurnSolver(turns_field, system, config, temperature_field)
