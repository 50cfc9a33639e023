"""Min-K% Prob and Min-K%++ membership scores of texts under a local model, and their AUC.

Each text is scored once through the model layer (``Model.token_scores``: every token's
``log p(token | prefix)`` and the mean and variance of log p over the vocabulary at each
position); ``stats.mink`` turns those into the two scores. Higher means "more likely seen in
training". With texts labelled member / non-member, each score's ROC AUC (members positive)
comes with its DeLong 95% interval and the n of each group: an AUC near 0.5 says the score
cannot tell them apart on this model.

Only models that expose their full next-token distribution can be scored (local llama.cpp
and transformers models); any other is refused before the first request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalstack.core.errors import ConfigError, DataError
from evalstack.core.types import Capability, TokenScoresRequest
from evalstack.model.model import TOKEN_SCORES_OFFERED, Model
from evalstack.stats.mink import auc_with_interval, min_k_plus_plus, min_k_prob
from evalstack.stats.result import StatResult

#: The scores reported, with what they are.
SCORES = {
    "min_k_prob": "Min-K% Prob (mean log p of the lowest k tokens)",
    "min_k_plus_plus": "Min-K%++ (mean standardised log p of the lowest k tokens)",
}


@dataclass(frozen=True, slots=True)
class Text:
    """One text to score; ``member`` is ``True``/``False`` when its label is known."""

    id: str
    text: str
    member: bool | None = None


@dataclass(frozen=True, slots=True)
class ItemScores:
    """The two membership scores of one text, over ``n_tokens`` scored tokens."""

    id: str
    member: bool | None
    n_tokens: int
    min_k_prob: float
    min_k_plus_plus: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "member": self.member, "n_tokens": self.n_tokens,
                "min_k_prob": self.min_k_prob, "min_k_plus_plus": self.min_k_plus_plus}


@dataclass(frozen=True, slots=True)
class MinkReport:
    """Every text's scores and, with both labels present, each score's AUC."""

    model: str
    k: float
    items: tuple[ItemScores, ...]
    auc: dict[str, StatResult] | None
    n_members: int
    n_nonmembers: int

    def to_dict(self) -> dict[str, Any]:
        auc = None if self.auc is None else {
            name: {"auc": _num(r.estimate), "ci_low": _num(r.ci_low), "ci_high": _num(r.ci_high),
                   "n": r.n, "n_members": self.n_members, "n_nonmembers": self.n_nonmembers,
                   "method": r.method, "p_value": r.p_value, "se": r.se}
            for name, r in self.auc.items()}
        return {"model": self.model, "k": self.k, "n": len(self.items),
                "items": [i.to_dict() for i in self.items], "auc": auc}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def check_model(model: Model) -> None:
    """Refuse, before any request, a model that cannot give token scores."""
    if Capability.TOKEN_SCORES not in model.capabilities:
        raise ConfigError(
            f"Min-K% scores need token log-probabilities and each position's full "
            f"next-token distribution; {model.name} does not offer them. "
            f"Models that do: {TOKEN_SCORES_OFFERED}; pass one with --model."
        )


def _check_texts(texts: Sequence[Text], k: float) -> None:
    if not texts:
        raise DataError("Expected at least one text to score; received none. Give a task or "
                        "a .jsonl file with an 'input' field per line, or --members and "
                        "--nonmembers.")
    if isinstance(k, bool) or not 0 < k <= 1:
        raise ConfigError(f"Expected --k, the fraction of lowest tokens kept, in (0, 1]; "
                          f"received {k!r}. The papers use 0.2.")
    for t in texts:
        if not t.text.strip():
            raise DataError(f"Item {t.id!r} has an empty text; every item needs text to score. "
                            f"Remove it or fill in its input.")


async def score_texts(model: Model, texts: Sequence[Text], *, k: float = 0.2) -> MinkReport:
    """Score every text (one model request each) and, with labels, each score's AUC.

    Raises:
        ConfigError: the model does not offer token scores (before any request), or ``k``
            is outside (0, 1].
        DataError: no texts, or an empty one (before any request).
    """
    check_model(model)
    _check_texts(texts, k)
    items: list[ItemScores] = []
    for t in texts:
        scores = await model.token_scores(TokenScoresRequest(t.text))
        items.append(ItemScores(
            t.id, t.member, len(scores.logprobs), min_k_prob(scores.logprobs, k),
            min_k_plus_plus(scores.logprobs, scores.mean, scores.variance, k)))
    members = [i for i in items if i.member is True and not math.isnan(i.min_k_prob)]
    nonmembers = [i for i in items if i.member is False and not math.isnan(i.min_k_prob)]
    auc = None
    if members and nonmembers:
        auc = {name: auc_with_interval([getattr(i, name) for i in members],
                                       [getattr(i, name) for i in nonmembers])
               for name in SCORES}
    return MinkReport(model.name, k, tuple(items), auc, len(members), len(nonmembers))
