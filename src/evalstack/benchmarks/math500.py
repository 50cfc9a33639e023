r"""MATH-500: 500 competition problems from the MATH test set (Hendrycks et al., 2021), the
subset OpenAI chose for "Let's Verify Step by Step" (PRM800K).

Prompt and few-shot setting: lm-evaluation-harness's ``minerva_math500`` task
(``lm_eval/tasks/minerva_math/minerva_math500.yaml``, which includes
``minerva_math_algebra.yaml``): the four fixed Minerva examples (Lewkowycz et al., 2022;
``fewshot_config: sampler: first_n``), each rendered ``Problem:\n{problem}\n\nSolution:
{solution}`` where the solution ends "Final Answer: The final answer is $X$. I hope it is
correct.", separated by blank lines, then ``Problem:\n{problem}\n\nSolution:`` for the item.
``fewshot`` takes the first k of the four.

Generation: greedy, stop at ``Problem:`` (as lm-eval), at most 512 tokens (lm-eval leaves its
harness-wide default of 256, which cuts many solutions short; ``--max-tokens`` overrides).

Metrics (answers compared with ``scorers.math_equiv.math_equal``: LaTeX normalised, equal
numbers such as ``0.5``/``\frac12`` matched, symbolic equality by sympy under a time limit):

- ``strict_match``: the answer on the "Final Answer: The final answer is X" line the prompt
  asks for, else the last ``\boxed{}``. (lm-eval's ``exact_match`` reads only the line.)
- ``flexible_extract``: the last ``\boxed{}``, else "answer is X" (from version 2: its one
  ``$...$`` span when it has one, and without a trailing ", since ..." clause, parenthesis or
  plain words after a number, so "The answer is $5$ (for 2 cases)." reads ``5``), else the
  last ``$...$``, else the last number.

Categories are the seven subjects; ``level`` (1-5) is kept in each sample's metadata.

Data: the MIT-licensed ``prm800k/math_splits/test.jsonl`` of openai/prm800k (a Git LFS file;
Hugging Face ``HuggingFaceH4/MATH-500``), fields problem, solution, answer, subject, level,
unique_id.
"""

from __future__ import annotations

from typing import Any

from evalstack.core.errors import ConfigError, DataError
from evalstack.core.task import Task, task
from evalstack.core.types import GenerateConfig, Sample
from evalstack.datasets.memory import MemoryDataset
from evalstack.datasets.sources import DataSource, file_sha256, locate, read_records
from evalstack.scorers.extract import flexible_extract, strict_match
from evalstack.solvers.generate import generate

_COMMIT = "7ecc794703b2877f63226f2477a49b34f9b25163"
SOURCE = DataSource(
    name="math500", mirror="math/math_oai/test.jsonl",
    url=f"https://media.githubusercontent.com/media/openai/prm800k/{_COMMIT}/prm800k/"
        "math_splits/test.jsonl",
    hub="HuggingFaceH4/MATH-500", hub_split="test", licence="MIT",
)
STOP = ("Problem:",)

#: The four Minerva examples of lm-eval's ``minerva_math`` (``list_fewshot_samples``),
#: as (problem, solution).
FEWSHOT: tuple[tuple[str, str], ...] = (
    (
        "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}",
        "The expressions inside each square root must be non-negative. Therefore, "
        "$x-2 \\ge 0$, so $x\\ge2$, and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator "
        "cannot be equal to zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of the "
        "expression is $\\boxed{[2,5)}$.\nFinal Answer: The final answer is $[2,5)$. I hope it "
        "is correct.",
    ),
    (
        "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find "
        "$\\det (\\mathbf{A} \\mathbf{B}).$",
        "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) "
        "= (2)(12) = \\boxed{24}.$\nFinal Answer: The final answer is $24$. I hope it is "
        "correct.",
    ),
    (
        "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights "
        "instead, how many times must Terrell lift them in order to lift the same total weight?",
        "If Terrell lifts two 20-pound weights 12 times, he lifts a total of "
        "$2\\cdot 12\\cdot20=480$ pounds of weight.  If he lifts two 15-pound weights instead "
        "for $n$ times, he will lift a total of $2\\cdot15\\cdot n=30n$ pounds of weight.  "
        "Equating this to 480 pounds, we can solve for $n$:\n\\begin{align*}\n30n&=480\\\n"
        "\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}\nFinal Answer: The final "
        "answer is $16$. I hope it is correct.",
    ),
    (
        "If the system of equations\n\n\\begin{align*}\n6x-4y&=a,\\\n6y-9x &=b.\n"
        "\\end{align*}has a solution $(x, y)$ where $x$ and $y$ are both nonzero,\nfind "
        "$\\frac{a}{b},$ assuming $b$ is nonzero.",
        "If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n\n"
        "$$6y-9x=-\\frac{3}{2}a.$$Since we also know that $6y-9x=b$, we have\n\n"
        "$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\nFinal Answer: "
        "The final answer is $-\\frac{2}{3}$. I hope it is correct.",
    ),
)

_FIELDS = ("problem", "solution", "answer", "subject", "level", "unique_id")


def render_prompt(problem: str, fewshot: int = 4) -> str:
    """The full prompt for ``problem`` after the first ``fewshot`` Minerva examples."""
    head = "".join(f"Problem:\n{p}\n\nSolution: {s}\n\n" for p, s in FEWSHOT[:fewshot])
    return f"{head}Problem:\n{problem}\n\nSolution:"


def _sample(row: dict[str, Any], where: str, fewshot: int) -> Sample:
    missing = [f for f in _FIELDS if f not in row]
    if missing or not isinstance(row.get("problem"), str) or not isinstance(row.get("answer"),
                                                                             str):
        raise DataError(
            f"{where}: expected the MATH-500 fields {', '.join(_FIELDS)} (problem and answer "
            f"strings); missing {missing or 'none'}, received fields {sorted(row)}."
        )
    return Sample(
        id=str(row["unique_id"]),
        input=render_prompt(row["problem"], fewshot),
        target=row["answer"],
        metadata={"category": row["subject"], "level": row["level"], "problem": row["problem"],
                  "solution": row["solution"]},
    )


@task(version=2)
def math(fewshot: int = 4) -> Task:
    """MATH-500, 4-shot in lm-evaluation-harness's ``minerva_math500`` format.

    Args:
        fewshot: how many of the four Minerva examples to show (0 to 4).
    """
    if isinstance(fewshot, bool) or not isinstance(fewshot, int) or not 0 <= fewshot <= 4:
        raise ConfigError(f"math fewshot must be an integer from 0 to 4; received {fewshot!r}.")
    path = locate(SOURCE)
    samples = [_sample(row, f"{path}:{i}", fewshot)
               for i, row in enumerate(read_records(path, SOURCE), start=1)]
    return Task(
        "math",
        MemoryDataset("math500", samples, fingerprint=file_sha256(path)),
        generate(),
        [strict_match(extract="math_final", compare="math"),
         flexible_extract(extract="math", compare="math")],
        config=GenerateConfig(max_tokens=512, temperature=0.0, stop=STOP),
    )
