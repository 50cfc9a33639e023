"""Answer-side RAG metrics and summary faithfulness, judged statement by statement.

- ``faithfulness``: the answer is split into sentences (its claims); the judge checks each
  against the context (the passages the pipeline retrieved, a ``contexts`` field of the
  sample, or a source document for summaries). The value is the share of claims the judge
  found supported; the unsupported ones are listed with the score.
- ``context_recall``: the reference answer's sentences, each checked against the retrieved
  context: the share the context supports.
- ``context_precision``: each retrieved passage, in rank order, judged useful (or not) for
  answering the question given the reference; the value is the average precision over the
  useful ranks (Ragas' definition), 0 when none is useful.
- ``answer_relevance``: a rubric judge (``llm_judge`` with the ``answer_relevance`` rubric):
  does the answer address the question?

**Undecided is counted, never dropped.** A statement the judge says it cannot decide, or one
whose replies held no usable verdict after the bounded retries, is *undecided*. Ragas drops
such statements as NaN from the mean; DeepEval counts "idk" as faithful. Here each score
stores its ``supported``, ``unsupported`` and ``undecided`` counts, and ``undecided=`` says
how the value treats them:

- ``"count"`` (default): an undecided statement is not shown supported, so it counts against
  the value (conservative: the value is a lower bound on the judged faithfulness);
- ``"exclude"``: the value is over the decided statements only; a sample whose statements are
  all undecided is a judge error (stored, counted, judged again on resume), never a score.

An answer with no statements at all (empty) has no faithfulness to measure: a judge error
(``ScorerError``), not the 1.0 DeepEval gives it. Every score records its judge (model,
reported version, template hash) as ``llm_judge`` does, and every metric can be checked
against human labels with ``evalstack judge validate --scorer NAME``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.provider import ModelProvider
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample
from evalstack.scorers.judge.model import DEFAULT_JUDGE, JudgeModel, JudgeReply
from evalstack.scorers.judge.rubric import Criterion, Rubric
from evalstack.scorers.judge.scorer import SpecScrubbed, _JudgeScorer, llm_judge
from evalstack.scorers.judge.statements import (
    CheckedStatement,
    StatementJudge,
    split_sentences,
)

Undecided = Literal["count", "exclude"]
UNDECIDED_POLICIES = ("count", "exclude")
#: The field of a sample that may hold its contexts when the target returns none.
CONTEXTS_FIELD = "contexts"
#: The field of a sample that may hold a summary's key points (else: the reference).
KEY_POINTS_FIELD = "key_points"
_MAX_STATEMENTS = 30


@dataclass(frozen=True, slots=True)
class StatementTally:
    """A judged answer's statements and its value under an ``undecided`` policy.

    Attributes:
        statements: every statement with its verdict, in order.
        value: the metric's value, in [0, 1].
        undecided_policy: how undecided statements entered ``value``.
        truncated: statements beyond the cap that were not checked.
    """

    statements: tuple[CheckedStatement, ...]
    value: float
    undecided_policy: Undecided
    truncated: int = 0

    @property
    def supported(self) -> int:
        return sum(s.decision == "yes" for s in self.statements)

    @property
    def unsupported(self) -> int:
        return sum(s.decision == "no" for s in self.statements)

    @property
    def undecided(self) -> int:
        return sum(s.decision == "undecided" for s in self.statements)

    @property
    def normalized(self) -> float:
        """The value (what ``judge validate`` compares with the human labels)."""
        return self.value

    def counts(self) -> dict[str, int]:
        return {"statements": len(self.statements), "supported": self.supported,
                "unsupported": self.unsupported, "undecided": self.undecided,
                "not_checked": self.truncated}


def share_supported(statements: Sequence[CheckedStatement], policy: Undecided) -> float | None:
    """The share of statements judged ``yes`` under ``policy`` (None: nothing to divide by).

    Examples:
        >>> s = [CheckedStatement("a", "yes", ""), CheckedStatement("b", "undecided", "")]
        >>> share_supported(s, "count"), share_supported(s, "exclude")
        (0.5, 1.0)
        >>> share_supported([CheckedStatement("b", "undecided", "")], "exclude") is None
        True
    """
    yes = sum(s.decision == "yes" for s in statements)
    total = len(statements) if policy == "count" else sum(
        s.decision != "undecided" for s in statements)
    return None if total == 0 else yes / total


def precision_over_ranks(useful: Sequence[CheckedStatement], policy: Undecided) -> float | None:
    """Ragas' context precision: the mean of precision@k over the ranks k judged useful.

    Undecided passages count as not useful (``count``) or are left out of the ranking
    (``exclude``). None when ``exclude`` leaves no passage.

    Examples:
        >>> v = [CheckedStatement("1", "no", ""), CheckedStatement("2", "yes", "")]
        >>> precision_over_ranks(v, "count")
        0.5
    """
    ranked = [s for s in useful if policy == "count" or s.decision != "undecided"]
    if not ranked:
        return None
    hits, total = 0, 0.0
    for k, s in enumerate(ranked, start=1):
        if s.decision == "yes":
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


def sample_contexts(sample: Sample, state: TaskState, field: str | None) -> list[str]:
    """The context texts for a sample: ``field`` when given, else what the pipeline
    retrieved, else the sample's ``contexts`` field.

    Raises:
        ScorerError: there is no context to judge against (with what was looked for).
    """
    if field is not None:
        return _field_texts(sample, field, required=True)
    pipeline = state.output.pipeline if state.output is not None else None
    if pipeline is not None and pipeline.contexts:
        texts = [d.text for d in pipeline.contexts if d.text]
        if texts:
            return texts
        raise ScorerError(
            f"sample {sample.id!r}: the target returned {len(pipeline.contexts)} document(s) "
            "without text, so there is nothing to judge the answer against. Map the passages' "
            "text with -M context_text=PATH (http/ targets) or return it from the pipeline."
        )
    texts = _field_texts(sample, CONTEXTS_FIELD, required=False)
    if texts:
        return texts
    raise ScorerError(
        f"sample {sample.id!r}: no context to judge against. Expected the target's retrieved "
        f"documents (with text), or a sample field {CONTEXTS_FIELD!r} (a string or a list of "
        "strings), or a source field named with context_field=... (a summary's document)."
    )


def _field_texts(sample: Sample, field: str, *, required: bool) -> list[str]:
    value = sample.metadata.get(field)
    if isinstance(value, str) and value.strip():
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    if value is None and not required:
        return []
    shown = "missing" if value is None else f"{type(value).__name__} {str(value)[:80]!r}"
    raise ScorerError(f"sample {sample.id!r}: expected field {field!r} to hold the context "
                      f"(a string or a list of strings); it is {shown}.")


def _join(contexts: Sequence[str]) -> str:
    if len(contexts) == 1:
        return contexts[0]
    return "\n\n".join(f"[{i}] {text}" for i, text in enumerate(contexts, start=1))


def _policy(undecided: str) -> Undecided:
    if undecided not in UNDECIDED_POLICIES:
        raise ConfigError(f"undecided must be 'count' or 'exclude'; got {undecided!r}. "
                          "'count' counts an undecided statement against the value; "
                          "'exclude' leaves it out of the value (it is still counted).")
    return undecided  # type: ignore[return-value]


#: A pseudo-rubric for the statement metrics, so ``judge validate`` can name them and its
#: probes can plant a fake verdict (0 = none supported, 1 = all).
def _metric_rubric(name: str, description: str) -> Rubric:
    return Rubric(name=name, scale_min=0, scale_max=1, pass_threshold=1.0,
                  criteria=[Criterion(name=name, description=description)])


class StatementMetric(SpecScrubbed, ABC):
    """Base of the statement-checked metrics: one judge, a policy, a context source."""

    name = ""
    description = ""

    def __init__(self, model: JudgeModel, undecided: str, context_field: str | None,
                 max_statements: int = _MAX_STATEMENTS, structured: bool = True) -> None:
        self.judge = StatementJudge(model, structured=structured)
        self.model = model
        self.policy = _policy(undecided)
        self.context_field = context_field
        if not isinstance(max_statements, int) or max_statements < 1:
            raise ConfigError(f"max_statements must be an integer >= 1; got {max_statements!r}.")
        self.max_statements = max_statements
        self.rubric = _metric_rubric(self.name, self.description)
        self.template_hash = self.judge.template_hash

    @abstractmethod
    async def tally(self, question: str, answer: str, reference: str | None,
                    contexts: Sequence[str]) -> StatementTally:
        """The metric's statements for one answer, each judged, and its value."""

    async def grade(self, question: str, answer: str, reference: str | None = None,
                    source: str | None = None) -> JudgeReply[StatementTally]:
        """Judge one labelled item (the interface ``judge validate`` uses): ``source`` is the
        context."""
        if source is None:
            raise ConfigError(f"{self.name} needs a context to judge against: label items "
                              "need a 'source' (the passages or the document).")
        tally = await self.tally(question, answer, reference, [source])
        return JudgeReply(tally, "", self.model.model, self.judge.version,
                          sum(s.attempts for s in tally.statements),
                          sum(s.input_tokens for s in tally.statements),
                          sum(s.output_tokens for s in tally.statements))

    async def __call__(self, sample: Sample, state: TaskState) -> Score:
        contexts = sample_contexts(sample, state, self.context_field)
        reference = "\n".join(t for t in sample.targets if t) or None
        tally = await self.tally(sample.input_text(), state.completion, reference, contexts)
        return self.score(tally)

    def checked(self, statements: Sequence[CheckedStatement], value: float | None,
                truncated: int) -> StatementTally:
        if value is None:
            raise ScorerError(
                f"{self.name}: the judge could decide none of the {len(statements)} "
                "statement(s), and undecided='exclude' leaves nothing to score. Every "
                "statement's reason is in the details.",
                {"judge": self.judge.provenance(),
                 "statements": [s.to_dict() for s in statements]},
            )
        return StatementTally(tuple(statements), value, self.policy, truncated)

    def score(self, tally: StatementTally) -> Score:
        counts = tally.counts()
        failing = [s.text for s in tally.statements if s.decision == "no"]
        open_ = [s.text for s in tally.statements if s.decision == "undecided"]
        treated = ("count against the value" if tally.undecided_policy == "count"
                   else "left out of the value")
        explanation = (f"{tally.supported} of {counts['statements']} supported, "
                       f"{tally.unsupported} not, {tally.undecided} undecided ({treated})")
        if failing:
            explanation += "; not supported: " + " | ".join(failing[:5])
        return Score(
            value=tally.value, kind="continuous", answer=f"{tally.value:.3g}",
            explanation=explanation,
            metadata={
                "judge": {**self.judge.provenance(), "metric": self.name},
                **counts,
                "undecided_policy": tally.undecided_policy,
                "unsupported_statements": failing,
                "undecided_statements": open_,
                "checks": [s.to_dict() for s in tally.statements],
                "judge_input_tokens": sum(s.input_tokens for s in tally.statements),
                "judge_output_tokens": sum(s.output_tokens for s in tally.statements),
            },
        )

    async def check_all(self, texts: Sequence[str], context: str) -> tuple[
            list[CheckedStatement], int]:
        if not texts:
            raise ScorerError(f"{self.name}: there are no statements to check (an empty "
                              "text has no faithfulness to measure; it is not scored 1).")
        kept = list(texts[: self.max_statements])
        found = await asyncio.gather(*(self.judge.ask("supported", context, t) for t in kept))
        return list(found), len(texts) - len(kept)

    def run_notes(self) -> dict[str, Any]:
        return self.model.run_notes()

    async def aclose(self) -> None:
        await self.model.aclose()


