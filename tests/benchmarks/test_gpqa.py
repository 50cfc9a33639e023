"""GPQA diamond on a synthetic CSV in the canonical format (the real file is not shipped)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from evalstack.benchmarks.gpqa import gpqa
from evalstack.core import registry
from evalstack.core.errors import DataError
from evalstack.core.scorer import TaskState
from evalstack.core.types import ModelOutput
from evalstack.datasets.sources import file_sha256
from tests.benchmarks.helpers import run

COLUMNS = [
    "Pre-Revision Question", "Pre-Revision Correct Answer", "Pre-Revision Incorrect Answer 1",
    "Pre-Revision Incorrect Answer 2", "Pre-Revision Incorrect Answer 3",
    "Pre-Revision Explanation", "Self-reported question-writing time (minutes)", "Question",
    "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
    "Explanation", "Subdomain", "Record ID", "High-level domain",
]
ROWS = [
    {"Question": "A synthetic particle decays into two photons of equal energy. Which quantity "
                 "is conserved?",
     "Correct Answer": "Four-momentum", "Incorrect Answer 1": "Rest mass of each photon",
     "Incorrect Answer 2": " Particle number ", "Incorrect Answer 3": "Parity  of the photons",
     "Subdomain": "Relativistic Mechanics", "Record ID": "recSYNTH0001",
     "High-level domain": "Physics"},
    {"Question": "Which synthetic reagent reduces a ketone to a secondary alcohol?",
     "Correct Answer": "Sodium borohydride", "Incorrect Answer 1": "Ozone",
     "Incorrect Answer 2": "Chromic acid", "Incorrect Answer 3": "Potassium permanganate",
     "Subdomain": "Organic Chemistry", "Record ID": "recSYNTH0002",
     "High-level domain": "Chemistry"},
    {"Question": "In a synthetic cell, which organelle makes ATP by oxidative phosphorylation?",
     "Correct Answer": "Mitochondrion", "Incorrect Answer 1": "Golgi apparatus",
     "Incorrect Answer 2": "Lysosome", "Incorrect Answer 3": "Ribosome",
     "Subdomain": "Molecular Biology", "Record ID": "recSYNTH0003",
     "High-level domain": "Biology"},
]
FIRST_PROMPT = (
    "What is the correct answer to this question:A synthetic particle decays into two photons "
    "of equal energy. Which quantity is conserved?\nChoices:\n(A) Parity of the photons\n"
    "(B) Particle number\n(C) Four-momentum\n(D) Rest mass of each photon\nAnswer:"
)


def write_csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return path


@pytest.fixture
def data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    return write_csv(tmp_path / "mirror" / "gpqa" / "gpqa_diamond.csv", ROWS)


def test_registered():
    assert registry.lookup("task", "gpqa") is gpqa


def test_exact_prompt_and_continuations(data_file):
    task = gpqa()
    first = next(iter(task.dataset))
    assert (first.id, first.target, first.category) == ("recSYNTH0001", "C", "Physics")
    assert first.metadata["subdomain"] == "Relativistic Mechanics"
    assert task.solver.prompt(first, "loglikelihood") == FIRST_PROMPT
    assert task.solver.continuations(first) == (" (A)", " (B)", " (C)", " (D)")
    assert task.solver.prompt(first, "generate") == (
        FIRST_PROMPT + "\n\nAnswer with the letter of the correct option (A, B, C, D) only.")


def test_shuffle_is_per_question_and_tracks_the_correct_answer(data_file, tmp_path,
                                                              monkeypatch):
    samples = list(gpqa().dataset)
    assert [s.target for s in samples] == ["C", "A", "B"]
    for s, row in zip(samples, ROWS, strict=True):
        assert s.choices["ABCD".index(s.target)] == row["Correct Answer"]
    # Another subset and order of the same questions: the same option order for each.
    other = write_csv(tmp_path / "other" / "gpqa" / "gpqa_diamond.csv", ROWS[::-1][:2])
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(other.parents[1]))
    again = {s.id: s.choices for s in gpqa().dataset}
    assert again == {s.id: s.choices for s in samples[1:]}
    task = gpqa()
    assert task.dataset.fingerprint() == file_sha256(other)


def test_missing_data_says_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError) as info:
        gpqa()
    message = str(info.value)
    assert "Idavidrein/gpqa (config gpqa_diamond), split train" in message
    assert str(tmp_path / "mirror" / "gpqa" / "gpqa_diamond.csv") in message
    assert "CC BY 4.0" in message


def test_loglikelihood_run_reports_acc_and_acc_norm(data_file, tmp_path):
    t, records = run(gpqa(), tmp_path, "mock/echo", loglikelihood=True)
    assert set(t.metrics) == {"acc", "acc_norm"}
    assert set(t.categories) == {"Physics", "Chemistry", "Biology"}
    for r in records.values():
        assert r.metadata["continuation_chars"] == [3, 3, 3, 3]
        assert r.scores["acc"] == r.scores["acc_norm"]  # equal lengths: the same choice


def test_generate_run_reports_flexible_and_strict(data_file, tmp_path):
    outputs = ["(C)", "Sodium borohydride", "B) Mitochondrion, since it hosts the ETC."]
    t, records = run(gpqa(method="generate"), tmp_path, "mock/scripted", outputs=outputs)
    assert set(t.metrics) == {"acc", "acc_strict"}
    assert t.metrics["acc"].estimate == 1.0
    assert t.metrics["acc_strict"].estimate == pytest.approx(1 / 3)
    assert records["recSYNTH0001"].scores["acc_strict"]["value"] == 1.0
    assert records["recSYNTH0002"].scores["acc"]["answer"] == "A"


@pytest.mark.parametrize(
    ("reply", "flexible", "strict"),
    [("B) Particle number", "B", None),
     ("The answer is (C).", "C", "C"),
     ("**A**", "A", None),
     ("Answer: (C)", "C", "C")],
)
def test_answer_extraction(data_file, reply, flexible, strict):
    task = gpqa()
    sample = next(iter(task.dataset))
    state = TaskState(sample, output=ModelOutput(reply))
    acc, _, acc_strict = task.scorers
    assert acc(sample, state).answer == flexible
    assert acc_strict(sample, state).answer == strict
