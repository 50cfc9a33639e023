"""One lazy registry for tasks, providers and scorers, with did-you-mean errors.

Built-ins are registered as ``"module:attr"`` strings and imported on first use. Plugins use
the entry-point group ``evalstack``, with names ``<kind>.<name>`` (``provider.myllm``,
``task.mybench``, ``scorer.myscore``): the same path the built-ins take.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from evalstack.core.errors import UnknownNameError

KINDS = ("task", "provider", "scorer")

_BUILTINS: dict[str, dict[str, str]] = {
    "provider": {
        "openai": "evalstack.providers.openai_compat:OpenAICompatProvider",
        "anthropic": "evalstack.providers.anthropic:AnthropicProvider",
        "llamacpp": "evalstack.providers.llamacpp:LlamaCppProvider",
        "local": "evalstack.providers.llamacpp:local_provider",
        "transformers": "evalstack.providers.transformers:TransformersProvider",
        "python": "evalstack.providers.callable:CallableProvider",
        "http": "evalstack.providers.http_app:HttpAppProvider",
        "mock": "evalstack.providers.mock:MockProvider",
        "guardrail": "evalstack.providers.guardrail:keyword_provider",
        "refusal": "evalstack.providers.refusal:refusal_provider",
    },
    "scorer": {
        "exact_match": "evalstack.scorers.match:exact_match",
        "includes": "evalstack.scorers.match:includes",
        "regex": "evalstack.scorers.match:regex_match",
        "numeric": "evalstack.scorers.match:numeric",
        "f1": "evalstack.scorers.f1:f1",
        "recall_at_k": "evalstack.scorers.retrieval:recall_at_k",
        "precision_at_k": "evalstack.scorers.retrieval:precision_at_k",
        "hit_rate_at_k": "evalstack.scorers.retrieval:hit_rate_at_k",
        "ndcg_at_k": "evalstack.scorers.retrieval:ndcg_at_k",
        "mrr": "evalstack.scorers.retrieval:mrr",
        "average_precision": "evalstack.scorers.retrieval:average_precision",
        "bleu": "evalstack.scorers.overlap:bleu",
        "chrf": "evalstack.scorers.overlap:chrf",
        "rouge1": "evalstack.scorers.overlap:rouge1",
        "rouge2": "evalstack.scorers.overlap:rouge2",
        "rougeL": "evalstack.scorers.overlap:rougeL",
        "json_valid": "evalstack.scorers.json_schema:json_valid",
        "json_schema": "evalstack.scorers.json_schema:json_schema_match",
        "choice": "evalstack.scorers.choice:choice",
        "llm_judge": "evalstack.scorers.judge.scorer:llm_judge",
        "llm_jury": "evalstack.scorers.judge.jury:llm_jury",
        "faithfulness": "evalstack.scorers.judge.rag:faithfulness",
        "context_recall": "evalstack.scorers.judge.rag:context_recall",
        "context_precision": "evalstack.scorers.judge.rag:context_precision",
        "answer_relevance": "evalstack.scorers.judge.rag:answer_relevance",
        "coverage": "evalstack.scorers.judge.rag:coverage",
        "hallucination_free": "evalstack.scorers.judge.rag:hallucination_free",
        "summary_length": "evalstack.scorers.readability:summary_length",
        "readability": "evalstack.scorers.readability:readability",
        "strict_choice": "evalstack.scorers.choice:strict_choice",
        "strict_match": "evalstack.scorers.extract:strict_match",
        "flexible_extract": "evalstack.scorers.extract:flexible_extract",
        "pass_at_1": "evalstack.scorers.code:code_execution",
        "guardrail_decision": "evalstack.benchmarks.guardrail:guardrail_decision",
    },
    "task": {
        "demo_unit": "evalstack.benchmarks.demo:demo_unit",
        "demo_mmlu": "evalstack.benchmarks.demo:demo_mmlu",
        "mmlu": "evalstack.benchmarks.mmlu:mmlu",
        "arc_easy": "evalstack.benchmarks.arc:arc_easy",
        "arc_challenge": "evalstack.benchmarks.arc:arc_challenge",
        "hellaswag": "evalstack.benchmarks.hellaswag:hellaswag",
        "truthfulqa_mc1": "evalstack.benchmarks.truthfulqa:truthfulqa_mc1",
        "truthfulqa_mc2": "evalstack.benchmarks.truthfulqa:truthfulqa_mc2",
        "gpqa": "evalstack.benchmarks.gpqa:gpqa",
        "gsm8k": "evalstack.benchmarks.gsm8k:gsm8k",
        "math": "evalstack.benchmarks.math500:math",
        "bbh": "evalstack.benchmarks.bbh:bbh",
        "mt_bench": "evalstack.benchmarks.mt_bench:mt_bench",
        "vicuna_bench": "evalstack.benchmarks.mt_bench:vicuna_bench",
        "humaneval": "evalstack.benchmarks.humaneval:humaneval",
        "mbpp": "evalstack.benchmarks.mbpp:mbpp",
        "guardrail": "evalstack.benchmarks.guardrail:guardrail",
        "summarization": "evalstack.benchmarks.summarization:summarization",
        "rag_counterfactual": "evalstack.benchmarks.rag_counterfactual:rag_counterfactual",
        "injection_direct": "evalstack.benchmarks.adversarial.injection_direct:injection_direct",
        "injection_indirect": ("evalstack.benchmarks.adversarial.injection_indirect:"
                               "injection_indirect"),
        "ambiguity": "evalstack.benchmarks.adversarial.ambiguity:ambiguity",
        "contradiction": "evalstack.benchmarks.adversarial.contradiction:contradiction",
        "over_refusal": "evalstack.benchmarks.adversarial.over_refusal:over_refusal",
    },
}

_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="evalstack"):
        kind, _, name = ep.name.partition(".")
        if kind in _BUILTINS and name:
            _BUILTINS[kind].setdefault(name, ep.value)


def register(kind: str, name: str, target: str) -> None:
    """Register ``target`` (``"module:attr"``) under ``name`` for ``kind``."""
    _BUILTINS[kind][name] = target


def names(kind: str) -> list[str]:
    """Every registered name of ``kind``, sorted."""
    _load_plugins()
    return sorted(_BUILTINS[kind])


def lookup(kind: str, name: str) -> Any:
    """Import and return what ``name`` is registered as; unknown names get a did-you-mean."""
    _load_plugins()
    table = _BUILTINS[kind]
    if name not in table:
        raise UnknownNameError(kind, name, list(table))
    module_name, _, attr = table[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)