class Faithfulness(StatementMetric):
    name = "faithfulness"
    description = "Is every claim of the answer supported by the context?"

    async def tally(self, question: str, answer: str, reference: str | None,
                    contexts: Sequence[str]) -> StatementTally:
        found, truncated = await self.check_all(split_sentences(answer), _join(contexts))
        return self.checked(found, share_supported(found, self.policy), truncated)


class ContextRecall(StatementMetric):
    name = "context_recall"
    description = "Is every statement of the reference answer supported by the context?"

    async def tally(self, question: str, answer: str, reference: str | None,
                    contexts: Sequence[str]) -> StatementTally:
        if not reference:
            raise ScorerError("context_recall needs a reference answer (the sample's target).")
        found, truncated = await self.check_all(split_sentences(reference), _join(contexts))
        return self.checked(found, share_supported(found, self.policy), truncated)


class KeyPointCoverage(StatementMetric):
    name = "coverage"
    description = "Does the summary state each key point of the reference?"

    async def __call__(self, sample: Sample, state: TaskState) -> Score:
        points = sample.metadata.get(KEY_POINTS_FIELD)
        if points is not None and not (isinstance(points, list)
                                       and all(isinstance(p, str) for p in points)):
            raise ScorerError(f"sample {sample.id!r}: expected field {KEY_POINTS_FIELD!r} to "
                              f"be a list of strings; it is {type(points).__name__}.")
        reference = "\n".join(points) if points else (
            "\n".join(t for t in sample.targets if t) or None)
        tally = await self.tally(sample.input_text(), state.completion, reference, ())
        return self.score(tally)

    async def tally(self, question: str, answer: str, reference: str | None,
                    contexts: Sequence[str]) -> StatementTally:
        """Each key point (a line of ``reference``, or its sentences) checked against the
        answer: the answer is the context here."""
        if not reference:
            raise ScorerError(f"coverage needs key points: a {KEY_POINTS_FIELD!r} field (a "
                              "list of strings) or a reference summary (the target).")
        if not answer.strip():
            return self.checked([CheckedStatement(p, "no", "the summary is empty")
                                 for p in split_sentences(reference)], 0.0, 0)
        found, truncated = await self.check_all(split_sentences(reference), answer)
        return self.checked(found, share_supported(found, self.policy), truncated)

    async def grade(self, question: str, answer: str, reference: str | None = None,
                    source: str | None = None) -> JudgeReply[StatementTally]:
        tally = await self.tally(question, answer, reference, ())
        return JudgeReply(tally, "", self.model.model, self.judge.version,
                          sum(s.attempts for s in tally.statements),
                          sum(s.input_tokens for s in tally.statements),
                          sum(s.output_tokens for s in tally.statements))


