"""Every generative benchmark, answered the way chat models write: reasoning, then a final line
("The answer is 42.", "**Answer:** C", ``\\boxed{}``, the letter with its option's text,
"Final answer: ..."), through the runner. Each form is sent once with the right answer and
once with a wrong one (with the right one mentioned in the reasoning, where it can be): the
flexible score must be 1 and 0."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evalstack.benchmarks.arc import arc_easy
from evalstack.benchmarks.bbh import bbh
from evalstack.benchmarks.gpqa import gpqa
from evalstack.benchmarks.gsm8k import gsm8k
from evalstack.benchmarks.hellaswag import hellaswag
from evalstack.benchmarks.math500 import math
from evalstack.benchmarks.mmlu import mmlu
from evalstack.benchmarks.truthfulqa import truthfulqa_mc1, truthfulqa_mc2
from evalstack.core.types import Sample
from evalstack.scorers.choice import LETTERS, correct_indices
from tests.benchmarks.helpers import run

# {a}: the answer given (right or wrong); {o}: the other one, mentioned in the reasoning.
NUMBER_FORMS = (
    "Let's see: 16 - 3 = 13 and 13 - 4 = 9, not {o}.\nThe answer is {a}.",
    "Step 1: 3 + 4 = 7.\nStep 2: 2 * 9 = 18.\n\n**Answer:** {a}",
    "Working it out gives {a}.\n\n\\boxed{{{a}}}",
    "So the total is $\\boxed{{{a}}}$.",
    "Final answer: {a}",
    "**Final Answer:** {a} dollars",
    "The answer is {a}. (That is 9 items at 2 each, plus 1 more.)",
    "I first guessed {o}, then checked again.\n\n**Answer: {a}**\n\nLet me know if step 2 is "
    "unclear!",
    "The answer is: ${a}",
    "Answer: {a} dollars per day, from 9 eggs.",
)
MATH_FORMS = (
    "We simplify step by step, and $x = 2$ is rejected.\n\nThe answer is ${a}$.",
    "**Answer:** ${a}$",
    "Thus the result is $\\boxed{{{a}}}$.",
    "Final answer: ${a}$",
    "## Final Answer\n$${a}$$",
    "The answer is ${a}$, since 3 of the 4 cases work.",
    "So the answer is ${a}$ (checking 2 cases).",
    "Hence $\\boxed{{{a}}}$ is the value; the other root, 7, is extraneous.",
    "**Final Answer:** \\({a}\\)",
    "The final answer is ${a}$. I hope it is correct.",
)
# For options: {L}/{T} the letter and text given, {OL}/{OT} the other option's.
CHOICE_FORMS = (
    "Let me think. Option {OL} ({OT}) does not fit.\nTherefore, the answer is {L}.",
    "{OL} is tempting, but no.\n\n**Answer:** {L}",
    "**Answer: {L}**",
    "The answer is ({L}) {T}",
    "{L}. {T}",
    "({L}) {T}",
    "Final answer: {L}",
    "The correct answer is **{L}) {T}**.",
    "$\\boxed{{{L}}}$",
    "Answer: {L}\n\nExplanation: option {OL} is wrong.",
    "**Final Answer:** ({L}) {T}\n\nLet me know if you have questions about ({OL}).",
)
LABEL_FORMS = (
    "Evaluating step by step, the first part is {o}.\nSo the answer is {a}.",
    "Reasoning done.\n\n**Answer:** {a}",
    "**Answer: {a}**",
    "Final answer: {a}",
    "The answer is **{a}**.",
    "\\boxed{{{a}}}",
    "Thinking done.\n\n**Final Answer:** {a}\n\nLet me know if you have questions.",
)


def check(task, tmp_path: Path, replies: list[str], wanted: list[float], metric: str,
          **model_args) -> list[str]:
    """Run ``task`` on the first ``len(replies)`` samples, answered in order; the flexible
    scores must be ``wanted``. Returns the answers extracted."""
    t, records = run(task, tmp_path, "mock/scripted", limit=len(replies),
                     outputs=replies, **model_args)
    assert t.errors == 0
    ordered = [records[s.id] for s in list(task.dataset)[:len(replies)]]
    got = [r.scores[metric]["value"] for r in ordered]
    assert got == wanted, [(r.output, r.scores[metric]) for r, g, w in
                           zip(ordered, got, wanted, strict=True) if g != w]
    return [r.scores[metric].get("answer") for r in ordered]


def pairs(samples: list[Sample], forms: tuple[str, ...],
          fill: Callable[[str, Sample, bool], str]) -> tuple[list[str], list[float]]:
    """Sample 2k gets form k with the right answer, sample 2k+1 form k with a wrong one."""
    replies, wanted = [], []
    for k, form in enumerate(forms):
        replies += [fill(form, samples[2 * k], True), fill(form, samples[2 * k + 1], False)]
        wanted += [1.0, 0.0]
    return replies, wanted


def test_gsm8k(tmp_path):
    task = gsm8k(fewshot=0)
    samples = list(task.dataset)

    def fill(form: str, s: Sample, right: bool) -> str:
        wrong = str(int(s.target) + 1)
        return form.format(a=s.target if right else wrong, o=wrong if right else s.target)

    replies, wanted = pairs(samples, NUMBER_FORMS, fill)
    check(task, tmp_path, replies, wanted, "flexible_extract")


def test_math(tmp_path):
    task = math(fewshot=0)
    samples = list(task.dataset)

    def fill(form: str, s: Sample, right: bool) -> str:
        wrong = "\\frac{7}{19}"
        return form.format(a=s.target if right else wrong)

    replies, wanted = pairs(samples, MATH_FORMS, fill)
    check(task, tmp_path, replies, wanted, "flexible_extract")


def _options(question: str) -> list[tuple[str, str]]:
    lines = question.split("Options:\n", 1)[-1].splitlines()
    return [(line[1], line[4:]) for line in lines if line[:1] == "(" and line[2:3] == ")"]


FLIPS = {"true": "False", "false": "True", "yes": "No", "no": "Yes", "valid": "invalid",
         "invalid": "valid"}
LETTERED_FORMS = (
    "The answer is {a} {t}.", "{l}. {t}", "**Answer:** {a} {t}", "So the answer is {t}.",
)


def bbh_fill(form: str, s: Sample, right: bool) -> str:
    """``form`` with a BIG-Bench Hard answer of the sample's kind, right or wrong."""
    target = s.target
    options = dict(_options(s.metadata["question"]))
    if target.startswith("("):
        letters = list(options)
        wrong = f"({letters[(letters.index(target[1]) + 1) % len(letters)]})"
    elif target.casefold() in FLIPS:
        wrong = FLIPS[target.casefold()]
    elif target.lstrip("-").isdigit():
        wrong = str(int(target) + 1)
    elif set(target) <= set(")]}> "):
        wrong = target + " )"
    else:
        wrong = " ".join(reversed(target.split()))
    answer = target if right else wrong
    return form.format(a=answer, o=wrong if right else target, l=answer[1:2],
                       t=options.get(answer[1:2], ""))


