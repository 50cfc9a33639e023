"""MATH-500: lm-eval's minerva_math500 prompt, the mirror, equivalence-based strict/flexible."""

from __future__ import annotations

import collections

import pytest

from evalstack.benchmarks.math500 import FEWSHOT, math, render_prompt
from evalstack.core import registry
from evalstack.core.errors import ConfigError, DataError
from evalstack.providers.mock import MockProvider
from evalstack.runner.config import RunConfig
from evalstack.runner.evaluate import evaluate
from evalstack.store import Store

# lm-evaluation-harness minerva_math500, item test/precalculus/807.json: the four Minerva
# examples (first_n), then the problem.
FIRST_PROMPT = (
    "Problem:\n"
    "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}\n"
    "\n"
    "Solution: The expressions inside each square root must be non-negative. Therefore, "
    "$x-2 \\ge 0$, so $x\\ge2$, and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator "
    "cannot be equal to zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of "
    "the expression is $\\boxed{[2,5)}$.\n"
    "Final Answer: The final answer is $[2,5)$. I hope it is correct.\n"
    "\n"
    "Problem:\n"
    "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathb"
    "f{A} \\mathbf{B}).$\n"
    "\n"
    "Solution: We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det "
    "\\mathbf{B}) = (2)(12) = \\boxed{24}.$\n"
    "Final Answer: The final answer is $24$. I hope it is correct.\n"
    "\n"
    "Problem:\n"
    "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound "
    "weights instead, how many times must Terrell lift them in order to lift the same "
    "total weight?\n"
    "\n"
    "Solution: If Terrell lifts two 20-pound weights 12 times, he lifts a total of "
    "$2\\cdot 12\\cdot20=480$ pounds of weight.  If he lifts two 15-pound weights instead "
    "for $n$ times, he will lift a total of $2\\cdot15\\cdot n=30n$ pounds of weight.  "
    "Equating this to 480 pounds, we can solve for $n$:\n"
    "\\begin{align*}\n"
    "30n&=480\\\n"
    "\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n"
    "\\end{align*}\n"
    "Final Answer: The final answer is $16$. I hope it is correct.\n"
    "\n"
    "Problem:\n"
    "If the system of equations\n"
    "\n"
    "\\begin{align*}\n"
    "6x-4y&=a,\\\n"
    "6y-9x &=b.\n"
    "\\end{align*}has a solution $(x, y)$ where $x$ and $y$ are both nonzero,\n"
    "find $\\frac{a}{b},$ assuming $b$ is nonzero.\n"
    "\n"
    "Solution: If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n"
    "\n"
    "$$6y-9x=-\\frac{3}{2}a.$$Since we also know that $6y-9x=b$, we have\n"
    "\n"
    "$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\n"
    "Final Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct.\n"
    "\n"
    "Problem:\n"
    "Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.  Enter "
    "your answer in the form $(r,\\theta),$ where $r > 0$ and $0 \\le \\theta < 2 \\pi.$\n"
    "\n"
    "Solution:"
)

SUBJECTS = {"Algebra": 124, "Intermediate Algebra": 97, "Prealgebra": 82, "Number Theory": 62,
            "Precalculus": 56, "Counting & Probability": 38, "Geometry": 41}


@pytest.fixture(scope="module")
def task():
    return math()


def test_the_first_prompt_is_lm_evals_exactly(task):
    first = next(iter(task.dataset))
    assert first.input == FIRST_PROMPT
    assert first.id == "test/precalculus/807.json"
    assert first.target == r"\left( 3, \frac{\pi}{2} \right)"


def test_loads_math500_offline_with_subjects_and_levels(task):
    samples = list(task.dataset)
    assert len(samples) == 500 and len({s.id for s in samples}) == 500
    assert dict(collections.Counter(s.category for s in samples)) == SUBJECTS
    assert {s.metadata["level"] for s in samples} == {1, 2, 3, 4, 5}
    assert all(s.input.count("Problem:\n") == 5 for s in samples)
    assert task.config.stop == ("Problem:",) and task.config.temperature == 0.0
    assert registry.lookup("task", "math") is math


def test_fewshot_takes_the_first_examples():
    zero = next(iter(math(fewshot=0).dataset))
    assert zero.input == f"Problem:\n{zero.metadata['problem']}\n\nSolution:"
    one = render_prompt("What is 1+1?", 1)
    assert one == f"Problem:\n{FEWSHOT[0][0]}\n\nSolution: {FEWSHOT[0][1]}\n\n" \
                  "Problem:\nWhat is 1+1?\n\nSolution:"
    with pytest.raises(ConfigError, match="0 to 4"):
        math(fewshot=5)


def test_missing_data_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTACK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("EVALSTACK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="HuggingFaceH4/MATH-500") as err:
        math()
    assert "math/math_oai/test.jsonl" in str(err.value)


def test_strict_and_flexible_with_equivalent_forms(task, tmp_path):
    first, second, third = list(task.dataset)[:3]
    replies = {
        # the requested format, with an equivalent form of the reference
        first.input: r" So $r = 3$, $\theta = \frac{\pi}{2}$, i.e. $\boxed{(3, \tfrac{\pi}{2})}$."
                     "\nFinal Answer: The final answer is $(3,\\frac{\\pi}{2})$. I hope it is "
                     "correct.",
        # a chat model's format: no box, no final-answer line
        second.input: "Expanding the sum gives p - q.\n\n**The answer is $p - q$.**",
        # boxed but wrong
        third.input: r"We get $\boxed{4.67}$.",
    }
    result = evaluate([task], [MockProvider("scripted", replies=replies)],
                      RunConfig(store=str(tmp_path / "s.db"), progress=False, limit=3))
    metrics = result.tasks[0].metrics
    assert metrics["strict_match"].estimate == pytest.approx(1 / 3)
    assert metrics["flexible_extract"].estimate == pytest.approx(2 / 3)
    assert set(result.tasks[0].categories) == {"Precalculus", "Intermediate Algebra", "Algebra"}
    with Store.open(str(tmp_path / "s.db")) as store:
        records = {r.sample_id: r for r in store.iter_samples(result.tasks[0].run_id)}
    # version 2 reads the one $...$ span of the statement
    assert records[second.id].scores["flexible_extract"]["answer"] == "p - q"
    assert records[third.id].scores["strict_match"]["answer"] == "4.67"
