"""Perturbations: answers kept, variants reproducible, the run records how they were made, and
bad requests refused before any model request."""

from __future__ import annotations

import random
from itertools import islice

import pytest
from click.testing import CliRunner

from evalstack.benchmarks.mmlu import mmlu
from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError
from evalstack.core.types import Sample
from evalstack.perturb import parse_perturbation, perturb_task
from evalstack.scorers.choice import extract_label
from evalstack.solvers.multiple_choice import multiple_choice
from evalstack.solvers.templates import LETTERS, target_letter
from evalstack.store import Store

ITEM = Sample("q1", "Which is a prime number?", "C", choices=("4", "6", "7", "9"),
              metadata={"category": "maths"})


def _answer_text(sample: Sample) -> str:
    return (sample.choices or ())[LETTERS.index(target_letter(sample))]


def test_rotate_makes_every_other_rotation_and_the_answer_follows():
    variants = parse_perturbation("rotate").variants(ITEM, random.Random(0))
    assert variants is not None and len(variants) == 3
    assert {v.choices for v in variants} == {("6", "7", "9", "4"), ("7", "9", "4", "6"),
                                            ("9", "4", "6", "7")}
    assert all(_answer_text(v) == "7" for v in variants)
    assert [v.target for v in variants] == ["B", "A", "D"]


def test_shuffle_is_seeded_never_the_original_order_and_keeps_the_answer():
    p = parse_perturbation("shuffle:variants=5")
    one = p.variants(ITEM, random.Random(1))
    two = p.variants(ITEM, random.Random(1))
    assert one == two and one is not None and len(one) == 5
    assert all(v.choices != ITEM.choices and _answer_text(v) == "7" for v in one)


def test_labels_change_what_the_model_sees_and_reads():
    (variant,) = parse_perturbation("labels").variants(ITEM, random.Random(0)) or []
    solver = multiple_choice()
    prompt = solver.prompt(variant, "generate")
    assert "1. 4\n2. 6\n3. 7\n4. 9\nAnswer:" in prompt and "(1, 2, 3, 4)" in prompt
    assert solver.continuations(variant) == (" 1", " 2", " 3", " 4")
    assert extract_label("The answer is 3", ["1", "2", "3", "4"], variant.choices) == 2
    assert extract_label("7", ["1", "2", "3", "4"], variant.choices) == 2  # the option's text
    roman = parse_perturbation("labels:style=roman").variants(ITEM, random.Random(0)) or []
    assert "III. 7" in solver.prompt(roman[0], "loglikelihood")


@pytest.mark.parametrize("spec", ["typos:rate=0.1,variants=3", "casing:variants=3",
                                  "whitespace:variants=2", "distractor:variants=2"])
def test_noise_changes_the_question_only(spec):
    variants = parse_perturbation(spec).variants(ITEM, random.Random(5)) or []
    assert len(variants) == int(spec.rpartition("=")[2])
    for v in variants:
        assert v.input != ITEM.input and v.choices == ITEM.choices and v.target == ITEM.target


def test_the_variant_task_names_each_variant_after_its_original_and_stores_how():
    base = mmlu()
    task = perturb_task(base, parse_perturbation("rotate"), seed=3, limit=5)
    samples = list(task.dataset)
    firsts = [s.id for s in islice(base.dataset, 5)]
    assert len(samples) == 15
    assert {s.metadata["original_id"] for s in samples} == set(firsts)
    assert samples[0].id == f"{firsts[0]}~rotate0"
    assert task.args["perturb"] == {"name": "rotate", "version": 1, "seed": 3, "params": {},
                                    "limit": 5}
    again = perturb_task(mmlu(), parse_perturbation("rotate"), seed=3, limit=5)
    assert task.dataset.fingerprint() == again.dataset.fingerprint()
    other = perturb_task(mmlu(), parse_perturbation("shuffle"), seed=4, limit=5)
    assert other.dataset.fingerprint() != task.dataset.fingerprint()


def test_unknown_names_and_bad_options_are_refused():
    with pytest.raises(ConfigError, match="Did you mean 'rotate'"):
        parse_perturbation("rotat")
    with pytest.raises(ConfigError, match="variants must be a whole number"):
        parse_perturbation("shuffle:variants=0")
    with pytest.raises(ConfigError, match="style must be one of"):
        parse_perturbation("labels:style=emoji")
    with pytest.raises(ConfigError, match="expected NAME:key=value"):
        parse_perturbation("typos:rate")
    with pytest.raises(ConfigError, match="takes no options"):
        parse_perturbation("rotate:depth=2")


def test_an_option_shuffle_on_a_task_without_options_stops_before_any_request(tmp_path):
    data = tmp_path / "cases.jsonl"
    data.write_text('{"input": "2+2?", "target": "4"}\n{"input": "3+3?", "target": "6"}\n')
    store = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["robust", str(data), "-m", "mock/echo", "--perturb",
                                      "shuffle", "--store", str(store), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "has no options" in result.output and "Traceback" not in result.output
    assert not store.exists() or not list(Store.open(str(store)).list_runs())


def test_a_stored_run_can_be_perturbed_by_its_id(tmp_path):
    store = str(tmp_path / "s.db")
    first = CliRunner().invoke(cli, ["run", "mmlu", "-m", "mock/echo", "--limit", "6",
                                     "--store", store, "--json", "--no-progress"])
    assert first.exit_code == 0, first.output
    import json

    run_id = json.loads(first.stdout.strip().splitlines()[-1])["tasks"][0]["run_id"]
    result = CliRunner().invoke(cli, ["robust", run_id, "--perturb", "labels", "--store",
                                      store, "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["original_run"] == run_id and report["items"] == 6
    assert report["overall"]["method"] == "mcnemar_exact"
