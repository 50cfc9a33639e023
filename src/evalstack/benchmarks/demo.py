"""The demo tasks behind ``make demo``: bundled real data, no network, no API key.

- ``demo_unit``: Level 1 unit evals, 75 BIG-Bench Hard items (3 tasks as categories), scored by
  exact match and by inclusion.
- ``demo_mmlu``: 100 MMLU questions (5 subjects as categories), zero-shot in
  lm-evaluation-harness's MMLU format, scored by log-likelihood of the answer letters when the
  model offers it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig
from evalstack.datasets.files import load_dataset
from evalstack.scorers.choice import choice
from evalstack.scorers.match import exact_match, includes
from evalstack.solvers.generate import generate
from evalstack.solvers.multiple_choice import multiple_choice

MMLU_TEMPLATE = (
    "The following are multiple choice questions (with answers) about {subject}.\n\n"
    "{input}\n{choices}\nAnswer:"
)


def demo_file(name: str) -> Path:
    """The path of a bundled demo data file."""
    return Path(str(resources.files("evalstack") / "data" / "demo" / name))


@task(version=1)
def demo_unit() -> Task:
    """Level 1 unit evals on 75 BIG-Bench Hard items with short, checkable answers."""
    return Task(
        "demo_unit",
        load_dataset(demo_file("bbh_unit.jsonl")),
        generate(),
        [exact_match(), includes()],
        config=GenerateConfig(max_tokens=8, temperature=0.0),
    )


@task(version=1)
def demo_mmlu(method: str = "auto") -> Task:
    """100 MMLU questions, zero-shot, lm-evaluation-harness format."""
    return Task(
        "demo_mmlu",
        load_dataset(demo_file("mmlu_subset.jsonl")),
        multiple_choice(template=MMLU_TEMPLATE, method=method),  # type: ignore[arg-type]
        [choice()],
        config=GenerateConfig(max_tokens=8, temperature=0.0),
    )
