"""The ``generate`` solver: prompt the model and keep its completion."""

from __future__ import annotations

from collections.abc import Sequence

from evalstack.core.component import component
from evalstack.core.scorer import TaskState
from evalstack.core.task import ModelCaller
from evalstack.core.types import Capability, ChatMessage, GenerateConfig, GenerateRequest, Sample
from evalstack.solvers.templates import PromptTemplate


def build_messages(
    sample: Sample, template: PromptTemplate | None, system: str | None
) -> tuple[ChatMessage, ...]:
    """The conversation for ``sample``: chat input is kept, text input goes through the template."""
    head = (ChatMessage("system", system),) if system else ()
    if not isinstance(sample.input, str):
        return head + sample.input
    text = template.render(sample) if template is not None else sample.input
    return head + (ChatMessage("user", text),)


class GenerateSolver:
    """Sends the rendered prompt once and stores the output."""

    def __init__(self, template: PromptTemplate | None, system: str | None,
                 config: GenerateConfig | None) -> None:
        self.template = template
        self.system = system
        self.config = config

    def missing_capabilities(self, available: frozenset[Capability]) -> list[str]:
        if Capability.GENERATE in available:
            return []
        return ["text generation"]

    @property
    def checks_samples(self) -> bool:
        """Whether ``check`` can fail: only a template can miss a sample's field."""
        return self.template is not None

    def check(self, sample: Sample) -> None:
        build_messages(sample, self.template, self.system)

    async def __call__(self, state: TaskState, model: ModelCaller) -> TaskState:
        state.messages = build_messages(state.sample, self.template, self.system)
        request = GenerateRequest(state.messages, self.config or state.config,
                                  sample=state.sample)
        state.output = await model.generate(request)
        return state


@component("solver")
def generate(
    template: str | None = None,
    system: str | None = None,
    fewshot: Sequence[Sample] = (),
    config: GenerateConfig | None = None,
) -> GenerateSolver:
    """Prompt the model with the sample's input (through ``template`` when given).

    Args:
        template: a prompt template over the sample's fields, e.g. ``"Q: {input}\\nA:"``.
        system: an optional system message.
        fewshot: solved examples shown before the prompt.
        config: generation settings; defaults to the task's.
    """
    tpl = PromptTemplate(template or "{input}", tuple(fewshot)) if (template or fewshot) else None
    return GenerateSolver(tpl, system, config)
