"""Tasks written in Python with ``@task``: data, a solver and scorers, versioned.

    evalstack run examples/tasks.py --model mock/echo
    evalstack run examples/tasks.py@arithmetic --model local/smollm2
"""

from evalstack import GenerateConfig, MemoryDataset, Sample, Task, task
from evalstack.scorers.match import numeric
from evalstack.solvers import generate


@task(version=1)
def arithmetic() -> Task:
    samples = [
        Sample(id=f"add-{a}-{b}", input=f"What is {a} + {b}? Reply with the number only.",
               target=str(a + b), metadata={"category": "addition"})
        for a, b in [(2, 3), (12, 30), (7, 8), (100, 23), (45, 55)]
    ]
    return Task(
        "arithmetic",
        MemoryDataset("arithmetic", samples),
        generate(system="You are a calculator."),
        [numeric()],
        config=GenerateConfig(max_tokens=8, temperature=0.0),
    )
