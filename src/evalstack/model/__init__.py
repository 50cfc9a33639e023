"""The model layer: every model call in evalstack goes through it.

It owns resolving a ``provider/model`` spec (``resolve_model``), the limits and retries
(``CallPolicy``), the response cache, and token and cost accounting (``Usage``). A solver
gets a ``SampleCaller`` from the run's ``Model``; any other component asks ``get_model``.
"""

from evalstack.model.context import ModelContext, get_model, use_models
from evalstack.model.model import Model, ResponseCache, SampleCaller
from evalstack.model.policy import CallPolicy
from evalstack.model.resolve import resolve_model
from evalstack.model.usage import JUDGE_ROLE, MODEL_ROLE, Usage, collect_sample_usage

__all__ = [
    "JUDGE_ROLE",
    "MODEL_ROLE",
    "CallPolicy",
    "Model",
    "ModelContext",
    "ResponseCache",
    "SampleCaller",
    "Usage",
    "collect_sample_usage",
    "get_model",
    "resolve_model",
    "use_models",
]
