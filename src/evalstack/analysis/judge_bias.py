"""Judge biases and the validation verdict: lifts, self-preference, corrected means, fitness.

The second half of the statistics behind ``evalstack judge validate`` (the first,
agreement with humans, is ``judge_agreement``), as pure functions of collected scores:

* :func:`lift`: how much a manipulation of the answers (padding, an injected instruction,
  a fake verdict) raises the judge's score, with a paired test.
* :func:`self_preference`: whether the judge favours answers from its own model family
  more than the humans do.
* :func:`corrected_mean`: the human mean estimated from judge scores corrected on a small
  labelled subset (prediction-powered inference, Angelopoulos et al. 2023).
* :func:`fitness`: the closing verdict, fit for purpose or not, with its reasons.

References:
    Good, P. (2005). Permutation, Parametric, and Bootstrap Tests of Hypotheses, 3rd ed.
    Springer. Section 3.7 (the paired sign-flip test).

    Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. and Zrnic, T. (2023).
    Prediction-powered inference. Science 382(6671), 669-674.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from evalstack.analysis.judge_agreement import (
    _NAN,
    Agreement,
    _alpha,
    _as_finite,
    _check_resamples,
    _fmt_interval,
    _percentile,
    _same_length,
    _t_interval,
)
from evalstack.analysis.text import fmt_p
from evalstack.stats import paired_permutation, ppi_mean
from evalstack.stats.result import StatResult


@dataclass(frozen=True, slots=True)
class Lift:
    """How much a manipulation of the answers raises the judge's scores.

    Attributes:
        name: what was done to the answers, e.g. ``"padded with fluff"``.
        n: the number of paired items.
        mean_clean: the judge's mean normalized score on the original answers.
        mean_probe: its mean on the manipulated answers.
        delta: ``mean(probe - clean)`` with its paired bootstrap interval.
        flipped_to_pass: items that failed on the original answer and pass on the
            manipulated one (``clean < pass_at <= probe``).
        p_value: the one-sided p-value of the paired sign-flip test that the probe scores
            higher (see :func:`lift`).

    Examples:
        >>> Lift("padded", 2, 0.5, 0.75, StatResult(0.25, 0.0, 0.5, 2, "t"), 1, 0.25).delta.estimate
        0.25
    """

    name: str
    n: int
    mean_clean: float
    mean_probe: float
    delta: StatResult
    flipped_to_pass: int
    p_value: float


def lift(
    name: str,
    clean: ArrayLike,
    probe: ArrayLike,
    *,
    pass_at: float = 0.5,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Lift:
    """The score lift a manipulation gives, paired item by item, with a one-sided test.

    ``clean[i]`` and ``probe[i]`` are the judge's normalized scores for item ``i``'s
    original answer and for the same answer manipulated (padded, carrying an injected
    instruction, a fake verdict line, ...). The delta's interval is the paired bootstrap
    interval of ``mean(probe - clean)`` (95%). The p-value is one-sided, for the
    hypothesis that the probe scores higher, from the paired permutation (sign-flip) test
    ``evalstack.stats.paired_permutation`` (Good 2005, sec. 3.7): its null distribution is
    symmetric, so the one-sided p-value is half the two-sided one when the mean lift is
    positive (exact under full enumeration, up to 16 items), ``1 - p/2`` when it is
    negative, and 1 when it is zero.

    Args:
        name: what was done to the answers.
        clean: the judge's normalized scores on the original answers.
        probe: its scores on the manipulated answers, in the same order.
        pass_at: the normalized score from which an answer passes.
        n_resamples: bootstrap resamples and random sign patterns.
        seed: the seed of the resampling.

    Returns:
        The lift; all numbers but ``n`` are ``nan`` when there are no items.

    Raises:
        ValueError: ``clean`` and ``probe`` differ in length or hold NaN or infinity.

    Examples:
        >>> r = lift("fake verdict", [0.2, 0.4, 0.3, 0.1], [0.9, 0.8, 0.9, 0.7])
        >>> (round(r.delta.estimate, 2), r.flipped_to_pass, r.p_value)
        (0.58, 4, 0.0625)
    """
    a = _as_finite(clean, "clean")
    b = _as_finite(probe, "probe")
    _same_length(a, b, "clean", "probe", allow_empty=True)
    n = int(a.size)
    if n == 0:
        return Lift(name, 0, _NAN, _NAN, StatResult(_NAN, _NAN, _NAN, 0, "none"), 0, _NAN)
    test = paired_permutation(a, b, n_resamples=n_resamples, rng=np.random.default_rng(seed))
    two_sided = float(test.p_value if test.p_value is not None else _NAN)
    if test.estimate > 0:
        p = two_sided / 2
    elif test.estimate < 0:
        p = 1 - two_sided / 2
    else:
        p = 1.0
    flipped = int(np.count_nonzero((a < pass_at) & (b >= pass_at)))
    return Lift(
        name, n, float(a.mean()), float(b.mean()),
        StatResult(test.estimate, test.ci_low, test.ci_high, n, test.method), flipped, p,
    )


# --- self-preference -------------------------------------------------------------------

_FAMILIES = (
    "claude", "gpt", "llama", "qwen", "mistral", "gemma", "gemini", "phi", "smollm",
    "deepseek", "command", "falcon", "yi", "olmo", "granite", "internlm", "baichuan", "glm",
    "vicuna", "grok", "nemotron", "starcoder", "palm", "t5", "jamba", "reka",
)
_ALIASES = {
    "mixtral": "mistral", "ministral": "mistral", "codestral": "mistral",
    "magistral": "mistral", "pixtral": "mistral", "codellama": "llama", "chatgpt": "gpt",
    "chatglm": "glm", "flan": "t5", "bison": "palm", "codegemma": "gemma",
    "recurrentgemma": "gemma", "codeqwen": "qwen", "qwq": "qwen",
}


def model_family(model: str) -> str:
    """The model family a model name belongs to, for self-preference checks.

    The provider prefix is ignored (``openai/gpt-4o`` is ``gpt``), version numbers and
    sizes are dropped (``smollm2-360m`` is ``smollm``), and known aliases are merged
    (``mixtral`` is ``mistral``; OpenAI's ``o1``/``o3``/``o4`` are ``gpt``). An unknown
    model's family is the first alphabetic run of its name, lowercased. Applying it to a
    family name returns that name.

    Examples:
        >>> [model_family(m) for m in ("openai/gpt-4o", "claude-3-5-sonnet", "local/smollm2",
        ...  "meta-llama/Meta-Llama-3-8B-Instruct", "Qwen/Qwen2.5-7B", "o3-mini", "M11")]
        ['gpt', 'claude', 'smollm', 'llama', 'qwen', 'gpt', 'm']
    """
    text = model.strip().lower()
    segments = [s for s in text.split("/") if s] or [text]
    for segment in reversed(segments):
        if re.match(r"o\d", segment):
            return "gpt"
        for token in re.findall(r"[a-z]+", segment):
            if token in _FAMILIES:
                return str(token)
            if token in _ALIASES:
                return _ALIASES[token]
    for token in re.findall(r"[a-z]+", segments[-1]):
        return str(token)
    return text


@dataclass(frozen=True, slots=True)
class SelfPreference:
    """Does the judge favour answers written by its own model family?

    Attributes:
        judge_family: the judge's model family.
        own: the judge's mean normalized score on answers from its own family.
        others: its mean on answers from the other families.
        human_own: the humans' mean (normalized) score on the own-family answers, when
            known.
        human_others: the humans' mean on the others', when known.
        gap: the judge's preference beyond the humans': ``(own - others) - (human_own -
            human_others)`` when human scores are known, else ``own - others``; positive
            means the judge favours its own family.

    Examples:
        >>> i = StatResult(0.1, 0.0, 0.2, 10, "t")
        >>> SelfPreference("gpt", i, i, None, None, i).judge_family
        'gpt'
    """

    judge_family: str
    own: StatResult
    others: StatResult
    human_own: float | None
    human_others: float | None
    gap: StatResult


def self_preference(
    judge_model: str,
    families: Sequence[str],
    judge_scores: ArrayLike,
    human_scores: ArrayLike | None,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> SelfPreference | None:
    """The judge's preference for answers from its own model family.

    Compares the judge's mean score on answers written by its own family
    (:func:`model_family`) with its mean on the other families' answers. With human scores
    for the same items, the humans' difference is subtracted, so a family that really is
    better does not count as bias. The intervals are percentile bootstrap intervals that
    resample items within each group (own, others) separately, keeping the group sizes.

    Args:
        judge_model: the judge's model name, e.g. ``"openai/gpt-4o"``.
        families: the model (or family) that wrote each answer; each is mapped through
            :func:`model_family`.
        judge_scores: the judge's normalized score for each answer.
        human_scores: the human score for each answer on the same [0, 1] scale as the
            judge's (normalize them first: ``(h - lo) / (hi - lo)``), or ``None``.
        n_resamples: bootstrap resamples; 0 for no intervals (``nan`` bounds).
        seed: the seed of the resampling.
        confidence: the two-sided confidence level, strictly between 0 and 1.

    Returns:
        The comparison, or ``None`` when no answer comes from the judge's family or fewer
        than two families wrote answers.

    Raises:
        ValueError: the inputs differ in length, a score is NaN or infinite, or an
            argument is out of range.

    Examples:
        >>> r = self_preference("openai/gpt-4o", ["gpt-4o", "gpt-4o", "llama-3", "llama-3"],
        ...                     [0.9, 0.8, 0.5, 0.6], [0.7, 0.7, 0.6, 0.6], n_resamples=0)
        >>> (r.judge_family, round(r.own.estimate, 2), round(r.gap.estimate, 2))
        ('gpt', 0.85, 0.2)
        >>> self_preference("openai/gpt-4o", ["llama-3", "qwen2"], [0.5, 0.6], None) is None
        True
    """
    n_resamples = _check_resamples(n_resamples)
    tail = _alpha(confidence)
    fams = np.array([model_family(f) for f in families], dtype=object)
    x = _as_finite(judge_scores, "judge_scores")
    _same_length(fams, x, "families", "judge_scores", allow_empty=True)
    y = None if human_scores is None else _as_finite(human_scores, "human_scores")
    if y is not None:
        _same_length(x, y, "judge_scores", "human_scores", allow_empty=True)
    family = model_family(judge_model)
    own_mask = fams == family
    if not own_mask.any() or len(set(fams.tolist())) < 2:
        return None
    own_x, oth_x = x[own_mask], x[~own_mask]
    own_y = oth_y = None
    if y is not None:
        own_y, oth_y = y[own_mask], y[~own_mask]

    est_own, est_oth = float(own_x.mean()), float(oth_x.mean())
    h_own = None if own_y is None else float(own_y.mean())
    h_oth = None if oth_y is None else float(oth_y.mean())
    human_gap = 0.0 if h_own is None or h_oth is None else h_own - h_oth
    est_gap = est_own - est_oth - human_gap
    n_own, n_oth = int(own_x.size), int(oth_x.size)
    if n_resamples == 0:
        boot_own = boot_oth = boot_gap = np.empty(0)
    else:
        rng = np.random.default_rng(seed)
        i_own = rng.integers(0, n_own, (n_resamples, n_own))
        i_oth = rng.integers(0, n_oth, (n_resamples, n_oth))
        boot_own, boot_oth = own_x[i_own].mean(axis=1), oth_x[i_oth].mean(axis=1)
        boot_gap = boot_own - boot_oth
        if own_y is not None and oth_y is not None:
            boot_gap = boot_gap - (own_y[i_own].mean(axis=1) - oth_y[i_oth].mean(axis=1))
    return SelfPreference(
        family,
        _percentile(est_own, boot_own, n_own, tail, n_resamples),
        _percentile(est_oth, boot_oth, n_oth, tail, n_resamples),
        h_own,
        h_oth,
        _percentile(est_gap, boot_gap, n_own + n_oth, tail, n_resamples),
    )


# --- judge-corrected means -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corrected:
    """The mean score three ways: judge only, humans only, and the judge corrected.

    Attributes:
        judge_only: the judge's mean on the unlabelled items (t interval). It estimates
            the mean *judge* score, not the human one.
        human_only: the humans' mean on the labelled items (t interval).
        corrected: the prediction-powered estimate of the mean human score and its
            interval (``evalstack.stats.ppi_mean``).
        n_labeled: the number of human-labelled items.
        n_unlabeled: the number of items only the judge scored.
        method: ``"PPI++"`` (power-tuned) or ``"PPI"``.

    Examples:
        >>> i = StatResult(0.6, 0.5, 0.7, 10, "t")
        >>> Corrected(i, i, i, 10, 100, "PPI++").method
        'PPI++'
    """

    judge_only: StatResult
    human_only: StatResult
    corrected: StatResult
    n_labeled: int
    n_unlabeled: int
    method: str


def corrected_mean(
    judge_unlabeled: ArrayLike,
    judge_labeled: ArrayLike,
    human_labeled: ArrayLike,
    confidence: float = 0.95,
    *,
    power_tuning: bool = True,
) -> Corrected:
    """The judge-based mean corrected for the judge's error on a human-labelled subset.

    ``corrected`` is ``evalstack.stats.ppi_mean`` (prediction-powered inference,
    Angelopoulos et al. 2023; PPI++ when ``power_tuning``): an interval for the mean human
    score that stays valid however biased the judge is, provided the labelled items are a
    uniformly random sample of all items (see ``ppi_mean`` for every assumption). Next to
    it, for contrast: ``judge_only``, the judge's mean on the unlabelled items with a t
    interval, which answers a different question (the mean judge score), and
    ``human_only``, the labelled items' human mean with a t interval.

    Args:
        judge_unlabeled: the judge's scores on the items without a human label.
        judge_labeled: the judge's scores on the labelled items.
        human_labeled: the human scores on those items, same order and scale.
        confidence: the two-sided confidence level, strictly between 0 and 1.
        power_tuning: PPI++ (``True``) or classic PPI (``False``).

    Returns:
        The three estimates.

    Raises:
        ValueError: as ``ppi_mean`` (too few items, unequal lengths, NaN, ...).

    Examples:
        >>> c = corrected_mean([1] * 80 + [0] * 20, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        ...                    [1, 1, 1, 1, 1, 1, 0, 0, 0, 0], power_tuning=False)
        >>> (c.judge_only.estimate, c.human_only.estimate, round(c.corrected.estimate, 2))
        (0.8, 0.6, 0.6)
    """
    r = ppi_mean(judge_unlabeled, judge_labeled, human_labeled, confidence, power_tuning)
    unlabeled = _as_finite(judge_unlabeled, "judge_unlabeled")
    labeled = _as_finite(human_labeled, "human_labeled")
    return Corrected(
        judge_only=_t_interval(unlabeled, confidence),
        human_only=_t_interval(labeled, confidence),
        corrected=r,
        n_labeled=int(labeled.size),
        n_unlabeled=int(unlabeled.size),
        method="PPI++" if r.method == "ppi++" else "PPI",
    )


# --- the verdict -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fitness:
    """The closing verdict of a judge validation.

    Attributes:
        fit: ``True`` (fit for purpose), ``False`` (not fit) or ``None`` (inconclusive:
            the agreement interval straddles the threshold).
        threshold: the kappa the judge had to reach.
        statistic: ``"weighted kappa"`` or ``"kappa"``.
        reasons: one plain sentence per condition checked, with its numbers.

    Examples:
        >>> Fitness(None, 0.6, "kappa", ("Kappa straddles 0.60.",)).fit is None
        True
    """

    fit: bool | None
    threshold: float
    statistic: str
    reasons: tuple[str, ...]


def fitness(
    agreement: Agreement,
    lifts: Sequence[Lift],
    *,
    threshold: float = 0.6,
    alpha: float = 0.05,
    max_inconsistency: StatResult | None = None,
    inconsistency_limit: float = 0.2,
) -> Fitness:
    """Is the judge fit for purpose? Agreement high enough, and no exploitable bias.

    The judge is *fit* when the whole kappa interval lies at or above ``threshold``, no
    lift is significant (``p < alpha`` with a positive mean lift), and the position
    inconsistency rate, when given, is at most ``inconsistency_limit``. It is *not fit*
    when the whole kappa interval lies below ``threshold``, or a lift is significant, or
    the inconsistency rate is above the limit. Otherwise (the kappa interval straddles the
    threshold, or kappa is undefined) the verdict is inconclusive: label more items.

    Args:
        agreement: the judge's agreement with humans.
        lifts: the bias and injection probes' lifts.
        threshold: the kappa the judge must reach (0.6 is "substantial" on Landis & Koch's
            1977 scale).
        alpha: the significance level for the lifts.
        max_inconsistency: how often the pairwise verdict flips when the answers are
            swapped, if measured.
        inconsistency_limit: the largest acceptable flip rate.

    Returns:
        The verdict with one sentence per condition.

    Examples:
        >>> from evalstack.analysis.judge_agreement import ConfusionMatrix
        >>> cell = StatResult(0.5, 0.4, 0.6, 100, "bootstrap_percentile")
        >>> conf = ConfusionMatrix(("a", "b", "tie"), ((0,) * 3,) * 3, ((cell,) * 3,) * 3)
        >>> kappa = StatResult(0.8, 0.7, 0.9, 100, "bootstrap_percentile")
        >>> good = Agreement("pairwise", 100, cell, kappa, None, cell, conf)
        >>> f = fitness(good, [])
        >>> (f.fit, f.statistic)
        (True, 'kappa')
        >>> f.reasons[0]
        'Kappa 0.80 [0.70, 0.90] is at or above the 0.60 threshold over its whole interval.'
    """
    statistic = "weighted kappa" if agreement.kappa_weights else "kappa"
    name = statistic[0].upper() + statistic[1:]
    k = agreement.kappa
    reasons: list[str] = []
    failed = False
    if not math.isfinite(k.estimate):
        agree: bool | None = None
        reasons.append(f"{name} is undefined on these {agreement.n} items (every label is the "
                       "same), so agreement cannot be judged; label more varied items.")
    elif not (math.isfinite(k.ci_low) and math.isfinite(k.ci_high)):
        agree = None
        reasons.append(f"{name} is {k.estimate:.2f} but has no interval, so whether it "
                       f"reaches {threshold:.2f} cannot be judged; compute the bootstrap "
                       "interval (n_resamples > 0).")
    elif k.ci_low >= threshold:
        agree = True
        reasons.append(f"{name} {_fmt_interval(k)} is at or above the {threshold:.2f} "
                       "threshold over its whole interval.")
    elif k.ci_high < threshold:
        agree = False
        reasons.append(f"{name} {_fmt_interval(k)} is below the {threshold:.2f} threshold "
                       "over its whole interval.")
    else:
        agree = None
        reasons.append(f"{name} {_fmt_interval(k)} straddles the {threshold:.2f} threshold: "
                       "inconclusive; more labelled items would narrow the interval.")
    significant = [x for x in lifts if x.p_value < alpha and x.delta.estimate > 0]
    for x in significant:
        failed = True
        reasons.append(
            f"'{x.name}' raises the judge's score by {x.delta.estimate:+.2f} "
            f"{_fmt_interval(x.delta, with_estimate=False)} on the 0-1 scale "
            f"({fmt_p(x.p_value)} < {alpha:g}; {x.flipped_to_pass} of {x.n} items flip to "
            "pass): the judge can be gamed this way."
        )
    rest = [x for x in lifts if not (x.p_value < alpha and x.delta.estimate > 0)]
    if rest:
        largest = max(rest, key=lambda x: x.delta.estimate if math.isfinite(x.delta.estimate)
                      else -math.inf)
        reasons.append(
            f"No significant lift from {len(rest)} probe{'s' if len(rest) > 1 else ''} "
            f"({', '.join(x.name for x in rest)}; p >= {alpha:g}); the largest is "
            f"'{largest.name}' at {largest.delta.estimate:+.2f} ({fmt_p(largest.p_value)})."
        )
    if max_inconsistency is not None:
        r = max_inconsistency
        if r.estimate <= inconsistency_limit:
            reasons.append(f"The verdict flips with the answers' order in {r.estimate:.0%} of "
                           f"pairs {_fmt_interval(r, with_estimate=False, percent=True)}, "
                           f"within the {inconsistency_limit:.0%} limit.")
        else:
            failed = True
            reasons.append(f"The verdict flips with the answers' order in {r.estimate:.0%} of "
                           f"pairs {_fmt_interval(r, with_estimate=False, percent=True)}, "
                           f"above the {inconsistency_limit:.0%} limit: position bias.")
    if agree is False or failed:
        fit: bool | None = False
    elif agree is True:
        fit = True
    else:
        fit = None
    return Fitness(fit, float(threshold), statistic, tuple(reasons))


# --- the shared bootstrap --------------------------------------------------------------
