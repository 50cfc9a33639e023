"""Prompt templates with few-shot examples.

A template is a ``str.format`` string over the sample: ``{input}``, ``{target}``,
``{choices}`` (rendered ``A. first\\nB. second``), ``{letters}`` (``A, B, C, D``), and any
metadata field by name. Literal braces are doubled: ``{{`` and ``}}``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample

LETTERS = string.ascii_uppercase


def render_choices(choices: Sequence[str]) -> str:
    """``A. first\\nB. second`` for the given options."""
    return "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))


def target_letter(sample: Sample) -> str:
    """The correct option as a letter: the target may be a letter, an index or the option text."""
    target = sample.targets[0].strip()
    choices = sample.choices or ()
    if len(target) == 1 and target.upper() in LETTERS[: len(choices)]:
        return target.upper()
    if target.isdigit() and int(target) < len(choices):
        return LETTERS[int(target)]
    if target in choices:
        return LETTERS[choices.index(target)]
    raise ConfigError(
        f"Sample {sample.id!r}: target {target!r} is neither a letter "
        f"A-{LETTERS[len(choices) - 1]}, an index, nor one of the choices."
    )


def _fields(sample: Sample) -> dict[str, Any]:
    values: dict[str, Any] = dict(sample.metadata)
    values["input"] = sample.input_text()
    values["target"] = sample.targets[0] if sample.targets else ""
    if sample.choices:
        values["choices"] = render_choices(sample.choices)
        values["letters"] = ", ".join(LETTERS[: len(sample.choices)])
        try:
            values["answer_letter"] = target_letter(sample)
        except ConfigError:
            values["answer_letter"] = values["target"]
    return values


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template with optional few-shot examples.

    Attributes:
        template: the prompt for the sample being evaluated.
        fewshot: solved examples shown first.
        fewshot_template: how one solved example is shown; defaults to ``template`` followed by
            `` {target}``.
        separator: between examples and the prompt.

    Examples:
        >>> t = PromptTemplate("Q: {input}\\nA:", fewshot=(Sample("s", "1+1?", "2"),))
        >>> print(t.render(Sample("q", "2+2?", "4")))
        Q: 1+1?
        A: 2
        <BLANKLINE>
        Q: 2+2?
        A:
    """

    template: str = "{input}"
    fewshot: tuple[Sample, ...] = field(default=())
    fewshot_template: str | None = None
    separator: str = "\n\n"

    def __post_init__(self) -> None:
        for tpl in (self.template, self.fewshot_template):
            if tpl is None:
                continue
            try:
                list(string.Formatter().parse(tpl))
            except ValueError as exc:
                raise ConfigError(
                    f"Invalid prompt template {tpl!r}: {exc}. Use {{input}} for the sample's "
                    f"input and double literal braces ({{{{ and }}}})."
                ) from None

    def _format(self, tpl: str, sample: Sample) -> str:
        try:
            return tpl.format_map(_fields(sample))
        except KeyError as exc:
            known = ", ".join(sorted(_fields(sample)))
            raise ConfigError(
                f"Prompt template {tpl!r} uses {{{exc.args[0]}}}, but sample {sample.id!r} has no "
                f"such field. Available fields: {known}."
            ) from None
        except (IndexError, ValueError) as exc:
            raise ConfigError(f"Prompt template {tpl!r} cannot be filled: {exc}.") from None

    def render(self, sample: Sample) -> str:
        """The full prompt text for ``sample``."""
        parts = []
        shot_tpl = self.fewshot_template or (self.template + " {target}")
        for shot in self.fewshot:
            parts.append(self._format(shot_tpl, shot))
        parts.append(self._format(self.template, sample))
        return self.separator.join(parts)

    def check(self, sample: Sample) -> None:
        """Fail before any request if the template cannot be filled from ``sample``."""
        self.render(sample)
