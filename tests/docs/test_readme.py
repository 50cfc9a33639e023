"""Every ``evalstack`` command in README.md's bash blocks runs, as it would after ``make demo``.

The commands run in-process (click's ``CliRunner``) in the README's order, in a scratch folder
holding a copy of ``examples/``, on a scratch store, so that later commands can use the runs
earlier ones stored. None needs a key or the network: the project's fake OpenAI-compatible
server (``evalstack.testing.fake_server``, loopback only) answers every ``openai/...`` and
``anthropic/...`` model, through ``-M base_url`` (its port put in place of the README's 8000)
or the ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` variables the README documents.

``STEPS`` says how each README command is run: as written, or with a stated change (a stored
run's id for a placeholder, a smaller ``--limit``), or skipped for a stated reason. A README
command without a step fails, and so does a step whose command is no longer in the README.
"""

from __future__ import annotations

import re
import shlex
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_BASE_URL = "http://127.0.0.1:8000/v1"


def readme_commands(text: str) -> list[str]:
    """The ``evalstack`` commands of the bash blocks, one line each, in shell syntax.

    Examples:
        >>> readme_commands("```bash\\nmake demo\\nevalstack run a.jsonl \\\\\\n --json  # x\\n```")
        ['evalstack run a.jsonl --json']
    """
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "evalstack":
                commands.append(shlex.join(words))
    return commands


@dataclass(frozen=True)
class Step:
    """How one README command is run.

    Attributes:
        run: the command line(s) to run instead of the README's, in shell syntax; ``<run:NAME>``
            stands for the id of the run an earlier step saved as NAME.
        why: the reason for the change, or for the skip.
        skip: do not run it.
        save: save the id of the run this command stores, as this name.
        codes: the exit codes that mean it worked.
        expect: a regular expression its output must match (multiline).
    """

    run: tuple[str, ...] = ()
    why: str = ""
    skip: bool = False
    save: str | None = None
    codes: tuple[int, ...] = (0,)
    expect: str = ""


CAPITALS = "evalstack run examples/unit_eval/capitals.jsonl"
QUESTIONS = "evalstack run examples/judging/questions.jsonl -m openai/my-model"
VALIDATE = ("evalstack judge validate examples/judging/labels.jsonl --judge openai/gpt-4o-mini "
            "--rubric factual_qa")
JUDGE_ARG = '{"judge": "openai/gpt-4o-mini", "rubric": "factual_qa"}'
GATE = "evalstack gate --baseline prod --candidate RUN_B --max-drop 0.02 --junit gate.xml"

#: Every README command, by its text as ``readme_commands`` gives it.
STEPS: dict[str, Step] = {
    f"{CAPITALS} --model local/smollm2 --scorer includes": Step(save="smollm2"),
    f"{CAPITALS} --model openai/my-model -M base_url={README_BASE_URL} --json": Step(
        save="server", expect='"schema_version": 1',
        why="the fake server's port replaces 8000"),
    "evalstack run examples/unit_eval/capitals.yaml --model anthropic/claude-3-5-haiku-latest":
        Step(why="answered by the fake server (ANTHROPIC_BASE_URL)"),
    f"{CAPITALS} --model python/examples/my_pipeline.py:answer": Step(save="pipeline"),
    "evalstack run examples/tasks.py --model mock/echo --epochs 3": Step(),
    "evalstack list tasks": Step(expect="truthfulqa_mc2"),
    "evalstack run mmlu --model local/smollm2 --limit 200": Step(
        run=("evalstack run mmlu --model local/smollm2 --limit 5",),
        why="--limit 5: 200 log-likelihood questions take over a minute on 2 cores"),
    "evalstack run gsm8k --model openai/my-model --limit 50": Step(
        why="answered by the fake server (OPENAI_BASE_URL)"),
    "evalstack run bbh -T subtask=boolean_expressions --model openai/my-model --limit 50": Step(
        why="answered by the fake server (OPENAI_BASE_URL)"),
    "evalstack run humaneval --model openai/my-model --epochs 5": Step(
        run=("evalstack run humaneval --model openai/my-model --epochs 5 --limit 2",),
        why="--limit 2: all 164 problems x 5 epochs run 820 sandboxed programs; "
            "answered by the fake server"),
    "evalstack runs": Step(),
    "evalstack show RUN_ID": Step(run=("evalstack show <run:smollm2>",),
                                  why="RUN_ID: the first command's run"),
    "evalstack export RUN_ID --format 'jsonl|csv|parquet' -o FILE": Step(
        run=tuple(f"evalstack export <run:smollm2> --format {fmt} -o export.{fmt}"
                  for fmt in ("jsonl", "csv", "parquet")),
        why="each format, of the first command's run, to export.FORMAT"),
    "evalstack run examples/tasks.py --model mock/echo --report out.html": Step(),
    "evalstack compare RUN_A RUN_B": Step(
        run=("evalstack compare <run:pipeline> <run:server>",),
        why="RUN_A, RUN_B: the pipeline's and the server's capitals runs (same samples, "
            "same scorer)"),
    "evalstack select RUN...": Step(run=("evalstack select <run:pipeline> <run:server>",),
                                    why="RUN...: the two capitals runs compared above"),
    "evalstack baseline set prod RUN_A": Step(run=("evalstack baseline set prod <run:pipeline>",),
                                              why="RUN_A as above"),
    GATE: Step(
        run=(GATE.replace("RUN_B", "<run:server>"),), codes=(0, 1, 2),
        expect=r"^(PASS|FAIL|INCONCLUSIVE)\b",
        why="RUN_B as above; exit 0, 1 or 2 is a verdict, as the README says"),
    "evalstack plan --accuracy 0.7 --delta 0.05 --discordance 0.15": Step(),
    "evalstack plan --pilot RUN_A --pilot RUN_B --delta 0.03": Step(
        run=("evalstack plan --pilot <run:pipeline> --pilot <run:server> --delta 0.03",),
        why="RUN_A, RUN_B as above"),
    f"{QUESTIONS} --scorer llm_judge": Step(
        run=(f"{QUESTIONS} --scorer llm_judge --limit 2",),
        why="--limit 2: the embedded judge takes about 10 s per answer on 2 cores; the model "
            "is the fake server"),
    f"{QUESTIONS} --scorer 'llm_judge:{JUDGE_ARG}'": Step(
        save="judged", why="the model and the judge are the fake server"),
    f"{VALIDATE} --scale 1-5": Step(expect="Verdict", why="the judge is the fake server"),
    f"{VALIDATE} --run RUN": Step(run=(f"{VALIDATE} --run <run:judged>",),
                                 why="RUN: the run judged by openai/gpt-4o-mini above"),
}


