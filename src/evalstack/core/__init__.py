"""Types and protocols only: the vocabulary every other layer speaks."""

from evalstack.core.component import ComponentSpec, component
from evalstack.core.errors import (
    CapabilityError,
    ConfigError,
    DataError,
    EmptyDatasetError,
    EvalstackError,
    MissingDependencyError,
    ProviderError,
    ScorerError,
    UnknownNameError,
    UserError,
)
from evalstack.core.provider import ModelProvider
from evalstack.core.scorer import Score, Scorer, TaskState
from evalstack.core.task import Dataset, ModelCaller, Solver, Task, task
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateConfig,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    Sample,
    StructuredOutput,
)

__all__ = [
    "Capability",
    "CapabilityError",
    "ChatMessage",
    "ComponentSpec",
    "ConfigError",
    "DataError",
    "Dataset",
    "EmptyDatasetError",
    "EvalstackError",
    "GenerateConfig",
    "StructuredOutput",
    "GenerateRequest",
    "LoglikelihoodOutput",
    "LoglikelihoodRequest",
    "MissingDependencyError",
    "ModelCaller",
    "ModelOutput",
    "ModelProvider",
    "ProviderError",
    "ScorerError",
    "Sample",
    "Score",
    "Scorer",
    "Solver",
    "Task",
    "TaskState",
    "UnknownNameError",
    "UserError",
    "component",
    "task",
]
