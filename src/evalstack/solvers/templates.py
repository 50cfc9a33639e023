"""Prompt templates with few-shot examples.

A template is a ``str.format`` string over the sample: ``{input}``, ``{target}``,
``{choices}`` (rendered ``A. first\\nB. second``), ``{letters}`` (``A, B, C, D``), and any
metadata field by name. Literal braces are doubled: ``{{`` and ``}}``.

Fields are plain names. ``check_template`` refuses, before any request, what ``str.format``
would misread or let data abuse: Jinja's ``{{ input }}`` (which ``str.format`` turns into the
literal text ``{ input }``), attribute and index lookups (``{input.__class__}``,
``{input[0]}``), positional fields (``{}``, ``{0}``), conversions (``{input!r}``) and format
specs (``{input:>99999999}``, whose nested fields are formatted too). Every template is
checked when it is made, so rendering never evaluates more than a name lookup.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample

LETTERS = string.ascii_uppercase

#: The fields every sample offers (multiple-choice samples add ``choices``, ``letters`` and
#: ``answer_letter``); metadata fields come on top.
STANDARD_FIELDS = ("input", "target", "choices", "letters", "answer_letter")

# Jinja's ``{{ name }}`` / ``{{ name | filter }}`` and ``{% ... %}`` blocks, in the raw text.
_JINJA_VAR = re.compile(r"\{\{-?\s*([A-Za-z_]\w*)([^{}]*?)\s*-?\}\}")
_JINJA_BLOCK = re.compile(r"\{%.*?%\}", re.DOTALL)


#: Other ways to label options, for the ``labels`` perturbation (``metadata["option_labels"]``).
OPTION_LABELS = {
    "numbers": tuple(str(i) for i in range(1, 27)),
    "lower": tuple(string.ascii_lowercase),
    "roman": ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"),
}


def option_labels(sample: Sample) -> tuple[str, ...]:
    """The labels a sample's options are shown with: ``A, B, ...`` unless its metadata's
    ``option_labels`` says otherwise."""
    n = len(sample.choices or ())
    given = sample.metadata.get("option_labels")
    if given and len(given) >= n:
        return tuple(str(x) for x in given[:n])
    return tuple(LETTERS[:n])


def render_choices(choices: Sequence[str], labels: Sequence[str] | None = None) -> str:
    """``A. first\\nB. second`` for the given options (or with the given labels)."""
    shown = labels if labels is not None else LETTERS
    return "\n".join(f"{shown[i]}. {c}" for i, c in enumerate(choices))


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
        labels = option_labels(sample)
        values["choices"] = render_choices(sample.choices, labels)
        values["letters"] = ", ".join(labels)
        try:
            values["answer_letter"] = labels[LETTERS.index(target_letter(sample))]
        except ConfigError:
            values["answer_letter"] = values["target"]
    return values


def sample_fields(sample: Sample) -> list[str]:
    """The names a template may use for ``sample``, sorted."""
    return sorted(_fields(sample))


def _available(fields: Iterable[str] | None) -> str:
    if fields is None:
        return (f"{', '.join(STANDARD_FIELDS)} (multiple choice only: choices, letters, "
                f"answer_letter), and any metadata field of the sample")
    return ", ".join(sorted(fields)) or "none"


def _shown(name: str, conversion: str | None, spec: str | None) -> str:
    return ("{" + name + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "") + "}")


def check_template(template: str, *, source: str = "Prompt template",
                   fields: Iterable[str] | None = None,
                   require_field: bool = False) -> tuple[str, ...]:
    """Refuse a template ``str.format`` would misread or that could reach past a field's value.

    Args:
        template: the template text.
        source: where the template comes from, for the message (``"capitals.yaml: field
            'template'"``).
        fields: the names the sample offers, listed in the message (the standard ones and
            "any metadata field" when not given).
        require_field: refuse a template that substitutes no field at all (every sample would
            be sent the same prompt).

    Returns:
        The field names the template substitutes, in order.

    Raises:
        ConfigError: unbalanced braces, Jinja syntax, a lookup, a positional field, a
            conversion or a format spec; or no field when ``require_field``.

    Examples:
        >>> check_template("Q: {input}\\nA: {{literal}}")
        ('input',)
        >>> try:
        ...     check_template("Q: {{ input }}")
        ... except ConfigError as exc:
        ...     print(str(exc).split(";")[0])
        Prompt template ('Q: {{ input }}'): '{{ input }}' is Jinja syntax
    """
    shown_tpl = template if len(template) <= 60 else template[:57] + "..."
    where = f"{source} ({shown_tpl!r})"
    known = set(STANDARD_FIELDS) if fields is None else set(fields) | set(STANDARD_FIELDS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"{where} is not a valid template: {exc}. Expected fields in single braces, such "
            f"as {{input}}, and double literal braces ({{{{ and }}}})."
        ) from None
    names = tuple(name for _, name, _, _ in parsed if name is not None)
    block = _JINJA_BLOCK.search(template)
    if block is not None:
        raise ConfigError(
            f"{where}: {block.group()!r} is a Jinja block; evalstack templates are not Jinja "
            f"and run no logic: use single-brace fields such as {{input}}, and put any logic "
            f"in a Python task."
        )
    for match in _JINJA_VAR.finditer(template):
        name, rest = match.group(1), match.group(2).strip()
        if not names or name in known or rest:
            raise ConfigError(
                f"{where}: {match.group()!r} is Jinja syntax; evalstack templates use single "
                f"braces: {{{name}}}; write {{{{ and }}}} only for literal braces."
            )
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        shown = _shown(name, conversion, spec)
        if name == "" or name.isdigit():
            problem = "is a positional field"
        elif not name.isidentifier():
            problem = "looks up an attribute or an index ('.' or '[')"
        elif conversion:
            problem = f"applies a conversion (!{conversion})"
        elif spec:
            problem = f"has a format spec (:{spec})"
        else:
            continue
        plain = re.match(r"[A-Za-z_]\w*", name)
        hint = f"write {{{plain.group()}}}" if plain else "write {input}"
        raise ConfigError(
            f"{where}: {shown!r} {problem}; fields are plain names: {hint}. Available "
            f"fields: {_available(fields)}."
        )
    if require_field and not names:
        raise ConfigError(
            f"{where} uses no field, so every sample would be sent the same prompt. Expected "
            f"at least one field such as {{input}}. Available fields: {_available(fields)}."
        )
    return names


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
        check_template(self.template)
        if self.fewshot_template is not None:
            check_template(self.fewshot_template, source="Few-shot template")

    def _format(self, tpl: str, sample: Sample) -> str:
        values = _fields(sample)
        try:
            return tpl.format_map(values)
        except KeyError as exc:
            known = ", ".join(sorted(values))
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
