"""The ``llm_judge`` scorer: a model grades each answer on a rubric.

Every score records the judge's model, the version string its provider reported, the hash of
the judge prompt template and rubric, the per-criterion scores and the rationale, so runs
judged differently can be told apart (``evalstack compare`` refuses to mix them). A reply
without a usable verdict, after bounded retries, is a judge error (``ScorerError``), never a
score.

The score's value is the rubric's weighted mean mapped to [0, 1] (``kind="continuous"``);
``answer`` shows it on the rubric's own scale (``"4.33/5"``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from evalstack.core.component import ComponentSpec, component
from evalstack.core.errors import ConfigError
from evalstack.core.provider import ModelProvider, public_args
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample, StructuredOutput
from evalstack.scorers.judge.model import DEFAULT_JUDGE, JudgeModel, JudgeReply, content_key
from evalstack.scorers.judge.prompt import (
    render_judge_prompt,
    template_hash,
    verdict_gbnf,
    verdict_json_schema,
)
from evalstack.scorers.judge.rubric import Rubric, load_rubric
from evalstack.scorers.judge.verdict import Verdict, parse_verdict


def verdict_format(rubric: Rubric) -> StructuredOutput:
    """The structured-output constraint for a rubric's verdict (schema and GBNF grammar)."""
    return StructuredOutput(
        "verdict", json.dumps(verdict_json_schema(rubric), sort_keys=True), verdict_gbnf(rubric)
    )


def judge_inputs(sample: Sample, state: TaskState, source_field: str | None
                 ) -> tuple[str, str, str | None, str | None]:
    """The question, answer, reference and source a judge sees for one sample."""
    reference = "\n".join(t for t in sample.targets if t) or None
    source = None
    if source_field is not None:
        value = sample.metadata.get(source_field)
        if value is None:
            raise ConfigError(
                f"Sample {sample.id!r} has no metadata field {source_field!r}, which the judge's "
                f"source_field names. Add it to the dataset or drop source_field."
            )
        source = str(value)
    return sample.input_text(), state.completion, reference, source


class RubricJudge:
    """Grades answers with one judge model on one rubric (what ``llm_judge`` builds).

    Use it directly to grade outside a run: ``await judge.grade(question, answer)``.
    """

    def __init__(self, rubric: Rubric, model: JudgeModel, *, structured: bool = True) -> None:
        self.rubric = rubric
        self.model = model
        self.template_hash = template_hash(rubric)
        self.structured = verdict_format(rubric) if structured else None

    async def grade(self, question: str, answer: str, reference: str | None = None,
                    source: str | None = None) -> JudgeReply[Verdict]:
        """One checked verdict for one answer (raises ``ScorerError`` when there is none)."""
        def prompt(attempt: int) -> list[dict[str, str]]:
            return render_judge_prompt(self.rubric, question, answer, reference, source)

        key = content_key("grade", self.template_hash, question, answer, reference, source)
        return await self.model.ask(
            prompt, partial(parse_verdict, rubric=self.rubric, answer=answer), self.structured,
            key=key,
        )

    def record(self, reply: JudgeReply[Verdict]) -> dict[str, Any]:
        """What is stored with the score: the judge, its version, the template hash, ..."""
        v = reply.verdict
        return {
            "judge": {"model": reply.model, "version": reply.version,
                      "template_hash": self.template_hash, "rubric": self.rubric.name},
            "criteria": dict(v.scores),
            "overall": round(v.overall, 6),
            "scale": [self.rubric.scale_min, self.rubric.scale_max],
            "passed": v.passed,
            "attempts": reply.attempts,
            "judge_input_tokens": reply.input_tokens,
            "judge_output_tokens": reply.output_tokens,
        }

    def score(self, reply: JudgeReply[Verdict]) -> Score:
        v = reply.verdict
        return Score(
            value=v.normalized,
            kind="continuous",
            answer=f"{v.overall:.3g}/{self.rubric.scale_max}",
            explanation=v.rationale,
            metadata=self.record(reply),
        )

    def run_notes(self) -> dict[str, Any]:
        return self.model.run_notes()

    async def aclose(self) -> None:
        await self.model.aclose()


