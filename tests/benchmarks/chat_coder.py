"""Replies to HumanEval and MBPP problems in the forms models write them, from the reference code.

Forms:

- ``bare``: the reference as a completion model continues the prompt (HumanEval: the body;
  MBPP: the code).
- ``function``: a sentence, the complete function in a ```python block, a sentence and a
  second block (a usage line that fails if it is taken for the answer). HumanEval: from the
  entry point's ``def`` line on, so without the prompt's imports and helpers.
- ``imports``: the function with its imports in a block (HumanEval: the whole prompt and the
  canonical solution; MBPP: typing and math imports above the code, a ```py block).
- ``broken``: the ``function`` form, with the tested function redefined to return a fresh
  object; every test fails.

``reply`` is a model for ``-m python/<this file>:reply -M form=...``: it finds the problem by
the chat form's prompt (the last user turn) and answers in ``form``; ``mixed`` answers odd
problems ``bare`` and even ones ``broken``.
"""

from __future__ import annotations

import functools
import re
import threading

from evalstack.core.types import Sample

FORMS = ("bare", "function", "imports", "broken")


def _entry(sample: Sample) -> str:
    return str(sample.metadata["entry_point"])


def _wrapped(entry: str, name: str) -> str:
    """Code that redefines ``entry`` to call the real one and return a fresh object."""
    return (f"\n{name} = {entry}\n\n\ndef {entry}(*args, **kwargs):\n"
            f"    return ({name}(*args, **kwargs), object())[1]\n")


def humaneval_function(sample: Sample) -> str:
    """The entry point's complete definition: the prompt from its ``def`` line, and the body."""
    prompt = str(sample.metadata["code_prefix"])
    start = re.search(rf"^def {re.escape(_entry(sample))}\(", prompt, re.MULTILINE)
    assert start is not None, sample.id
    return prompt[start.start():] + sample.target


def humaneval_reply(sample: Sample, form: str) -> str:
    """A reply to a HumanEval problem in ``form`` (see the module docstring)."""
    entry = _entry(sample)
    if form == "bare":
        return sample.target
    if form == "function":
        return (f"Here is the completed function:\n\n```python\n"
                f"{humaneval_function(sample).rstrip()}\n```\n\nIt handles the examples in the "
                f"docstring. Usage:\n\n```python\nprint({entry}(...))\n```\n")
    if form == "imports":
        whole = str(sample.metadata["code_prefix"]) + sample.target
        return (f"Sure! Here's a solution that passes the tests:\n```python\n{whole.rstrip()}\n"
                f"```\nLet me know if you have any questions.")
    if form == "broken":
        code = humaneval_function(sample).rstrip() + "\n" + _wrapped(entry, "_canonical")
        return f"Here is the completed function:\n\n```python\n{code}```\n"
    raise ValueError(form)


def mbpp_reply(sample: Sample, form: str) -> str:
    """A reply to an MBPP problem in ``form`` (see the module docstring)."""
    code, entry = sample.target, _entry(sample)
    if form == "bare":
        return code
    if form == "function":
        test = str(sample.metadata["code_test"]).splitlines()[-1]
        return (f"Here is a function that solves the task:\n\n```python\n{code}\n```\n\n"
                f"It passes the three tests, for example:\n\n```python\n{test}\nprint(...())\n"
                f"```\n")
    if form == "imports":
        return (f"```py\nfrom typing import List, Tuple\nimport math\n\n{code}\n```\n"
                f"This runs in O(n) time.")
    if form == "broken":
        return f"Here you go:\n```python\n{code}\n{_wrapped(entry, '_reference')}```"
    raise ValueError(form)


_LOCK = threading.Lock()


def _problems() -> dict[str, tuple[str, int, Sample]]:
    """Every chat-form prompt of both benchmarks -> (benchmark, index, sample).

    Built once, under a lock: the callable runs in several threads at once, and building
    the tasks concurrently (compiling and parsing in each thread) is what CPython 3.11 does
    not survive ("AST constructor recursion depth mismatch").
    """
    with _LOCK:
        return _build_problems()


@functools.cache
def _build_problems() -> dict[str, tuple[str, int, Sample]]:
    from evalstack.benchmarks.humaneval import humaneval
    from evalstack.benchmarks.mbpp import mbpp

    return {
        sample.input_text(): (name, i, sample)
        for name, factory in (("humaneval", humaneval), ("mbpp", mbpp))
        for i, sample in enumerate(factory(format="chat").dataset)
    }


def mixed(index: int) -> str:
    """The form of problem ``index`` in the ``mixed`` replies."""
    return "bare" if index % 2 else "broken"


def reply(prompt: str, form: str = "function") -> str:
    """A model answering a chat-form HumanEval or MBPP prompt in ``form``."""
    name, index, sample = _problems()[prompt]
    build = humaneval_reply if name == "humaneval" else mbpp_reply
    return build(sample, mixed(index) if form == "mixed" else form)