class HallucinationFree(Faithfulness):
    """1 when the judge found every claim of the answer supported (under ``count``, an
    undecided claim counts as not supported), else 0. Over a run, one minus its mean is the
    hallucination rate, and one minus its Wilson interval is the rate's interval. It is
    "free", higher is better, like every other metric, so that ``compare``, ``gate`` and
    ``select`` read it the right way round."""

    name = "hallucination_free"
    description = "Does the answer make only claims the context supports?"

    def score(self, tally: StatementTally) -> Score:
        base = super().score(tally)
        flagged = tally.unsupported > 0 or (tally.undecided_policy == "count"
                                            and tally.undecided > 0)
        return Score(value=0.0 if flagged else 1.0, kind="binary",
                     answer="hallucinated" if flagged else "faithful",
                     explanation=base.explanation, metadata=base.metadata)


class ContextPrecision(StatementMetric):
    name = "context_precision"
    description = "Are the retrieved passages useful, the useful ones ranked first?"

    async def tally(self, question: str, answer: str, reference: str | None,
                    contexts: Sequence[str]) -> StatementTally:
        if not reference:
            raise ScorerError("context_precision needs a reference answer (the sample's "
                              "target) to tell a useful passage from a useless one.")
        kept = list(contexts[: self.max_statements])
        found = await asyncio.gather(*(
            self.judge.ask("useful", text, question=question, reference=reference,
                           label=f"passage {rank}")
            for rank, text in enumerate(kept, start=1)
        ))
        return self.checked(found, precision_over_ranks(found, self.policy),
                            len(contexts) - len(kept))


