"""The ``llm_jury`` scorer: several judge models grade each answer; their verdicts are pooled.

Each juror grades with the same rubric and prompt. The score is the jurors' normalized
scores pooled by ``mean``, ``median`` or ``majority`` (the most common overall score rounded
to the scale, ties going to the lower score, so a split jury never rounds up). Every juror's
verdict is stored with the score, which is what ``evalstack show`` uses to report the jury's
agreement (Krippendorff's alpha, Fleiss' kappa, pairwise Cohen's kappa). If any juror gives no
usable verdict the sample gets a judge error: a verdict from part of the jury would not be
comparable with the rest of the run.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from evalstack.core.component import component
from evalstack.core.errors import ConfigError, ScorerError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample
from evalstack.scorers.judge.model import JudgeModel, JudgeReply
from evalstack.scorers.judge.rubric import Rubric, load_rubric
from evalstack.scorers.judge.scorer import RubricJudge, SpecScrubbed, judge_inputs
from evalstack.scorers.judge.verdict import Verdict

Aggregate = Literal["mean", "median", "majority"]
AGGREGATES: tuple[str, ...] = ("mean", "median", "majority")


def pool(values: Sequence[float], how: str, rubric: Rubric) -> float:
    """Pool jurors' overall scores (on the rubric's scale) into one value on the same scale.

    Examples:
        >>> from evalstack.scorers.judge.rubric import default_rubric
        >>> pool([2.0, 4.0, 4.4], "majority", default_rubric())
        4.0
        >>> pool([2.0, 3.0], "majority", default_rubric())  # a tie goes to the lower score
        2.0
    """
    if not values:
        raise ValueError("no juror scores to pool")
    if how == "mean":
        return statistics.fmean(values)
    if how == "median":
        return float(statistics.median(values))
    if how == "majority":
        counts = Counter(min(max(round(v), rubric.scale_min), rubric.scale_max) for v in values)
        top = max(counts.values())
        return float(min(level for level, n in counts.items() if n == top))
    raise ConfigError(f"Jury aggregate must be one of {', '.join(AGGREGATES)}; got {how!r}.")


class _JuryScorer(SpecScrubbed):
    def __init__(self, judges: list[RubricJudge], aggregate: str, source_field: str | None
                 ) -> None:
        self.judges = judges
        self.aggregate = aggregate
        self.source_field = source_field
        self.rubric = judges[0].rubric

    async def __call__(self, sample: Sample, state: TaskState) -> Score:
        question, answer, reference, source = judge_inputs(sample, state, self.source_field)
        results = await asyncio.gather(
            *(j.grade(question, answer, reference, source) for j in self.judges),
            return_exceptions=True,
        )
        failed = [(j, r) for j, r in zip(self.judges, results, strict=True)
                  if isinstance(r, BaseException)]
        for _, r in failed:
            if not isinstance(r, ScorerError):
                raise r
        if failed:
            names = ", ".join(j.model.model for j, _ in failed)
            raise ScorerError(
                f"jury member(s) {names} gave no usable verdict: {failed[0][1]}",
                {"jury": [{"model": j.model.model, **getattr(r, "details", {})}
                          for j, r in failed]},
            )
        replies: list[JudgeReply[Verdict]] = [r for r in results]  # type: ignore[misc]
        overall = pool([r.verdict.overall for r in replies], self.aggregate, self.rubric)
        jurors = []
        for judge, reply in zip(self.judges, replies, strict=True):
            jurors.append({**judge.record(reply), "rationale": reply.verdict.rationale})
        first = self.judges[0]
        return Score(
            value=self.rubric.normalized(overall),
            kind="continuous",
            answer=f"{overall:.3g}/{self.rubric.scale_max}",
            explanation=" | ".join(f"{r.model}: {r.verdict.rationale}" for r in replies),
            metadata={
                "judge": {
                    "model": f"jury({self.aggregate}): " + ", ".join(r.model for r in replies),
                    "version": ", ".join(str(r.version) for r in replies),
                    "template_hash": first.template_hash,
                    "rubric": self.rubric.name,
                },
                "overall": round(overall, 6),
                "scale": [self.rubric.scale_min, self.rubric.scale_max],
                "aggregate": self.aggregate,
                "jurors": jurors,
            },
        )

    def run_notes(self) -> dict[str, Any]:
        return {judge.model.model: notes for judge in self.judges
                if (notes := judge.run_notes())}

    async def aclose(self) -> None:
        for judge in self.judges:
            await judge.aclose()


@component("scorer")
def llm_jury(
    judges: Sequence[str],
    rubric: str | Rubric = "default",
    aggregate: Aggregate = "mean",
    judge_args: Mapping[str, Mapping[str, Any]] | None = None,
    source_field: str | None = None,
    max_attempts: int = 3,
    max_tokens: int = 512,
    temperature: float = 0.0,
    concurrency: int = 4,
    structured: bool = True,
) -> _JuryScorer:
    """Grade each answer with several judge models and pool their verdicts.

    Args:
        judges: two or more ``provider/model`` specs.
        rubric: as for ``llm_judge``.
        aggregate: ``mean``, ``median`` or ``majority``.
        judge_args: model arguments per judge spec: ``{"openai/gpt-4o": {"base_url": ...}}``.
        source_field, max_attempts, max_tokens, temperature, concurrency, structured: as for
            ``llm_judge``, applied to every juror.

    Examples:
        >>> s = llm_jury(["mock/a", "mock/b", "mock/c"], aggregate="median")
        >>> s.spec.name, len(s.judges)
        ('llm_jury', 3)
    """
    if isinstance(judges, str) or not isinstance(judges, Sequence) or len(judges) < 2:
        raise ConfigError(
            f"A jury needs a list of two or more judge models; got {judges!r}. For one judge "
            f"use the llm_judge scorer."
        )
    if aggregate not in AGGREGATES:
        raise ConfigError(
            f"Jury aggregate must be one of {', '.join(AGGREGATES)}; got {aggregate!r}."
        )
    args = dict(judge_args or {})
    unknown = sorted(set(args) - set(judges))
    if unknown:
        raise ConfigError(
            f"judge_args names {', '.join(unknown)}, which is not in the jury "
            f"({', '.join(judges)}). Key judge_args by the judge's provider/model spec."
        )
    loaded = load_rubric(rubric)
    members = [
        RubricJudge(
            loaded,
            JudgeModel(spec, dict(args.get(spec) or {}), max_attempts=max_attempts,
                       max_tokens=max_tokens, temperature=temperature, concurrency=concurrency),
            structured=structured,
        )
        for spec in judges
    ]
    return _JuryScorer(members, aggregate, source_field)
