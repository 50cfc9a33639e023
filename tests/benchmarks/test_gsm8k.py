"""GSM8K: lm-eval's exact 5-shot prompt, the mirror, strict vs flexible scoring, the real model."""

from __future__ import annotations

import dataclasses

import pytest

from evalstack.benchmarks.gsm8k import FEWSHOT_SEED, gsm8k, render_prompt
from evalstack.core import registry
from evalstack.core.errors import ConfigError, DataError
from evalstack.datasets.sources import file_sha256
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.store import Store

# lm-evaluation-harness's gsm8k prompt for test item 0 (train rows 6374, 3610, 957, 61, 742,
# the first draw of random.Random(1234)); the same text appears in published lm-eval logs.
FIRST_PROMPT = (
    "Question: Jen and Tyler are gymnasts practicing flips. Jen is practicing the "
    "triple-flip while Tyler is practicing the double-flip. Jen did sixteen "
    "triple-flips during practice. Tyler flipped in the air half the number of times "
    "Jen did. How many double-flips did Tyler do?\n"
    "Answer: Jen did 16 triple-flips, so she did 16 * 3 = <<16*3=48>>48 flips.\n"
    "Tyler did half the number of flips, so he did 48 / 2 = <<48/2=24>>24 flips.\n"
    "A double flip has two flips, so Tyler did 24 / 2 = <<24/2=12>>12 double-flips.\n"
    "#### 12\n"
    "\n"
    "Question: Four people in a law firm are planning a party. Mary will buy a platter "
    "of pasta for $20 and a loaf of bread for $2. Elle and Andrea will split the cost "
    "for buying 4 cans of soda which cost $1.50 each, and chicken wings for $10. Joe "
    "will buy a cake that costs $5. How much more will Mary spend than the rest of the "
    "firm put together?\n"
    "Answer: Mary will spend $20 + $2 = $<<20+2=22>>22.\n"
    "Elle and Andrea will spend $1.5 x 4 = $<<1.5*4=6>>6 for the soda.\n"
    "Elle and Andrea will spend $6 + $10 = $<<6+10=16>>16 for the soda and chicken wings.\n"
    "Elle, Andrea, and Joe together will spend $16 + $5 = $<<16+5=21>>21.\n"
    "So, Mary will spend $22 - $21 = $<<22-21=1>>1 more than all of them combined.\n"
    "#### 1\n"
    "\n"
    "Question: A charcoal grill burns fifteen coals to ash every twenty minutes of "
    "grilling. The grill ran for long enough to burn three bags of coals. Each bag of "
    "coal contains 60 coals. How long did the grill run?\n"
    "Answer: The grill burned 3 * 60 = <<3*60=180>>180 coals.\n"
    "It takes 20 minutes to burn 15 coals, so the grill ran for 180 / 15 * 20 = "
    "<<180/15*20=240>>240 minutes.\n"
    "#### 240\n"
    "\n"
    "Question: A bear is preparing to hibernate for the winter and needs to gain 1000 "
    "pounds. At the end of summer, the bear feasts on berries and small woodland "
    "animals. During autumn, it devours acorns and salmon. It gained a fifth of the "
    "weight it needed from berries during summer, and during autumn, it gained twice "
    "that amount from acorns. Salmon made up half of the remaining weight it had needed "
    "to gain. How many pounds did it gain eating small animals?\n"
    "Answer: The bear gained 1 / 5 * 1000 = <<1/5*1000=200>>200 pounds from berries.\n"
    "It gained 2 * 200 = <<2*200=400>>400 pounds from acorns.\n"
    "It still needed 1000 - 200 - 400 = <<1000-200-400=400>>400 pounds.\n"
    "Thus, it gained 400 / 2 = <<400/2=200>>200 pounds from salmon.\n"
    "Therefore, the bear gained 400 - 200 = <<400-200=200>>200 pounds from small animals.\n"
    "#### 200\n"
    "\n"
    "Question: Brendan can cut 8 yards of grass per day, he bought a lawnmower and it "
    "helped him to cut more yards by Fifty percent per day. How many yards will Brendan "
    "be able to cut after a week?\n"
    "Answer: The additional yard Brendan can cut after buying the lawnmower is 8 x 0.50 "
    "= <<8*0.50=4>>4 yards.\n"
    "So, the total yards he can cut with the lawnmower is 8 + 4 = <<8+4=12>>12.\n"
    "Therefore, the total number of yards he can cut in a week is 12 x 7 = "
    "<<12*7=84>>84 yards.\n"
    "#### 84\n"
    "\n"
    "Question: Janet’s ducks lay 16 eggs per day. She eats three for breakfast every "
    "morning and bakes muffins for her friends every day with four. She sells the "
    "remainder at the farmers' market daily for $2 per fresh duck egg. How much in "
    "dollars does she make every day at the farmers' market?\n"
    "Answer:"
)


