"""Groundwork for the ``llm_judge`` scorer: rubrics, the judge prompt, and verdict parsing.

- ``rubric``: ``Criterion`` and ``Rubric`` (pydantic, ``extra="forbid"``), ``load_rubric``
  (a YAML file or a built-in template: ``default``, ``factual_qa``, ``summarization``,
  ``support``, ``code_review``) and ``default_rubric``.
- ``prompt``: ``render_judge_prompt`` (the answer sits between nonce-bearing markers and is
  declared data, never instructions), ``template_hash``, ``verdict_json_schema`` and
  ``verdict_gbnf`` (structured output for API providers and for llama.cpp).
- ``verdict``: ``parse_verdict``, which finds the judge's last verdict in its reply or raises
  ``VerdictError``; a missing or invalid verdict is a judge error, never a pass or a default.
"""

from evalstack.scorers.judge.prompt import (
    render_judge_prompt,
    template_hash,
    verdict_gbnf,
    verdict_json_schema,
)
from evalstack.scorers.judge.rubric import (
    BUILTIN_RUBRICS,
    Criterion,
    Rubric,
    default_rubric,
    load_rubric,
)
from evalstack.scorers.judge.verdict import Verdict, VerdictError, parse_verdict

__all__ = [
    "BUILTIN_RUBRICS",
    "Criterion",
    "Rubric",
    "Verdict",
    "VerdictError",
    "default_rubric",
    "load_rubric",
    "parse_verdict",
    "render_judge_prompt",
    "template_hash",
    "verdict_gbnf",
    "verdict_json_schema",
]
