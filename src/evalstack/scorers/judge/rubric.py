"""Judge rubrics: the criteria, scale, anchors and weights an LLM judge grades against.

A rubric is declared in Python (``Rubric(...)``) or YAML (``load_rubric("my_rubric.yaml")``),
or taken from the built-in templates by name (``load_rubric("summarization")``). YAML is only
``safe_load``ed and validated with ``extra="forbid"``: an unknown key is an error.

.. code-block:: yaml

    name: support
    scale_min: 1
    scale_max: 5
    pass_threshold: 3.5          # optional: a verdict passes when its weighted mean >= this
    uses_reference: true         # show the reference answer to the judge when there is one
    instructions: Grade the reply a support agent would send.
    criteria:
      - name: helpfulness
        description: Does the reply solve the customer's problem?
        weight: 2
        anchors:
          1: Does not address the problem.
          5: Solves the problem completely.
"""

from __future__ import annotations

import math
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalstack.core.errors import ConfigError, UnknownNameError, validation_problems

BUILTIN_RUBRICS: tuple[str, ...] = ("default", "factual_qa", "summarization", "support",
                                    "code_review", "answer_relevance")
"""Names of the rubric templates shipped in ``evalstack/scorers/judge/templates``."""

# Scores are small integers: the GBNF grammar enumerates every allowed value.
SCALE_LOWEST = 0
SCALE_HIGHEST = 100

CriterionName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Criterion(BaseModel):
    """One thing the judge scores, such as accuracy or tone.

    Attributes:
        name: a lowercase identifier (``[a-z][a-z0-9_]*``); it is the key in the verdict JSON.
        description: what the judge should look at, in one or two sentences.
        weight: the criterion's weight in the overall score (> 0).
        anchors: what some or all scale levels mean, ``{1: "...", 5: "..."}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CriterionName
    description: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    anchors: dict[int, str] = Field(default_factory=dict)


class Rubric(BaseModel):
    """A multi-criteria grading rubric on an integer scale.

    Attributes:
        name: the rubric's name, recorded with every score.
        criteria: one or more criteria with unique names, in the order the judge sees them.
        scale_min: the lowest score (an integer, 0 or more).
        scale_max: the highest score (an integer above ``scale_min``, at most 100).
        pass_threshold: when set, a verdict passes when its weighted mean reaches it.
        uses_reference: show the reference answer to the judge when one is given.
        instructions: extra guidance for the judge, placed before the criteria.

    Examples:
        >>> r = Rubric(name="tiny", criteria=[Criterion(name="accuracy", description="Right?"),
        ...     Criterion(name="tone", description="Polite?", weight=3)])
        >>> r.overall({"accuracy": 1, "tone": 5})
        4.0
        >>> r.normalized(4.0)
        0.75
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
    scale_min: int = Field(1, ge=SCALE_LOWEST, le=SCALE_HIGHEST)
    scale_max: int = Field(5, ge=SCALE_LOWEST, le=SCALE_HIGHEST)
    pass_threshold: float | None = Field(None, allow_inf_nan=False)
    uses_reference: bool = False
    instructions: str = ""

    @model_validator(mode="after")
    def _check(self) -> Rubric:
        if self.scale_min >= self.scale_max:
            raise ValueError(
                f"scale_min ({self.scale_min}) must be below scale_max ({self.scale_max})"
            )
        seen: set[str] = set()
        for c in self.criteria:
            if c.name in seen:
                raise ValueError(f"criterion names must be unique; {c.name!r} appears twice")
            seen.add(c.name)
            outside = sorted(k for k in c.anchors if not self.scale_min <= k <= self.scale_max)
            if outside:
                raise ValueError(
                    f"criterion {c.name!r} has anchors {outside} outside the scale "
                    f"{self.scale_min}-{self.scale_max}"
                )
        t = self.pass_threshold
        if t is not None and not self.scale_min <= t <= self.scale_max:
            raise ValueError(
                f"pass_threshold {t} must lie within the scale {self.scale_min}-{self.scale_max}"
            )
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The criterion names, in order."""
        return tuple(c.name for c in self.criteria)

    def overall(self, scores: dict[str, int]) -> float:
        """The weighted mean of one score per criterion (extra keys are ignored).

        Raises:
            ValueError: a criterion is missing, or a score is not an integer within the scale.
        """
        total = weights = 0.0
        for c in self.criteria:
            if c.name not in scores:
                raise ValueError(f"no score for criterion {c.name!r}")
            value = scores[c.name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"score for {c.name!r} must be an integer; got {value!r}")
            if not self.scale_min <= value <= self.scale_max:
                raise ValueError(
                    f"score {value} for {c.name!r} is outside the scale "
                    f"{self.scale_min}-{self.scale_max}"
                )
            total += c.weight * value
            weights += c.weight
        return total / weights

    def normalized(self, value: float) -> float:
        """Map a value on the scale to [0, 1]: ``(value - scale_min) / (scale_max - scale_min)``.

        Raises:
            ValueError: the value lies outside the scale.
        """
        if not (math.isfinite(value) and self.scale_min <= value <= self.scale_max):
            raise ValueError(
                f"{value!r} is outside the scale {self.scale_min}-{self.scale_max}"
            )
        return (value - self.scale_min) / (self.scale_max - self.scale_min)


def _parse(text: str, where: str) -> Rubric:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark is not None else where
        raise ConfigError(f"{at}: invalid YAML: {getattr(exc, 'problem', None) or exc}.") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a mapping with keys name, criteria, scale_min, scale_max, "
            f"pass_threshold, uses_reference, instructions; received {type(raw).__name__}."
        )
    try:
        return Rubric.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {validation_problems(exc)}.") from None


@cache
def _builtin(name: str) -> Rubric:
    ref = resources.files("evalstack.scorers.judge").joinpath("templates").joinpath(f"{name}.yaml")
    return _parse(ref.read_text(encoding="utf-8"), f"built-in rubric {name!r}")


def load_rubric(source: Rubric | str | os.PathLike[str]) -> Rubric:
    """A rubric from a built-in template name, a YAML file, or a ``Rubric`` (returned as is).

    A string is a built-in name when it is one of ``BUILTIN_RUBRICS``; otherwise it is a path.

    Raises:
        ConfigError: the file is missing, is not YAML, or a field is invalid; the message
            names the file and the field (``rubric.yaml: criteria.0.weight: ...``).
        UnknownNameError: a name that is neither built in nor an existing file.

    Examples:
        >>> load_rubric("summarization").names
        ('faithfulness', 'coverage', 'no_added_facts')
    """
    if isinstance(source, Rubric):
        return source
    if isinstance(source, str) and source in BUILTIN_RUBRICS:
        return _builtin(source)
    path = Path(source).expanduser()
    if not path.is_file():
        looks_like_name = path.suffix not in (".yaml", ".yml") and os.sep not in str(source)
        if isinstance(source, str) and looks_like_name:
            raise UnknownNameError("rubric", source, list(BUILTIN_RUBRICS))
        raise ConfigError(
            f"Rubric file {str(source)!r} does not exist. Pass an existing YAML file or one of "
            f"the built-in rubrics: {', '.join(BUILTIN_RUBRICS)}."
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"Cannot read rubric file {path}: {exc.strerror or exc}.") from None
    return _parse(text, str(path))


def default_rubric() -> Rubric:
    """Accuracy, completeness and clarity on 1-5, graded against the reference when one exists."""
    return _builtin("default")