@dataclass(frozen=True)
class Outcome:
    """What one command line did."""

    line: str
    code: int
    output: str


def _run_ids(store: Path) -> list[str]:
    if not store.exists():
        return []
    with Store.open(str(store)) as st:
        return [r.id for r in st.list_runs(limit=1000)]


def _invoke(line: str, env: dict[str, str]) -> Outcome:
    result = CliRunner().invoke(cli, shlex.split(line)[1:], env=env)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
    return Outcome(line, result.exit_code, output)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Outcome]]:
    """Every README command's outcomes, run in the README's order."""
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", work / "examples")
    store = work / "store.db"
    saved: dict[str, str] = {}
    done: dict[str, list[Outcome]] = {}
    with FakeServer() as server, pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        env = {
            "EVALSTACK_STORE": str(store),
            "EVALSTACK_CACHE_DIR": str(work / "cache"),
            "OPENAI_BASE_URL": server.url,
            "OPENAI_API_KEY": "sk-readme-test",
            "ANTHROPIC_BASE_URL": server.root_url,
            "ANTHROPIC_API_KEY": "sk-ant-readme-test",
            "HF_HUB_OFFLINE": "1",
            "COLUMNS": "200",
        }
        for command in readme_commands(README.read_text(encoding="utf-8")):
            step = STEPS.get(command)
            if step is None or step.skip:
                continue
            before = set(_run_ids(store))
            results = []
            for line in step.run or (command,):
                missing = [n for n in re.findall(r"<run:(\w+)>", line) if n not in saved]
                if missing:
                    results.append(Outcome(line, -1, f"no run saved as {missing}: an earlier "
                                                     "command failed"))
                    continue
                line = re.sub(r"<run:(\w+)>", lambda m: saved[m.group(1)], line)
                results.append(_invoke(line.replace(README_BASE_URL, server.url), env))
            if step.save:
                new = [r for r in _run_ids(store) if r not in before]
                if new:
                    saved[step.save] = new[0]  # newest first
            done[command] = results
    return done


@pytest.mark.parametrize("command", readme_commands(README.read_text(encoding="utf-8")))
def test_readme_command_runs(command: str, outcomes: dict[str, list[Outcome]]) -> None:
    step = STEPS.get(command)
    assert step is not None, f"New README command {command!r}: add a Step to STEPS."
    if step.skip:
        pytest.skip(step.why)
    for outcome in outcomes[command]:
        if "export" in outcome.line and "parquet" in outcome.line and outcome.code == 5:
            # without the extra, the error names it, as the README says
            assert "evalstack[parquet]" in outcome.output, outcome.output
            continue
        assert outcome.code in step.codes, f"{outcome.line} exited {outcome.code}:\n" \
                                           f"{outcome.output[-4000:]}"
        assert "Traceback" not in outcome.output, outcome.output[-4000:]
        assert re.search(step.expect, outcome.output, re.M), outcome.output[-4000:]


def test_every_step_is_a_readme_command() -> None:
    stale = set(STEPS) - set(readme_commands(README.read_text(encoding="utf-8")))
    assert not stale, f"Steps for commands no longer in the README: {sorted(stale)}"


def test_every_change_and_skip_says_why() -> None:
    for command, step in STEPS.items():
        assert step.why or not (step.run or step.skip), command


@pytest.mark.parametrize("command", [
    "evalstack run mmlu --limit 20 -m local/smollm2",
    "evalstack run humaneval --limit 5 -m local/smollm2",
])
def test_benchmarks_run_offline_from_the_data_packages(command: str, tmp_path: Path) -> None:
    """MMLU and HumanEval come from the packages ``make demo`` installs: no mirror, no hub."""
    pytest.importorskip("llama_cpp")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"EVALSTACK_STORE": str(tmp_path / "store.db"), "EVALSTACK_DATA_DIR": str(empty),
           "EVALSTACK_CACHE_DIR": str(empty), "HF_HUB_OFFLINE": "1"}
    outcome = _invoke(command, env)
    assert outcome.code == 0, outcome.output[-4000:]
    with Store.open(str(tmp_path / "store.db")) as st:
        (run,) = st.list_runs()
        done, errors = st.count_samples(run.id)
    assert run.status == "completed"
    assert (done, errors) == (int(command.split("--limit ")[1].split()[0]), 0)
