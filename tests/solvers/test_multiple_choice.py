import json

import pytest

from evalstack.core.task import Task
from evalstack.core.types import Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.scorers.choice import choice
from evalstack.solvers.multiple_choice import multiple_choice
from evalstack.store import Store

SAMPLES = [
    Sample("1", "2+2?", "B", choices=("3", "4", "5")),
    Sample("2", "Capital of France?", "A", choices=("Paris", "Rome")),
    Sample("3", "Largest planet?", "2", choices=("Mars", "Venus", "Jupiter")),
]


def _task(method="auto"):
    return Task("mc", MemoryDataset("mc", SAMPLES), multiple_choice(method=method), [choice()])


def test_generate_mode_extracts_letters_robustly(store_path):
    outputs = ["The answer is (B).", "**A**", "I think it's C. Jupiter"]
    result = evaluate([_task()], ["mock/scripted"],
                      RunConfig(store=str(store_path), progress=False, concurrency=1),
                      model_args={"outputs": outputs})
    t = result.tasks[0]
    assert t.metrics["choice"].estimate == 1.0 and t.metrics["choice"].n == 3
    with Store.open(str(store_path)) as st:
        rec = next(st.iter_samples(t.run_id))
    assert rec.metadata["method"] == "generate"
    assert "Answer with the letter" in rec.metadata["prompt"][0]["content"]


def test_auto_uses_loglikelihood_when_offered(store_path):
    result = evaluate([_task()], ["mock/echo"],
                      RunConfig(store=str(store_path), progress=False),
                      model_args={"loglikelihood": True})
    with Store.open(str(store_path)) as st:
        recs = list(st.iter_samples(result.tasks[0].run_id))
    assert all(r.metadata["method"] == "loglikelihood" for r in recs)
    assert all(len(r.metadata["choice_logprobs"]) == len(r.choices) for r in recs)
    assert all(r.output == "" for r in recs)


def test_fewshot_and_format_match_lm_eval_mmlu():
    solver = multiple_choice(fewshot=[SAMPLES[1]])
    text = solver.template.render(SAMPLES[0])
    assert text == ("Capital of France?\nA. Paris\nB. Rome\nAnswer: A\n\n"
                    "2+2?\nA. 3\nB. 4\nC. 5\nAnswer:")


def test_sample_without_choices_fails_before_requests(store_path):
    bad = Task("mc", MemoryDataset("mc", [Sample("1", "q", "A")]), multiple_choice(), [choice()])
    from evalstack.core.errors import DataError

    with pytest.raises(DataError, match="needs a 'choices' list"):
        evaluate([bad], ["mock/echo"], RunConfig(store=str(store_path), progress=False))
    assert json.dumps  # keep the import used
