"""Solvers: build the prompt for a sample, call the model, record what came back."""

from evalstack.solvers.generate import generate
from evalstack.solvers.multiple_choice import multiple_choice
from evalstack.solvers.templates import PromptTemplate

__all__ = ["PromptTemplate", "generate", "multiple_choice"]
