"""The ``multiple_choice`` solver: pick one of the sample's options.

With ``method="loglikelihood"`` the model scores each option's continuation after the prompt
and the most likely one is chosen (lm-evaluation-harness style; no text is generated, so no
answer extraction can fail). With ``method="generate"`` the model answers in text and the
letter is extracted robustly. ``"auto"`` uses log-likelihood when the provider offers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import TaskState
from evalstack.core.task import ModelCaller
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodRequest,
    Sample,
)
from evalstack.scorers.choice import extract_choice
from evalstack.solvers.templates import LETTERS, PromptTemplate

# lm-evaluation-harness's MMLU format (answer letters as continuations).
MMLU_TEMPLATE = "{input}\n{choices}\nAnswer:"
GENERATE_SUFFIX = "\n\nAnswer with the letter of the correct option ({letters}) only."

Method = Literal["auto", "loglikelihood", "generate"]


class MultipleChoiceSolver:
    """Chooses an option by log-likelihood or by generation (see module docstring)."""

    def __init__(self, template: PromptTemplate, method: Method, continuation: str,
                 config: GenerateConfig | None) -> None:
        if method not in ("auto", "loglikelihood", "generate"):
            raise ConfigError(
                f"multiple_choice method must be auto, loglikelihood or generate; got {method!r}."
            )
        if continuation not in ("letters", "text"):
            raise ConfigError(
                f"multiple_choice continuation must be 'letters' or 'text'; got {continuation!r}."
            )
        self.template = template
        self.method = method
        self.continuation = continuation
        self.config = config

    def missing_capabilities(self, available: frozenset[Capability]) -> list[str]:
        if self.method == "loglikelihood" and Capability.LOGLIKELIHOOD not in available:
            return ["log-likelihood scoring (use method='generate' for chat APIs)"]
        if self.method == "generate" and Capability.GENERATE not in available:
            return ["text generation"]
        if not available & {Capability.LOGLIKELIHOOD, Capability.GENERATE}:
            return ["log-likelihood scoring or text generation"]
        return []

    def resolved_method(self, available: frozenset[Capability]) -> str:
        if self.method != "auto":
            return self.method
        return "loglikelihood" if Capability.LOGLIKELIHOOD in available else "generate"

    checks_samples = True

    def check(self, sample: Sample) -> None:
        if not sample.choices or len(sample.choices) < 2:
            raise DataError(
                f"Sample {sample.id!r}: multiple choice needs a 'choices' list with at least two "
                f"options; received {list(sample.choices or [])!r}."
            )
        if len(sample.choices) > len(LETTERS):
            raise DataError(f"Sample {sample.id!r}: more than {len(LETTERS)} choices.")
        self.template.check(sample)

    async def __call__(self, state: TaskState, model: ModelCaller) -> TaskState:
        sample = state.sample
        self.check(sample)
        prompt = self.template.render(sample)
        n = len(sample.choices or ())
        if self.resolved_method(model.capabilities) == "loglikelihood":
            if self.continuation == "letters":
                continuations = tuple(f" {LETTERS[i]}" for i in range(n))
            else:
                continuations = tuple(f" {c}" for c in sample.choices or ())
            state.messages = (ChatMessage("user", prompt),)
            result = await model.loglikelihood(LoglikelihoodRequest(prompt, continuations))
            state.choice_logprobs = result.logprobs
            state.choice = max(range(n), key=lambda i: result.logprobs[i])
            state.metadata["method"] = "loglikelihood"
            return state
        suffix = GENERATE_SUFFIX.format(letters=", ".join(LETTERS[:n]))
        state.messages = (ChatMessage("user", prompt + suffix),)
        state.output = await model.generate(
            GenerateRequest(state.messages, self.config or state.config)
        )
        state.choice = extract_choice(state.output.text, n, sample.choices)
        state.metadata["method"] = "generate"
        return state


@component("solver")
def multiple_choice(
    template: str = MMLU_TEMPLATE,
    method: Method = "auto",
    continuation: str = "letters",
    fewshot: Sequence[Sample] = (),
    config: GenerateConfig | None = None,
) -> MultipleChoiceSolver:
    """Answer a multiple-choice sample.

    Args:
        template: the prompt; ``{choices}`` renders the options as ``A. ...`` lines.
        method: ``auto`` (log-likelihood when the provider supports it), ``loglikelihood`` or
            ``generate``.
        continuation: for log-likelihood, score the letters (`` A``) or the option texts.
        fewshot: solved examples; shown with their answer letter.
        config: generation settings for ``generate``.
    """
    tpl = PromptTemplate(template, tuple(fewshot), fewshot_template=template + " {answer_letter}")
    return MultipleChoiceSolver(tpl, method, continuation, config)
