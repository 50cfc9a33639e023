"""The sandbox's self-test and failure paths, the unsafe mode, parallelism, and the scorer."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from evalstack.core.errors import ConfigError, UserError
from evalstack.core.scorer import TaskState
from evalstack.core.task import Task
from evalstack.core.types import GenerateConfig, ModelOutput, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.scorers.code import (
    Limits,
    SandboxError,
    build_program,
    check_sandbox,
    code_execution,
    cut_at_stop,
    execute,
    extract_code,
    run_program,
    run_program_async,
    sandbox,
)
from evalstack.scorers.code.execute import UNSAFE_WARNING, workers
from evalstack.solvers.generate import generate


@pytest.fixture
def fresh_self_test():
    sandbox.reset_self_test()
    yield
    sandbox.reset_self_test()


@pytest.fixture
def spy_runs(monkeypatch):
    """Records every program started under bwrap (after the self-test)."""
    calls = []
    real = execute.run_in_sandbox

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(execute, "run_in_sandbox", spy)
    return calls


def test_simple_outcomes():
    assert run_program("print(6 * 7)").stdout == "42\n"
    failed = run_program("assert 1 == 2")
    assert (failed.status, failed.returncode) == ("failed", 1)
    assert failed.stderr.strip().endswith("AssertionError")
    assert run_program("x = (").status == "error"
    assert run_program("import sys; sys.exit(3)").returncode == 3
    done = run_program("import os; print(os.getcwd(), os.environ['HOME'], os.getuid())")
    assert done.stdout.split() == ["/tmp", "/tmp", "65534"]
    raw = run_program("import os\nos.write(1, b'a\\x00b\\xff')\nos.write(2, b'\\x00')")
    assert (raw.stdout, raw.stderr) == ("a\ufffdb\ufffd", "\ufffd")  # storable text


def test_environment_is_cleared_to_the_allowlist(monkeypatch):
    monkeypatch.setenv("EVALSTACK_TEST_SECRET", "s3cret")
    out = run_program("import os, json; print(json.dumps(sorted(os.environ)))").stdout
    assert "EVALSTACK_TEST_SECRET" not in out
    assert set(eval(out)) <= set(sandbox.sandbox_env())  # noqa: S307 - our own JSON list
    extra = run_program("import os; print(os.environ['MY_FLAG'])", env={"MY_FLAG": "1"})
    assert extra.stdout == "1\n"


def test_filesystem_is_read_only_and_minimal():
    code = (
        "import os\n"
        "for path in ('/usr/evil', '/evil', '/etc/evil'):\n"
        "    try:\n        open(path, 'w')\n        print('wrote', path)\n"
        "    except OSError as exc:\n        print('denied', exc.errno)\n"
        "print(sorted(os.listdir('/')))\n"
        "print(os.path.exists('/work'), os.path.exists('/home'))\n"
    )
    out = run_program(code).stdout
    assert "wrote" not in out
    assert "False False" in out


def test_limits_are_validated():
    with pytest.raises(ConfigError, match="timeout must be a positive"):
        Limits(timeout=0)
    with pytest.raises(ConfigError, match="max_processes must be at least 4"):
        Limits(max_processes=2)
    with pytest.raises(ConfigError, match="unsafe_no_sandbox must be true or false"):
        code_execution(unsafe_no_sandbox="yes")


def test_missing_bwrap_is_a_clear_error_and_nothing_runs(monkeypatch, fresh_self_test,
                                                          spy_runs):
    monkeypatch.setattr(sandbox, "BWRAP_PATH", "/nonexistent/bin/bwrap")
    with pytest.raises(SandboxError, match="apt-get install bubblewrap") as info:
        run_program("print('should not run')")
    assert "user namespaces" in str(info.value)
    assert isinstance(info.value, UserError)
    assert spy_runs == []


def test_missing_bwrap_stops_a_run_before_any_program(monkeypatch, fresh_self_test, spy_runs,
                                                      tmp_path):
    monkeypatch.setattr(sandbox, "BWRAP_PATH", "/nonexistent/bin/bwrap")
    data = MemoryDataset("one", [Sample("1", "f?", metadata={"code_test": "assert f()"})])
    task = Task("one", data, generate(), [code_execution()])
    with pytest.raises(SandboxError, match="bubblewrap"):
        evaluate([task], [MockProvider("constant", text="def f(): return 1")],
                 RunConfig(store=str(tmp_path / "s.db"), progress=False))
    assert spy_runs == []


def test_a_broken_bwrap_fails_the_self_test(monkeypatch, fresh_self_test, spy_runs, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    monkeypatch.setattr(sandbox, "BWRAP_PATH", str(fake))
    with pytest.raises(SandboxError, match="self-test failed") as info:
        run_program("print(1)")
    assert "namespace" in str(info.value)
    assert spy_runs == []
    with pytest.raises(SandboxError):  # the failure is remembered
        check_sandbox()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root is exempt from RLIMIT_NPROC")
def test_self_test_catches_bwrap_run_as_root(monkeypatch, fresh_self_test):
    """Started by root, bwrap maps the sandbox uid to root and the process limit is ignored:
    the self-test must notice (this is why bwrap is started as uid 65534)."""
    monkeypatch.setattr(sandbox, "drop_to", lambda: None)
    with pytest.raises(SandboxError, match="process limit does not hold"):
        check_sandbox()


def test_unsafe_mode_warns_and_still_applies_limits(monkeypatch, fresh_self_test, capsys):
    monkeypatch.setattr(sandbox, "BWRAP_PATH", "/nonexistent/bin/bwrap")
    monkeypatch.setattr(execute, "_warned", False)
    monkeypatch.setenv("EVALSTACK_TEST_SECRET", "s3cret")
    done = run_program("import os; print(os.environ.get('EVALSTACK_TEST_SECRET'))",
                       unsafe_no_sandbox=True)
    assert (done.status, done.stdout, done.sandboxed) == ("passed", "None\n", False)
    assert "WITHOUT A SANDBOX" in capsys.readouterr().err
    looping = run_program("while True: pass", Limits(timeout=1), unsafe_no_sandbox=True)
    assert looping.status == "timeout"
    big = run_program("b = bytearray(10 * 1024 ** 3)", unsafe_no_sandbox=True)
    assert big.limit == "memory"
    code_execution(unsafe_no_sandbox=True)
    assert UNSAFE_WARNING in capsys.readouterr().err


def test_programs_run_in_parallel_up_to_the_core_count():
    n = workers() + 2
    code = "import time\nprint(time.time())\ntime.sleep(0.5)\nprint(time.time())\n"

    async def run_all():
        return await asyncio.gather(*(run_program_async(code) for _ in range(n)))

    started = time.monotonic()
    results = asyncio.run(run_all())
    elapsed = time.monotonic() - started
    spans = [tuple(float(x) for x in r.stdout.split()) for r in results]
    overlap = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert overlap == min(n, workers())
    assert elapsed < n * 0.5


def test_extract_and_cut():
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    assert extract_code("```js\nno\n```\n```python\nyes\n```") == "yes\n"
    assert extract_code("```python\nunclosed = 1\n") == "unclosed = 1\n"
    assert cut_at_stop("a\n[DONE]\nb", ["[DONE]"]) == "a\n"
    assert cut_at_stop("abc", []) == "abc"


def test_build_program_continues_or_replaces_the_prompt():
    prompt = 'def add(a, b):\n    """Add."""\n'
    sample = Sample("1", prompt, metadata={"code_prefix": prompt, "entry_point": "add",
                                           "code_test": "assert add(1, 2) == 3"})
    assert build_program(sample, "    return a + b\n") == (
        prompt + "    return a + b\n\nassert add(1, 2) == 3\n")
    fenced = build_program(sample, "```python\ndef add(a, b):\n    return a + b\n```")
    assert fenced == prompt + "\ndef add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\n"
    assert run_program(fenced).status == "passed"
    with pytest.raises(ConfigError, match="code_test"):
        build_program(Sample("2", "x"), "pass")


def test_build_program_for_chat_replies():
    """A whole function keeps the prompt's imports before it; its ``from __future__`` imports
    move to the top; a block indented as a whole (a Markdown list item) is dedented."""
    prompt = 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum."""\n'
    sample = Sample("1", prompt, metadata={"code_prefix": prompt, "entry_point": "total",
                                           "code_test": "assert total([1, 2]) == 3"})
    function = "def total(xs: List[int]) -> int:\n    return sum(xs)\n"
    future = f"from __future__ import annotations\nimport math\n\n{function}"
    program = build_program(sample, f"Sure:\n```python\n{future}```\nDone.")
    assert program.startswith("from __future__ import annotations\nfrom typing import List")
    assert program.count("from __future__") == 1
    listed = "1. The function:\n\n   ```python\n   def total(xs):\n       return sum(xs)\n   ```\n"
    for reply in (f"```python\n{function}```", f"Sure:\n```python\n{future}```", listed):
        assert run_program(build_program(sample, reply)).status == "passed", reply
    body = build_program(sample, "```python\n    return sum(xs)\n```")
    assert body == prompt + "    return sum(xs)\n\nassert total([1, 2]) == 3\n"


