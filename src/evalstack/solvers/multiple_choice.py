"""The ``multiple_choice`` solver: pick one of the sample's options.

With ``method="loglikelihood"`` the model scores each option's continuation after the prompt
and the most likely one is chosen (lm-evaluation-harness style; no text is generated, so no
answer extraction can fail). With ``method="generate"`` the model answers in text and the
letter is extracted robustly. ``"auto"`` uses log-likelihood when the provider offers it.

In log-likelihood mode ``state.choice_logprobs`` holds every option's log-likelihood and
``state.metadata["continuation_chars"]`` each continuation's length in characters without the
leading space (lm-evaluation-harness's ``acc_norm`` divides by it).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
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
from evalstack.scorers.choice import extract_choice, extract_label
from evalstack.solvers.templates import LETTERS, PromptTemplate, option_labels, target_letter

# lm-evaluation-harness's MMLU format (answer letters as continuations).
MMLU_TEMPLATE = "{input}\n{choices}\nAnswer:"
GENERATE_SUFFIX = "\n\nAnswer with the letter of the correct option ({letters}) only."
FEWSHOT_SEPARATOR = "\n\n"

Method = Literal["auto", "loglikelihood", "generate"]
Fewshot = Sequence[Sample] | Mapping[str, Sequence[Sample]]


def _check_continuation(continuation: str) -> None:
    if continuation in ("letters", "text"):
        return
    fields = {f for _, f, _, _ in string.Formatter().parse(continuation) if f is not None}
    if not fields or not fields <= {"letter", "text"}:
        raise ConfigError(
            "multiple_choice continuation must be 'letters', 'text', or a format string over "
            f"{{letter}} and {{text}} such as ' ({{letter}})'; got {continuation!r}."
        )


class MultipleChoiceSolver:
    """Chooses an option by log-likelihood or by generation (see module docstring)."""

    def __init__(
        self,
        template: PromptTemplate,
        method: Method,
        continuation: str,
        config: GenerateConfig | None,
        *,
        generate_template: str | None = None,
        description: str = "",
        fewshot_by_category: Mapping[str, Sequence[Sample]] | None = None,
    ) -> None:
        if method not in ("auto", "loglikelihood", "generate"):
            raise ConfigError(
                f"multiple_choice method must be auto, loglikelihood or generate; got {method!r}."
            )
        _check_continuation(continuation)
        self.template = template
        self.method = method
        self.continuation = continuation
        self.config = config
        self._body = PromptTemplate(template.template)
        self._generate_body = PromptTemplate(generate_template or template.template)
        self._description = PromptTemplate(description) if description else None
        self._by_category = (
            {k: tuple(v) for k, v in fewshot_by_category.items()}
            if fewshot_by_category is not None else None
        )

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

    @staticmethod
    def _check_choices(sample: Sample) -> None:
        if not sample.choices or len(sample.choices) < 2:
            raise DataError(
                f"Sample {sample.id!r}: multiple choice needs a 'choices' list with at least two "
                f"options; received {list(sample.choices or [])!r}."
            )
        if len(sample.choices) > len(LETTERS):
            raise DataError(f"Sample {sample.id!r}: more than {len(LETTERS)} choices.")

    def check(self, sample: Sample) -> None:
        self._check_choices(sample)
        if self.method != "generate":
            self.prompt(sample, "loglikelihood")
        if self.method != "loglikelihood":
            self.prompt(sample, "generate")

    def continuations(self, sample: Sample) -> tuple[str, ...]:
        """The text scored after the prompt for each option, in log-likelihood mode."""
        choices = sample.choices or ()
        labels = option_labels(sample)
        if self.continuation == "letters":
            return tuple(f" {label}" for label in labels)
        if self.continuation == "text":
            return tuple(f" {c}" for c in choices)
        return tuple(
            self.continuation.format(letter=labels[i], text=c) for i, c in enumerate(choices)
        )

    def _shots(self, sample: Sample) -> Sequence[Sample]:
        if self._by_category is not None:
            return self._by_category.get(sample.category or "", ())
        return self.template.fewshot

    def prompt(self, sample: Sample, method: str) -> str:
        """The exact prompt text for ``sample`` under ``method`` (``loglikelihood``/``generate``).

        The description comes first, then each few-shot example followed by its answer (the
        correct continuation, or `` X`` with the letter when generating), then the sample;
        parts are separated by a blank line, as lm-evaluation-harness does.
        """
        generating = method == "generate"
        body = self._generate_body if generating else self._body
        parts = []
        for shot in self._shots(sample):
            index = LETTERS.index(target_letter(shot))
            answer = (f" {option_labels(shot)[index]}" if generating
                      else self.continuations(shot)[index])
            parts.append(body.render(shot) + answer)
        parts.append(body.render(sample))
        text = FEWSHOT_SEPARATOR.join(parts)
        if self._description is not None:
            text = self._description.render(sample) + text
        if generating:
            text += GENERATE_SUFFIX.format(letters=", ".join(option_labels(sample)))
        return text

    async def __call__(self, state: TaskState, model: ModelCaller) -> TaskState:
        sample = state.sample
        self._check_choices(sample)
        n = len(sample.choices or ())
        method = self.resolved_method(model.capabilities)
        prompt = self.prompt(sample, method)
        state.messages = (ChatMessage("user", prompt),)
        if method == "loglikelihood":
            continuations = self.continuations(sample)
            result = await model.loglikelihood(LoglikelihoodRequest(prompt, continuations))
            state.choice_logprobs = result.logprobs
            state.choice = max(range(n), key=lambda i: result.logprobs[i])
            state.metadata["method"] = "loglikelihood"
            state.metadata["continuation_chars"] = [len(c.removeprefix(" ")) for c in continuations]
            return state
        state.output = await model.generate(
            GenerateRequest(state.messages, self.config or state.config)
        )
        labels = option_labels(sample)
        if labels == tuple(LETTERS[:n]):
            state.choice = extract_choice(state.output.text, n, sample.choices)
        else:
            state.choice = extract_label(state.output.text, labels, sample.choices)
        state.metadata["method"] = "generate"
        return state


@component("solver")
def multiple_choice(
    template: str = MMLU_TEMPLATE,
    method: Method = "auto",
    continuation: str = "letters",
    fewshot: Fewshot = (),
    config: GenerateConfig | None = None,
    generate_template: str | None = None,
    description: str = "",
) -> MultipleChoiceSolver:
    """Answer a multiple-choice sample.

    Args:
        template: the prompt; ``{choices}`` renders the options as ``A. ...`` lines.
        method: ``auto`` (log-likelihood when the provider supports it), ``loglikelihood`` or
            ``generate``.
        continuation: for log-likelihood, what is scored after the prompt for each option:
            ``letters`` (`` A``), ``text`` (`` <option text>``), or a format string over
            ``{letter}`` and ``{text}`` (`` ({letter})`` scores `` (A)``).
        fewshot: solved examples shown before the prompt; a mapping from category to examples
            shows each sample the examples of its own category (MMLU's per-subject shots).
        config: generation settings for ``generate``.
        generate_template: the prompt when generating, if it differs from ``template`` (say,
            to list the lettered options when the log-likelihood prompt does not); the
            instruction to answer with a letter is appended to it.
        description: a template shown once before the few-shot examples.

    Examples:
        >>> solver = multiple_choice(template="Question: {input}\\nAnswer:",
        ...                          continuation="text")
        >>> sample = Sample("1", "2+2?", "B", choices=("3", "4"))
        >>> solver.continuations(sample)
        (' 3', ' 4')
        >>> print(solver.prompt(sample, "loglikelihood"))
        Question: 2+2?
        Answer:
    """
    by_category = fewshot if isinstance(fewshot, Mapping) else None
    shots = () if isinstance(fewshot, Mapping) else tuple(fewshot)
    tpl = PromptTemplate(template, shots, fewshot_template=template + " {answer_letter}")
    return MultipleChoiceSolver(
        tpl, method, continuation, config, generate_template=generate_template,
        description=description, fewshot_by_category=by_category,
    )
