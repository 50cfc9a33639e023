"""Text noise that keeps the answer: seeded typos, casing, whitespace, a distractor sentence.

Each applies to the question text only (the options and the target are untouched), and each
takes ``variants=N`` (default 1): N differently seeded variants per item.
"""

from __future__ import annotations

import abc
import random
import string
from typing import Any, ClassVar

from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample
from evalstack.perturb.base import Perturbation, check_variants, with_question

# Irrelevant, true, neutral statements: none bears on any benchmark question's answer.
DISTRACTORS = (
    "The library on the corner closes at six on Saturdays.",
    "Some people prefer tea to coffee in the morning.",
    "A new bus timetable was printed last spring.",
    "The garden's tulips were planted in October.",
    "Her cousin collects old postage stamps.",
    "The meeting room has twelve chairs and a whiteboard.",
    "It rained for most of the afternoon yesterday.",
    "The bakery sells rye bread on Tuesdays.",
)


def _check_rate(name: str, rate: Any) -> float:
    if not isinstance(rate, int | float) or not 0 < rate <= 0.5:
        raise ConfigError(f"{name}: rate must be a number in (0, 0.5]; got {rate!r}.")
    return float(rate)


class _Noise(Perturbation):
    def __init__(self, variants: int = 1) -> None:
        super().__init__(variants=check_variants(self.name, variants))

    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        text = sample.input_text()
        if not text.strip():
            return None
        return [with_question(sample, self.apply(text, rng))
                for _ in range(self.params["variants"])]

    @abc.abstractmethod
    def apply(self, text: str, rng: random.Random) -> str:
        """One noisy version of ``text``."""


class Typos(_Noise):
    """Swap, drop, double or replace letters inside words (``rate`` of the letters)."""

    name: ClassVar[str] = "typos"
    summary: ClassVar[str] = "seeded typos in the question (rate=0.05, variants=1)"

    def __init__(self, rate: float = 0.05, variants: int = 1) -> None:
        super().__init__(variants=variants)
        self.params["rate"] = _check_rate("typos", rate)

    def apply(self, text: str, rng: random.Random) -> str:
        chars = list(text)
        letters = [i for i, c in enumerate(chars) if c.isalpha()]
        count = max(1, round(len(letters) * self.params["rate"]))
        for i in sorted(rng.sample(letters, min(count, len(letters))), reverse=True):
            kind = rng.randrange(4)
            if kind == 0 and i + 1 < len(chars) and chars[i + 1].isalpha():
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            elif kind == 1:
                del chars[i]
            elif kind == 2:
                chars.insert(i, chars[i])
            else:
                pool = string.ascii_lowercase if chars[i].islower() else string.ascii_uppercase
                chars[i] = rng.choice(pool)
        return "".join(chars)


class Casing(_Noise):
    """The question upper-cased, lower-cased, or with random letters' case flipped."""

    name: ClassVar[str] = "casing"
    summary: ClassVar[str] = "the question's letter case changed (variants=1)"

    def apply(self, text: str, rng: random.Random) -> str:
        kind = rng.randrange(3)
        if kind == 0:
            return text.upper()
        if kind == 1:
            return text.lower()
        return "".join(c.swapcase() if c.isalpha() and rng.random() < 0.3 else c for c in text)


class Whitespace(_Noise):
    """Extra spaces, tabs and line breaks between words."""

    name: ClassVar[str] = "whitespace"
    summary: ClassVar[str] = "extra spaces and line breaks in the question (variants=1)"

    def apply(self, text: str, rng: random.Random) -> str:
        words = text.split(" ")
        return "".join(w + (rng.choice(["  ", "   ", " \t", "\n", " "]) if i < len(words) - 1
                            else "") for i, w in enumerate(words))


class Distractor(_Noise):
    """An irrelevant sentence before or after the question."""

    name: ClassVar[str] = "distractor"
    summary: ClassVar[str] = "an irrelevant sentence added to the question (variants=1)"

    def apply(self, text: str, rng: random.Random) -> str:
        sentence = rng.choice(DISTRACTORS)
        return f"{sentence} {text}" if rng.random() < 0.5 else f"{text} {sentence}"
