"""Multiple-choice perturbations: the options moved, or relabelled; the answer follows.

- ``rotate``: every rotation of the options but the original one (``n - 1`` variants for ``n``
  options): the "circular" evaluation, where an item counts only if it survives them all.
- ``shuffle``: ``variants`` seeded permutations of the options (never the original order).
- ``labels``: the options labelled ``1, 2, 3, 4`` (``style=numbers``), ``a, b, c, d``
  (``lower``) or ``I, II, III, IV`` (``roman``) instead of ``A, B, C, D``.
"""

from __future__ import annotations

import dataclasses
import random
from typing import ClassVar

from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample
from evalstack.perturb.base import Perturbation
from evalstack.solvers.templates import LETTERS, OPTION_LABELS, target_letter


def _moved(sample: Sample, order: list[int]) -> Sample:
    """``sample`` with option ``order[i]`` shown in place ``i``; the target follows."""
    choices = sample.choices or ()
    answer = LETTERS.index(target_letter(sample))
    return dataclasses.replace(sample, choices=tuple(choices[i] for i in order),
                               target=LETTERS[order.index(answer)])


class Rotate(Perturbation):
    name: ClassVar[str] = "rotate"
    needs_choices: ClassVar[bool] = True
    summary: ClassVar[str] = "every rotation of the options (circular evaluation)"

    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        n = len(sample.choices or ())
        if n < 2:
            return None
        return [_moved(sample, [(i + r) % n for i in range(n)]) for r in range(1, n)]


class Shuffle(Perturbation):
    name: ClassVar[str] = "shuffle"
    needs_choices: ClassVar[bool] = True
    summary: ClassVar[str] = "seeded shuffles of the options (variants=N, default 1)"

    def __init__(self, variants: int = 1) -> None:
        if not isinstance(variants, int) or isinstance(variants, bool) or variants < 1:
            raise ConfigError(f"shuffle: variants must be a whole number of at least 1; got "
                              f"{variants!r}.")
        super().__init__(variants=variants)

    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        n = len(sample.choices or ())
        if n < 2:
            return None
        out = []
        for _ in range(self.params["variants"]):
            order = list(range(n))
            while order == list(range(n)):
                rng.shuffle(order)
            out.append(_moved(sample, order))
        return out


class Labels(Perturbation):
    name: ClassVar[str] = "labels"
    needs_choices: ClassVar[bool] = True
    summary: ClassVar[str] = "option labels changed (style=numbers|lower|roman)"

    def __init__(self, style: str = "numbers") -> None:
        if style not in OPTION_LABELS:
            raise ConfigError(f"labels: style must be one of {', '.join(OPTION_LABELS)}; got "
                              f"{style!r}.")
        super().__init__(style=style)

    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        labels = OPTION_LABELS[self.params["style"]]
        n = len(sample.choices or ())
        if not 2 <= n <= len(labels):
            return None
        return [dataclasses.replace(sample, metadata={**sample.metadata,
                                                      "option_labels": list(labels[:n])})]