def test_a_chat_reply_is_cut_only_in_the_completion_form():
    """The completion form cuts at its stop sequences as the provider would (a whole function
    after a fence is cut at "\\ndef" and fails, as in lm-evaluation-harness); the chat form
    sends none and the same reply passes."""
    prompt = 'def one():\n    """Return 1."""\n'
    sample = Sample("1", prompt, metadata={"code_prefix": prompt, "entry_point": "one",
                                           "code_test": "assert one() == 1"})
    reply = "Here it is:\n```python\nimport os\n\ndef one():\n    return 1\n```\n"
    scorer = code_execution(timeout=5)
    for stop, passed in ((("\nclass", "\ndef", "\n#", "\nif", "\nprint"), 0.0), ((), 1.0)):
        state = TaskState(sample, output=ModelOutput(reply), config=GenerateConfig(stop=stop))
        assert asyncio.run(scorer(sample, state)).value == passed


def test_scorer_scores_and_records_the_execution():
    scorer = code_execution(timeout=5)
    assert scorer.spec.name == "pass_at_1"
    sample = Sample("1", "q", metadata={"code_test": "assert f() == 1"})
    config = GenerateConfig(stop=("[DONE]",))
    good = TaskState(sample, output=ModelOutput("def f():\n    return 1\n[DONE] junk("),
                     config=config)
    score = asyncio.run(scorer(sample, good))
    assert (score.value, score.kind, score.answer) == (1.0, "binary", "passed")
    assert good.metadata["code_execution"]["status"] == "passed"
    bad = TaskState(sample, output=ModelOutput("def f():\n    return 2\n"), config=config)
    score = asyncio.run(scorer(sample, bad))
    assert (score.value, score.answer) == (0.0, "failed")
    assert "AssertionError" in score.explanation
    noisy = TaskState(sample, output=ModelOutput("print('x' * 10**6)\ndef f(): return 1"))
    asyncio.run(scorer(sample, noisy))
    assert noisy.metadata["code_execution"]["truncated"] is True