def _judge_model(judge: str | ModelProvider, judge_args: Mapping[str, Any] | None,
                 max_attempts: int, max_tokens: int, concurrency: int) -> JudgeModel:
    if judge_args is not None and not isinstance(judge_args, Mapping):
        raise ConfigError(f"judge_args must be a mapping of model arguments; got {judge_args!r}.")
    return JudgeModel(judge, dict(judge_args or {}), max_attempts=max_attempts,
                      max_tokens=max_tokens, concurrency=concurrency)


def _build(cls: type[StatementMetric], judge: str | ModelProvider,
           judge_args: Mapping[str, Any] | None, undecided: str, context_field: str | None,
           max_statements: int, max_attempts: int, max_tokens: int, concurrency: int,
           structured: bool) -> StatementMetric:
    model = _judge_model(judge, judge_args, max_attempts, max_tokens, concurrency)
    return cls(model, undecided, context_field, max_statements, structured)


# The three statement metrics take the same arguments:
#   judge: the judge's provider/model (default: the embedded local/smollm2).
#   judge_args: model arguments for the judge ({"base_url": ...}); secrets are never stored.
#   undecided: "count" (an undecided statement counts against the value) or "exclude" (left
#       out of the value; still counted in the score's metadata).
#   context_field: a sample field holding the context (a summary's "document"); default: the
#       passages the target retrieved, else the sample's "contexts" field.
#   max_statements: statements checked per sample at most (the rest are counted).
#   max_attempts: judge calls per statement at most; max_tokens: the judge's output budget
#       per call; concurrency: judge calls in flight at once.
#   structured: ask for the verdict's JSON schema (API providers) or grammar (llama.cpp).


