"""Length and readability of an answer (a summary, say): no judge, no model.

- ``summary_length``: the answer's length in words; the compression against a source field
  (``document``) is stored with it.
- ``readability``: the Flesch reading ease of the answer (higher is easier; 60-70 is plain
  English), from the ``readability`` package (surface counts, no data downloads), with the
  Flesch-Kincaid grade and the other grades it computes stored beside it. The answer is
  split into sentences first (one per line is the package's input format).

``readability`` comes with the ``nlp`` extra (``pip install 'evalstack[nlp]'``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from evalstack.core.component import component
from evalstack.core.errors import MissingDependencyError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample
from evalstack.scorers.judge.statements import split_sentences

ScoreFn = Callable[[Sample, TaskState], Score]
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def word_count(text: str) -> int:
    """Words in ``text`` (runs of letters or digits, with inner apostrophes and hyphens).

    Examples:
        >>> word_count("It's a well-known fact: 3 cats.")
        6
    """
    return len(_WORD.findall(text or ""))


@component("scorer")
def summary_length(source_field: str | None = "document") -> ScoreFn:
    """The answer's length in words (``continuous``); with its compression ratio against the
    sample's ``source_field`` (source words per answer word) when the sample has it.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "Summarize.", metadata={"document": "one two three four"})
        >>> score = summary_length()(s, TaskState(s, output=ModelOutput("one two")))
        >>> score.value, score.metadata["compression"]
        (2.0, 2.0)
    """
    def score(sample: Sample, state: TaskState) -> Score:
        words = word_count(state.completion)
        meta: dict[str, float | int] = {"words": words}
        source = sample.metadata.get(source_field) if source_field else None
        if isinstance(source, str) and words:
            meta["source_words"] = word_count(source)
            meta["compression"] = round(meta["source_words"] / words, 4)
        return Score(float(words), kind="continuous", answer=f"{words} words", metadata=meta)

    return score


@component("scorer")
def readability() -> ScoreFn:
    """Flesch reading ease of the answer (``continuous``; other grades in the metadata).

    An empty answer has no readability: it scores 0 with an explanation (the reading ease
    of no text is undefined, and 0 is the hardest end of the usual range).

    Raises:
        MissingDependencyError: the ``readability`` package is not installed (``nlp``).

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = Sample("1", "Summarize.")
        >>> out = ModelOutput("The cat sat on the mat. It was warm.")
        >>> readability()(s, TaskState(s, output=out)).value > 90
        True
    """
    try:
        import readability as package
    except ImportError:
        raise MissingDependencyError("readability", "nlp", "readability scores") from None

    def score(sample: Sample, state: TaskState) -> Score:
        sentences = split_sentences(state.completion)
        if not any(_WORD.search(s) for s in sentences):
            return Score(0.0, kind="continuous", explanation="empty answer: no readability")
        measures = package.getmeasures("\n".join(sentences), lang="en")
        grades = {k: round(float(v), 3) for k, v in measures["readability grades"].items()}
        return Score(grades["FleschReadingEase"], kind="continuous",
                     answer=f"Flesch {grades['FleschReadingEase']:.0f}, "
                            f"grade {grades['Kincaid']:.1f}",
                     metadata={"grades": grades,
                               "words_per_sentence": round(float(
                                   measures["sentence info"]["words_per_sentence"]), 3)})

    return score
