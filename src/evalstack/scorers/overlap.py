"""Text-overlap scorers from the field's own libraries: sacrebleu and rouge-score.

- ``bleu`` and ``chrf``: sacrebleu's sentence-level BLEU (Papineni et al. 2002, with
  sacrebleu's defaults: 13a tokenisation, exponential smoothing, effective order) and chrF
  (Popović 2015), with every target as a reference; the value is sacrebleu's score / 100.
- ``rouge1``, ``rouge2``, ``rougeL``: rouge-score's F-measure (Lin 2004) with the Porter
  stemmer, the maximum over the targets.

Both libraries come with the ``nlp`` extra (``pip install 'evalstack[nlp]'``) and are
imported when a scorer is built, not when this module is imported. Note that rouge-score's
tokenizer keeps only ASCII letters and digits, so it scores non-Latin scripts as empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import MissingDependencyError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample

ScoreFn = Callable[[Sample, TaskState], Score]


def _sacrebleu_metric(name: str, purpose: str) -> Any:
    try:
        from sacrebleu import metrics
    except ImportError:
        raise MissingDependencyError("sacrebleu", "nlp", purpose) from None
    if name == "bleu":
        # The settings of sacrebleu.sentence_bleu.
        # (sacrebleu.metrics re-exports its classes without __all__, hence the ignores)
        return metrics.BLEU(  # type: ignore[attr-defined, unused-ignore]
            smooth_method="exp", smooth_value=None, effective_order=True)
    # the settings of sacrebleu.sentence_chrf
    return metrics.CHRF()  # type: ignore[attr-defined, unused-ignore]


def _sentence_scorer(metric: Any) -> ScoreFn:
    def score(sample: Sample, state: TaskState) -> Score:
        result = metric.sentence_score(state.completion, list(sample.targets))
        return Score(result.score / 100.0, kind="continuous")

    return score


@component("scorer")
def bleu() -> ScoreFn:
    """Sentence BLEU against all targets as references, on a 0-1 scale (sacrebleu).

    Returns:
        A scorer of kind ``continuous`` equal to
        ``sacrebleu.sentence_bleu(output, targets).score / 100``.

    Raises:
        MissingDependencyError: sacrebleu is not installed (the ``nlp`` extra).

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "Translate", "The cat sat on the mat.")
        >>> state = TaskState(sample, output=ModelOutput("The cat sat on the mat."))
        >>> round(bleu()(sample, state).value, 6)
        1.0
    """
    return _sentence_scorer(_sacrebleu_metric("bleu", "The BLEU scorer"))


@component("scorer")
def chrf() -> ScoreFn:
    """Sentence chrF against all targets as references, on a 0-1 scale (sacrebleu).

    Returns:
        A scorer of kind ``continuous`` equal to
        ``sacrebleu.sentence_chrf(output, targets).score / 100``.

    Raises:
        MissingDependencyError: sacrebleu is not installed (the ``nlp`` extra).
    """
    return _sentence_scorer(_sacrebleu_metric("chrf", "The chrF scorer"))


def _rouge(rouge_type: str) -> ScoreFn:
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise MissingDependencyError("rouge-score", "nlp", f"The {rouge_type} scorer") from None
    scorer = rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)

    def score(sample: Sample, state: TaskState) -> Score:
        prediction = state.completion
        best = max(scorer.score(t, prediction)[rouge_type].fmeasure for t in sample.targets)
        return Score(float(best), kind="continuous")

    return score


@component("scorer")
def rouge1() -> ScoreFn:
    """ROUGE-1 F-measure (unigrams, Porter stemmer), the best over the targets.

    Returns:
        A scorer of kind ``continuous``.

    Raises:
        MissingDependencyError: rouge-score is not installed (the ``nlp`` extra).
    """
    return _rouge("rouge1")


@component("scorer")
def rouge2() -> ScoreFn:
    """ROUGE-2 F-measure (bigrams, Porter stemmer), the best over the targets.

    Returns:
        A scorer of kind ``continuous``.

    Raises:
        MissingDependencyError: rouge-score is not installed (the ``nlp`` extra).
    """
    return _rouge("rouge2")


@component("scorer")
def rougeL() -> ScoreFn:
    """ROUGE-L F-measure (longest common subsequence, Porter stemmer), best over the targets.

    Returns:
        A scorer of kind ``continuous``.

    Raises:
        MissingDependencyError: rouge-score is not installed (the ``nlp`` extra).
    """
    return _rouge("rougeL")
