"""What the code benchmarks share: a completion form, a chat form, and picking one per model.

HumanEval and MBPP each come in two forms, chosen with the task argument ``format``:

- ``completion``: lm-evaluation-harness's ``humaneval`` / ``mbpp``. The model continues a
  raw prompt, generation stops at the task's stop sequences, and the scorer cuts the output at
  them as the provider would have.
- ``chat``: after lm-evaluation-harness's ``humaneval_instruct`` / ``mbpp_instruct``. The model
  is asked for a complete function; no stop sequences are sent and nothing is cut; the code is
  the reply's first fenced block (the whole reply when it has none).
- ``auto`` (the default): ``chat`` for a model that declares ``Capability.CHAT`` (a chat API
  or a chat template), ``completion`` for the others. The task's ``for_model`` makes the
  choice when the run is planned, and the run stores the form it ran (``args["format"]``).

Both forms keep the same generation length and temperature, so ``--max-tokens`` and
``--temperature`` mean the same in either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from evalstack.core.errors import ConfigError
from evalstack.core.task import Task
from evalstack.core.types import Capability, GenerateConfig

FORMATS = ("auto", "chat", "completion")


def check_format(value: object, benchmark: str) -> str:
    """``value`` when it names a form, else a ``ConfigError`` listing the forms.

    Examples:
        >>> check_format("chat", "humaneval")
        'chat'
    """
    if isinstance(value, str) and value in FORMATS:
        return value
    raise ConfigError(
        f"{benchmark} format must be auto, chat or completion; received {value!r}. Use "
        f"-T format=chat for a model answering in conversation (the code is read from its "
        f"first ```python block), -T format=completion for one continuing raw text, or leave "
        f"it out to choose by the model's capabilities."
    )


def form_for(capabilities: frozenset[Capability]) -> str:
    """The form ``auto`` picks for a model with ``capabilities``.

    Examples:
        >>> form_for(frozenset({Capability.GENERATE, Capability.CHAT}))
        'chat'
        >>> form_for(frozenset({Capability.GENERATE, Capability.LOGLIKELIHOOD}))
        'completion'
    """
    return "chat" if Capability.CHAT in capabilities else "completion"


def _changed(current: GenerateConfig, built: GenerateConfig) -> dict[str, Any]:
    """The generation settings changed on the task since it was built (``--max-tokens``...)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(GenerateConfig):
        value = getattr(current, f.name)
        if value != getattr(built, f.name):
            out[f.name] = value
    return out


def code_task(fmt: str, build: Callable[[str], Task]) -> Task:
    """The task for ``fmt``: ``build(fmt)``, or for ``auto`` a task that picks its form per model.

    The ``auto`` task is the completion form with ``for_model`` set. The task that hook returns
    is the chosen form under the outer task's name and version, with the outer task's
    arguments plus ``format`` set to the form, its scorers (``--scorer`` replaces them), and
    any generation setting changed on it since it was built (``--max-tokens``,
    ``--temperature``).

    Args:
        fmt: ``auto``, ``chat`` or ``completion`` (already checked by ``check_format``).
        build: makes the task of one form; its ``args`` hold ``format``.
    """
    if fmt != "auto":
        return build(fmt)
    outer = build("completion")
    built = outer.config

    def for_model(task: Task, capabilities: frozenset[Capability]) -> Task:
        form = form_for(capabilities)
        chosen = build(form)
        return dataclasses.replace(
            chosen,
            name=task.name,
            version=task.version,
            args={**task.args, "format": form},
            scorers=list(task.scorers),
            epochs=task.epochs,
            config=dataclasses.replace(chosen.config, **_changed(task.config, built)),
            for_model=None,
        )

    return dataclasses.replace(outer, args={**outer.args, "format": "auto"}, for_model=for_model)