@pytest.fixture(scope="module")
def task():
    return gsm8k()


def test_the_first_prompt_is_lm_evals_exactly(task):
    first = next(iter(task.dataset))
    assert first.input == FIRST_PROMPT
    assert first.metadata["fewshot_train_rows"] == [6374, 3610, 957, 61, 742]
    assert (first.id, first.target) == ("0", "18")


def test_loads_the_whole_test_split_offline(task):
    samples = list(task.dataset)
    assert len(samples) == 1319 and len({s.id for s in samples}) == 1319
    assert all(s.category is None for s in samples)  # GSM8K has no categories
    assert all(s.target.lstrip("-").isdigit() for s in samples)
    assert [s.target for s in samples[:3]] == ["18", "3", "70000"]
    # each item draws its own examples, in lm-eval's order
    assert samples[1].metadata["fewshot_train_rows"] == [7462, 6610, 4769, 286, 5501]
    assert all(s.input.count("\nAnswer:") == 6 for s in samples)
    assert task.config.stop == ("Question:", "</s>", "<|im_end|>")
    assert (task.config.max_tokens, task.config.temperature) == (256, 0.0)
    assert registry.lookup("task", "gsm8k") is gsm8k


def test_fingerprint_is_the_sha256_of_test_and_train(task):
    import hashlib
    import os
    from pathlib import Path

    root = Path(os.environ["EVALSTACK_DATA_DIR"]) / "gsm8k"
    both = file_sha256(root / "test.jsonl") + file_sha256(root / "train.jsonl")
    assert task.dataset.fingerprint() == hashlib.sha256(both.encode()).hexdigest()
    assert gsm8k(fewshot=0).dataset.fingerprint() == file_sha256(root / "test.jsonl")


def test_zero_shot_and_other_seeds():
    zero = next(iter(gsm8k(fewshot=0).dataset))
    assert zero.input == render_prompt(zero.metadata["question"], []) == (
        f"Question: {zero.metadata['question']}\nAnswer:")
    other = next(iter(gsm8k(fewshot=2, fewshot_seed=FEWSHOT_SEED + 1).dataset))
    assert other.input.count("Question:") == 3
    assert other.metadata["fewshot_train_rows"] != [6374, 3610]


@pytest.mark.parametrize("bad", [-1, 65, "5", True])
def test_bad_fewshot_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="fewshot"):
        gsm8k(fewshot=bad)


def test_missing_data_names_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="openai/gsm8k") as err:
        gsm8k()
    assert "grade-school-math" in str(err.value) and "gsm8k/test.jsonl" in str(err.value)


def test_strict_and_flexible_differ_on_a_chat_models_format(task, tmp_path):
    first, second, third = list(task.dataset)[:3]
    replies = {
        first.input: "16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18",   # both
        second.input: "It takes 2 + 1 = 3 bolts. The answer is 3.",  # flexible only
        third.input: "The profit is **$70,000**.",                   # flexible only
    }
    result = evaluate([task], [MockProvider("scripted", replies=replies)],
                      RunConfig(store=str(tmp_path / "s.db"), progress=False, limit=3))
    metrics = result.tasks[0].metrics
    assert set(metrics) == {"strict_match", "flexible_extract"}
    assert metrics["strict_match"].estimate == pytest.approx(1 / 3)
    assert metrics["flexible_extract"].estimate == 1.0
    with Store.open(str(tmp_path / "s.db")) as store:
        records = {r.sample_id: r for r in store.iter_samples(result.tasks[0].run_id)}
    assert records["2"].scores["flexible_extract"]["answer"] == "70000"
    assert records["1"].scores["strict_match"]["value"] == 0.0


@pytest.mark.llama
def test_gsm8k_on_the_embedded_model_offline(tmp_path):
    pytest.importorskip("llama_cpp")
    # 5-shot prompts are 1,100-1,500 tokens with the chat template: n_ctx 2048 leaves room for
    # the 256-token default; 128 keeps the test short.
    task = gsm8k()
    task = dataclasses.replace(task, config=dataclasses.replace(task.config, max_tokens=128))
    result = evaluate([task], ["local/smollm2"],
                      RunConfig(store=str(tmp_path / "s.db"), progress=False, limit=3))
    t = result.tasks[0]
    assert (t.samples, t.errors) == (3, 0)
    assert t.metrics["strict_match"].n == 3 and t.metrics["flexible_extract"].n == 3
    assert t.input_tokens > 3 * 900 and t.output_tokens > 0
    with Store.open(str(tmp_path / "s.db")) as store:
        outputs = [r.output for r in store.iter_samples(t.run_id)]
    assert all(outputs) and not any("Question:" in o for o in outputs)  # stopped in time
