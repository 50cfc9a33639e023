"""Paraphrases of the question, made by a model through the model layer and checked.

A paraphrase keeps the meaning only if it passes the checks; an item none of whose
paraphrases pass is left out and counted, with the reason, before any variant is run:

- always: the reply is a question that differs from the original; it keeps every number of
  the original and adds none (a changed quantity changes the answer), and for a
  multiple-choice item it names no option the original did not (that would give the answer
  away), nor two or more content words of the options that the question lacks (a reply that
  completes the stem with an answer). The options themselves are never rewritten: the same
  options keep the same key.
- ``check=judge`` (the default for items without options): the paraphrasing model is also
  asked whether the two questions have the same answer, and a "no" rejects the paraphrase.

The model is asked through ``get_model``, so the command's response cache keeps every reply:
a rerun with the same settings makes no paraphrasing request, and builds the same variants.
The paraphraser's spec, check and prompt version are stored with the run (``args.perturb``).

    evalstack robust gsm8k --limit 50 --perturb 'paraphrase:model=local/smollm2,variants=2'
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample
from evalstack.perturb.base import Perturbation, check_variants, with_question
from evalstack.scorers.judge.model import DEFAULT_JUDGE, JudgeModel, content_key

CHECKS = ("auto", "rules", "judge")
PROMPT_VERSION = 1
_SYSTEM = ("You rewrite questions in other words. You never answer them.")
_ASK = (
    "Rewrite the question below in different words. Keep its meaning, and keep every "
    "number and every name exactly as written, so that it has the same answer. Do not answer "
    "it. Reply with the rewritten question only.\n\nQuestion:\n{question}"
)
_ASK_CHOICES = (
    "\n\nIts answer options stay as they are (do not repeat them or choose one):\n{options}"
)
_SAME = (
    "Do these two questions ask for exactly the same thing, so that they have the same "
    "answer? Reply with one word: yes or no.\n\nQuestion 1:\n{a}\n\nQuestion 2:\n{b}"
)
_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:rewritten question|rewritten|paraphrased question|"
                     r"paraphrase|question|here is[^:\n]*)\s*:?(?:\*\*)?\s*:?\s*", re.I)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"\w+")
#: share of the question's content words a paraphrase must keep (names, terms, the topic)
KEEP_WORDS = 0.4
_STOP = frozenset("""about above after again against also because been before being below
between both could does doing down during each from further have having here into itself just
more most much only other over same should some such than that their them then there these
they this those through under until very were what when where which while will with would
your""".split())


def numbers(text: str) -> list[str]:
    """The numbers written in ``text``, normalised (``"1,000"`` -> ``"1000"``, ``"2.50"`` ->
    ``"2.5"``).

    Examples:
        >>> numbers("Tom has 1,000 apples and 2.50 dollars; 3 friends.")
        ['1000', '2.5', '3']
    """
    out = []
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "").rstrip(".")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.append(value)
    return out


def clean_reply(text: str) -> str:
    """The paraphrase in a model's reply: the first paragraph, without a leading label
    (``Rewritten question:``) or surrounding quotes."""
    text = _PREFIX.sub("", text.strip(), count=1).strip()
    text = text.split("\n\n", 1)[0].strip()
    if len(text) >= 2 and text[0] in "\"'\u201c" and text[-1] in "\"'\u201d":
        text = text[1:-1].strip()
    return text


def _squash(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def problem(original: str, paraphrase: str, choices: Sequence[str] = ()) -> str | None:
    """Why ``paraphrase`` does not keep ``original``'s answer, or ``None`` when it passes the
    rule checks.

    Examples:
        >>> problem("Tom has 48 apples. How many?", "How many apples does Tom have, given 24?")
        'it changes the numbers (48 -> 24)'
        >>> problem("What is the capital of France?", "Which city is France's capital?")
    """
    if not paraphrase.strip():
        return "the reply is empty"
    if _squash(paraphrase) == _squash(original):
        return "it repeats the question unchanged"
    ratio = len(paraphrase) / max(1, len(original))
    if not 0.3 <= ratio <= 3:
        return f"its length is {ratio:.1f} times the question's"
    before, after = sorted(set(numbers(original))), sorted(set(numbers(paraphrase)))
    if before != after:
        return (f"it changes the numbers ({', '.join(before) or 'none'} -> "
                f"{', '.join(after) or 'none'})")
    kept = _kept_words(original, paraphrase)
    if kept is not None and kept < KEEP_WORDS:
        return f"it keeps only {100 * kept:.0f}% of the question's content words"
    borrowed = sorted((_content(paraphrase) & set().union(*map(_content, choices)))
                      - _content(original)) if choices else []
    if len(borrowed) >= 2:
        return f"it uses words of the options the question does not ({', '.join(borrowed[:4])})"
    said, had = _squash(paraphrase), _squash(original)
    for option in choices:
        o = _squash(option)
        if len(o) >= 4 and f" {o} " in f" {said} " and f" {o} " not in f" {had} ":
            return f"it names the option {option!r}"
    return None


def _content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if len(w) >= 4 and w not in _STOP}


def _kept_words(original: str, paraphrase: str) -> float | None:
    """The share of ``original``'s content words (4+ letters, not function words) that
    ``paraphrase`` keeps, or ``None`` when the question has fewer than 3 of them."""
    words = _content(original)
    if len(words) < 3:
        return None
    return len(words & _content(paraphrase)) / len(words)


def _yes_no(text: str) -> bool | None:
    """``True`` for yes, ``False`` for no, ``None`` for neither (kept, and taken as no)."""
    for w in _WORD.findall(text.casefold())[:8]:
        if w in ("yes", "same"):
            return True
        if w in ("no", "not", "different"):
            return False
    return None


def paraphrase_messages(question: str, choices: Sequence[str] = ()) -> list[dict[str, str]]:
    """The chat messages that ask for a paraphrase of ``question``."""
    prompt = _ASK.format(question=question)
    if choices:
        prompt += _ASK_CHOICES.format(options="\n".join(f"- {c}" for c in choices))
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]


def same_messages(a: str, b: str) -> list[dict[str, str]]:
    """The chat messages that ask whether two questions have the same answer."""
    return [{"role": "user", "content": _SAME.format(a=a, b=b)}]


class Paraphrase(Perturbation):
    """The question rewritten by a model (``model``, default the embedded one), checked to
    keep its answer; ``variants=N`` paraphrases per item (the first at temperature 0)."""

    name: ClassVar[str] = "paraphrase"
    version: ClassVar[int] = PROMPT_VERSION
    uses_model: ClassVar[bool] = True
    summary: ClassVar[str] = ("the question rewritten by a model and checked "
                              "(model=local/smollm2, variants=1, check=auto|rules|judge)")

    def __init__(self, model: str = DEFAULT_JUDGE, variants: int = 1, check: str = "auto",
                 max_tokens: int = 256, attempts: int = 3, base_url: str | None = None) -> None:
        if not isinstance(model, str) or "/" not in model:
            raise ConfigError(f"paraphrase: model must be a PROVIDER/MODEL spec such as "
                              f"local/smollm2; got {model!r}.")
        if check not in CHECKS:
            raise ConfigError(f"paraphrase: check must be one of {', '.join(CHECKS)}; got "
                              f"{check!r}.")
        if not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"paraphrase: attempts must be a whole number of at least 1; "
                              f"got {attempts!r}.")
        if base_url is not None and (not isinstance(base_url, str) or "@" in base_url
                                     or not base_url.startswith(("http://", "https://"))):
            shown = ("a URL with credentials" if isinstance(base_url, str) and "@" in base_url
                     else repr(base_url))
            raise ConfigError(
                "paraphrase: base_url must be an http(s) URL without credentials (it is stored "
                f"with the run); put the key in $OPENAI_API_KEY. Received {shown}.")
        extra = {"base_url": base_url} if base_url else {}
        super().__init__(model=model, variants=check_variants(self.name, variants),
                         check=check, max_tokens=max_tokens, attempts=attempts, **extra)
        self.made: dict[str, list[str]] = {}
        #: item id -> why no paraphrase of it was kept
        self.rejected: dict[str, str] = {}
        self.requests = 0

    def prepare(self, samples: Sequence[Sample]) -> None:
        """Ask the model for every item's paraphrases (cached replies are reused) and keep
        those that pass the checks."""
        self.made, self.rejected = {}, {}
        todo = [s for s in samples if s.input_text().strip()]
        for s in samples:
            if not s.input_text().strip():
                self.rejected[s.id] = "the item has no question text"
        if todo:
            asyncio.run(self._prepare(todo))

    async def _prepare(self, samples: Sequence[Sample]) -> None:
        from evalstack.model.context import current_context
        from evalstack.model.resolve import resolve_model

        p = self.params
        provider = resolve_model(p["model"], {"base_url": p["base_url"]} if p.get("base_url")
                                 else {})
        before = sum(m.requests for m in current_context().models())
        try:
            ready = getattr(provider, "prepare", None)
            if ready is not None:
                await ready()
            # one asker per (variant, attempt): its own temperature and seed, so each reply
            # is cached under its own key (rejected ones too: a rerun asks nothing again)
            askers = [[JudgeModel(provider, max_attempts=1, max_tokens=p["max_tokens"],
                                  temperature=0.0 if k == 0 and a == 0 else 0.9,
                                  seed=1000 * k + a)
                       for a in range(p["attempts"])] for k in range(p["variants"])]
            results = await asyncio.gather(*(self._one(s, askers) for s in samples))
        finally:
            self.requests = sum(m.requests for m in current_context().models()) - before
            await provider.aclose()
        for sample, (kept, reason) in zip(samples, results, strict=True):
            if kept:
                self.made[sample.id] = kept
            else:
                self.rejected[sample.id] = reason

    async def _one(self, sample: Sample,
                   askers: list[list[JudgeModel]]) -> tuple[list[str], str]:
        question = sample.input_text().strip()
        choices = tuple(str(c) for c in sample.choices or ())
        messages = paraphrase_messages(question, choices)
        use_judge = self.params["check"] == "judge" or (self.params["check"] == "auto"
                                                        and not choices)
        kept: list[str] = []
        reason = ""
        for k, attempts in enumerate(askers):
            for a, asker in enumerate(attempts):
                key = content_key("paraphrase", str(PROMPT_VERSION), question, *choices,
                                  str(k), str(a))
                text = clean_reply((await asker.ask(messages, str, key=key)).verdict)
                why = problem(question, text, choices)
                if why is None and use_judge and not await self._same(askers[0][0], question,
                                                                       text):
                    why = "the model judged that it asks something else"
                if why is None and text not in kept:
                    kept.append(text)
                    break
                reason = why or "it repeats another paraphrase"
        return kept, reason

    async def _same(self, asker: JudgeModel, a: str, b: str) -> bool:
        reply = await asker.ask(same_messages(a, b), _yes_no,
                                key=content_key("same-question", str(PROMPT_VERSION), a, b))
        return reply.verdict is True

    def variants(self, sample: Sample, rng: random.Random) -> list[Sample] | None:
        kept = self.made.get(sample.id)
        if not kept:
            return None
        return [with_question(sample, text) for text in kept]

    def report(self) -> dict[str, Any]:
        """What ``prepare`` did: items kept and rejected (with reasons) and the requests it
        made (0 when every reply came from the cache)."""
        return {"kept": len(self.made), "rejected": dict(self.rejected),
                "requests": self.requests}