@component("scorer")
def faithfulness(judge: str | ModelProvider = DEFAULT_JUDGE,
                 judge_args: Mapping[str, Any] | None = None, undecided: str = "count",
                 context_field: str | None = None, max_statements: int = _MAX_STATEMENTS,
                 max_attempts: int = 3, max_tokens: int = 256, concurrency: int = 4,
                 structured: bool = True) -> StatementMetric:
    """The share of the answer's claims (sentences) that the context supports; the
    unsupported claims are listed, undecided ones counted (see the module docstring).

    Examples:
        >>> faithfulness(undecided="exclude").policy
        'exclude'
    """
    return _build(Faithfulness, judge, judge_args, undecided, context_field, max_statements,
                  max_attempts, max_tokens, concurrency, structured)


@component("scorer")
def context_recall(judge: str | ModelProvider = DEFAULT_JUDGE,
                   judge_args: Mapping[str, Any] | None = None, undecided: str = "count",
                   context_field: str | None = None, max_statements: int = _MAX_STATEMENTS,
                   max_attempts: int = 3, max_tokens: int = 256, concurrency: int = 4,
                   structured: bool = True) -> StatementMetric:
    """The share of the reference answer's sentences that the retrieved context supports."""
    return _build(ContextRecall, judge, judge_args, undecided, context_field, max_statements,
                  max_attempts, max_tokens, concurrency, structured)


@component("scorer")
def context_precision(judge: str | ModelProvider = DEFAULT_JUDGE,
                      judge_args: Mapping[str, Any] | None = None, undecided: str = "count",
                      context_field: str | None = None, max_statements: int = _MAX_STATEMENTS,
                      max_attempts: int = 3, max_tokens: int = 256, concurrency: int = 4,
                      structured: bool = True) -> StatementMetric:
    """Average precision of the retrieved passages judged useful for the question."""
    return _build(ContextPrecision, judge, judge_args, undecided, context_field,
                  max_statements, max_attempts, max_tokens, concurrency, structured)


@component("scorer")
def coverage(judge: str | ModelProvider = DEFAULT_JUDGE,
             judge_args: Mapping[str, Any] | None = None, undecided: str = "count",
             max_statements: int = _MAX_STATEMENTS, max_attempts: int = 3,
             max_tokens: int = 256, concurrency: int = 4, structured: bool = True
             ) -> StatementMetric:
    """The share of the key points (a ``key_points`` field, else the reference's sentences)
    that the answer states, each checked by the judge against the answer."""
    return _build(KeyPointCoverage, judge, judge_args, undecided, None, max_statements,
                  max_attempts, max_tokens, concurrency, structured)


@component("scorer")
def hallucination_free(judge: str | ModelProvider = DEFAULT_JUDGE,
                  judge_args: Mapping[str, Any] | None = None, undecided: str = "count",
                  context_field: str | None = None, max_statements: int = _MAX_STATEMENTS,
                  max_attempts: int = 3, max_tokens: int = 256, concurrency: int = 4,
                  structured: bool = True) -> StatementMetric:
    """1 when every claim of the answer is supported, 0 when one is not (binary: the run's
    hallucination rate is one minus its mean, with the Wilson interval flipped). It asks the
    same checks as ``faithfulness``, so with both in one run the judge's replies are shared
    through the cache."""
    return _build(HallucinationFree, judge, judge_args, undecided, context_field, max_statements,
                  max_attempts, max_tokens, concurrency, structured)


@component("scorer")
def answer_relevance(judge: str | ModelProvider = DEFAULT_JUDGE,
                     judge_args: Mapping[str, Any] | None = None, max_attempts: int = 3,
                     max_tokens: int = 384, concurrency: int = 4) -> _JudgeScorer:
    """Does the answer address the question? ``llm_judge`` with the ``answer_relevance``
    rubric (1-5, mapped to 0-1); validate it with ``judge validate --rubric
    answer_relevance``."""
    return llm_judge(judge, rubric="answer_relevance", judge_args=judge_args,  # type: ignore[return-value]
                     max_attempts=max_attempts, max_tokens=max_tokens, concurrency=concurrency)
