"""Executing model-written code: the sandbox, the ``pass_at_1`` scorer, and pass@k.

- ``code_execution(...)`` (registered as the scorer ``pass_at_1``): builds a program from the
  model's output and the sample's tests and scores 1 when it runs cleanly.
- ``run_program`` / ``run_program_async``: run one program under the limits in ``Limits``.
- ``check_sandbox``: the isolation self-test, run once before the first program.
- ``pass_at_k_from_scores``: pass@k (k > 1) of a stored run made with ``--epochs n``; a scorer
  sees one epoch at a time, so pass@k is computed afterwards from the stored per-epoch scores:

  .. code-block:: python

      from evalstack.store import Store
      from evalstack.scorers.code import pass_at_k_from_scores

      with Store.open("evalstack.db") as store:
          print(pass_at_k_from_scores(store.iter_scores(run_id), k=10))

Every program runs under bubblewrap: no network, a read-only minimal root, a private ``/tmp``,
no home folder, a cleared environment, and CPU, memory, file-size, process and wall-clock
limits (``evalstack.scorers.code.sandbox`` explains each, and why bwrap runs as uid 65534 when
evalstack runs as root). Without a working bwrap nothing runs, unless the task is given
``unsafe_no_sandbox=true``, which prints a loud warning.
"""

from evalstack.scorers.code.execute import (
    ExecutionError,
    ExecutionResult,
    run_program,
    run_program_async,
)
from evalstack.scorers.code.sandbox import Limits, SandboxError, check_sandbox
from evalstack.scorers.code.scorer import (
    build_program,
    code_execution,
    cut_at_stop,
    extract_code,
    pass_at_k_from_scores,
)

__all__ = [
    "ExecutionError",
    "ExecutionResult",
    "Limits",
    "SandboxError",
    "build_program",
    "check_sandbox",
    "code_execution",
    "cut_at_stop",
    "extract_code",
    "pass_at_k_from_scores",
    "run_program",
    "run_program_async",
]
