"""evalstack: measure how well AI models and LLM applications work, with uncertainty.

The public API is small and lazy: importing ``evalstack`` does not import the runner, the
store or any provider SDK until they are used, so ``evalstack --help`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalstack._version import __version__

_LAZY = {
    "Capability": "evalstack.core.types",
    "ChatMessage": "evalstack.core.types",
    "GenerateConfig": "evalstack.core.types",
    "Sample": "evalstack.core.types",
    "Score": "evalstack.core.scorer",
    "TaskState": "evalstack.core.scorer",
    "Task": "evalstack.core.task",
    "task": "evalstack.core.task",
    "component": "evalstack.core.component",
    "RunConfig": "evalstack.runner.config",
    "evaluate": "evalstack.runner.evaluate",
    "evaluate_async": "evalstack.runner.evaluate",
    "EvalResult": "evalstack.core.results",
    "MemoryDataset": "evalstack.datasets.memory",
    "load_dataset": "evalstack.datasets.files",
}

__all__ = [
    "Capability",
    "ChatMessage",
    "EvalResult",
    "GenerateConfig",
    "MemoryDataset",
    "RunConfig",
    "Sample",
    "Score",
    "Task",
    "TaskState",
    "__version__",
    "component",
    "evaluate",
    "evaluate_async",
    "load_dataset",
    "task",
]

if TYPE_CHECKING:
    from evalstack.core.component import component
    from evalstack.core.results import EvalResult
    from evalstack.core.scorer import Score, TaskState
    from evalstack.core.task import Task, task
    from evalstack.core.types import Capability, ChatMessage, GenerateConfig, Sample
    from evalstack.datasets.files import load_dataset
    from evalstack.datasets.memory import MemoryDataset
    from evalstack.runner.config import RunConfig
    from evalstack.runner.evaluate import evaluate, evaluate_async


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evalstack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