BBH_SUBTASKS = (
    "date_understanding", "boolean_expressions", "navigate", "formal_fallacies",
    "object_counting", "multistep_arithmetic_two", "dyck_languages", "word_sorting",
    "sports_understanding", "ruin_names",
)


@pytest.mark.parametrize("subtask", BBH_SUBTASKS)
def test_bbh(subtask, tmp_path):
    task = bbh(subtask=subtask)
    samples = list(task.dataset)
    lettered = samples[0].target.startswith("(")
    replies, wanted = pairs(samples, LABEL_FORMS + (LETTERED_FORMS if lettered else ()),
                            bbh_fill)
    check(task, tmp_path, replies, wanted, "flexible_extract")


def choice_fill(form: str, s: Sample, right: bool) -> str:
    """``form`` naming the right option (mentioning a wrong one), or a wrong one."""
    correct = sorted(correct_indices(s))
    wrong = next(i for i in range(len(s.choices or ())) if i not in correct)
    given, other = (correct[0], wrong) if right else (wrong, correct[0])
    choices = s.choices or ()
    return form.format(L=LETTERS[given], T=choices[given].strip(), OL=LETTERS[other],
                       OT=choices[other].strip())


def choice_replies(task) -> tuple[list[str], list[float]]:
    return pairs(list(task.dataset), CHOICE_FORMS, choice_fill)


@pytest.mark.parametrize("factory", [
    lambda: mmlu(method="generate"),
    lambda: hellaswag(method="generate"),
    lambda: truthfulqa_mc1(method="generate"),
    lambda: truthfulqa_mc2(method="generate"),
], ids=["mmlu", "hellaswag", "truthfulqa_mc1", "truthfulqa_mc2"])
def test_multiple_choice_in_generate_mode(factory, tmp_path):
    task = factory()
    replies, wanted = choice_replies(task)
    letters = check(task, tmp_path, replies, wanted, "acc")
    assert all(letters)  # a letter was found in every reply, right or wrong


def test_arc_in_generate_mode(tmp_path, monkeypatch):
    texts = ["a balance", "a ruler", "a thermometer", "a stopwatch"]
    rows = [{"id": f"SYNTH_{i}", "question": {
        "stem": f"Which tool does experiment {i} need?",
        "choices": [{"text": t, "label": "ABCD"[j]} for j, t in enumerate(texts)]},
        "answerKey": "ABCD"[i % 4]} for i in range(2 * len(CHOICE_FORMS))]
    path = tmp_path / "mirror" / "arc" / "ARC-Easy-Test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    task = arc_easy(method="generate")
    replies, wanted = choice_replies(task)
    check(task, tmp_path, replies, wanted, "acc")


def test_gpqa_in_generate_mode(tmp_path, monkeypatch):
    from tests.benchmarks.test_gpqa import COLUMNS

    path = tmp_path / "mirror" / "gpqa" / "gpqa_diamond.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for i in range(2 * len(CHOICE_FORMS)):
            writer.writerow({c: "" for c in COLUMNS} | {
                "Question": f"Which synthetic reagent reduces ketone number {i}?",
                "Correct Answer": "Sodium borohydride", "Incorrect Answer 1": "Ozone",
                "Incorrect Answer 2": "Chromic acid", "Incorrect Answer 3": "Potassium "
                "permanganate", "Record ID": f"recSYNTH{i:04d}",
                "High-level domain": "Chemistry"})
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    task = gpqa(method="generate")
    replies, wanted = choice_replies(task)
    check(task, tmp_path, replies, wanted, "acc")