def stored_args(args: Mapping[str, Any], per_judge: bool = False) -> dict[str, Any]:
    """A judge scorer's arguments as stored with the run: secrets dropped from
    ``judge_args`` (a mapping per judge when ``per_judge``), provider objects and rubrics by
    name."""
    out = dict(args)
    given = out.get("judge_args")
    if isinstance(given, Mapping):
        out["judge_args"] = (
            {k: public_args(v) if isinstance(v, Mapping) else v for k, v in given.items()}
            if per_judge else public_args(given)
        )
    for key in ("judge", "judges"):
        value = out.get(key)
        if isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, str) else getattr(v, "name", str(v)) for v in value]
        elif value is not None and not isinstance(value, str):
            out[key] = getattr(value, "name", str(value))
    if isinstance(out.get("rubric"), Rubric):
        out["rubric"] = out["rubric"].model_dump(mode="json")
    return out


class SpecScrubbed:
    """Keeps secrets out of the ``spec`` that ``@component`` attaches (it is stored)."""

    _spec: ComponentSpec

    @property
    def spec(self) -> ComponentSpec:
        return self._spec

    @spec.setter
    def spec(self, value: ComponentSpec) -> None:
        self._spec = ComponentSpec(value.kind, value.name,
                                   stored_args(value.args, per_judge=value.name == "llm_jury"))


class _JudgeScorer(SpecScrubbed):
    def __init__(self, judge: RubricJudge, source_field: str | None) -> None:
        self.judge = judge
        self.source_field = source_field

    async def __call__(self, sample: Sample, state: TaskState) -> Score:
        question, answer, reference, source = judge_inputs(sample, state, self.source_field)
        return self.judge.score(await self.judge.grade(question, answer, reference, source))

    def run_notes(self) -> dict[str, Any]:
        return self.judge.run_notes()

    async def aclose(self) -> None:
        await self.judge.aclose()


def _model(judge: str | ModelProvider, judge_args: Mapping[str, Any] | None, max_attempts: int,
           max_tokens: int, temperature: float, concurrency: int) -> JudgeModel:
    if judge_args is not None and not isinstance(judge_args, Mapping):
        raise ConfigError(f"judge_args must be a mapping of model arguments; got {judge_args!r}.")
    return JudgeModel(judge, dict(judge_args or {}), max_attempts=max_attempts,
                      max_tokens=max_tokens, temperature=temperature, concurrency=concurrency)


@component("scorer")
def llm_judge(
    judge: str | ModelProvider = DEFAULT_JUDGE,
    rubric: str | Rubric = "default",
    judge_args: Mapping[str, Any] | None = None,
    source_field: str | None = None,
    max_attempts: int = 3,
    max_tokens: int = 512,
    temperature: float = 0.0,
    concurrency: int = 4,
    structured: bool = True,
) -> _JudgeScorer:
    """Grade each answer with a judge model on a multi-criteria rubric.

    Args:
        judge: the judge's ``provider/model`` (default: the embedded ``local/smollm2``).
        rubric: a built-in rubric (``default``, ``factual_qa``, ``summarization``, ``support``,
            ``code_review``), a YAML file, or a ``Rubric``. The default rubric scores accuracy,
            completeness and clarity on 1-5 against the sample's target when it has one.
        judge_args: model arguments for the judge (``{"base_url": ...}``).
        source_field: a sample metadata field holding a source document (summaries).
        max_attempts: judge calls per sample at most; a reply without a usable verdict is
            retried, then recorded as a judge error.
        max_tokens: the judge's output budget per call.
        temperature: the judge's temperature (0: greedy).
        concurrency: judge calls in flight at once.
        structured: ask for the verdict's JSON schema (API providers) or grammar (llama.cpp).

    Examples:
        >>> s = llm_judge("openai/gpt-4o-mini", rubric="factual_qa",
        ...               judge_args={"base_url": "http://127.0.0.1:9/v1"})
        >>> s.spec.name, s.judge.rubric.name
        ('llm_judge', 'factual_qa')
    """
    model = _model(judge, judge_args, max_attempts, max_tokens, temperature, concurrency)
    return _JudgeScorer(RubricJudge(load_rubric(rubric), model, structured=structured),
                        source_field)
