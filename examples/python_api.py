"""Running an eval from Python: ``evaluate`` returns results with 95% intervals.

    python examples/python_api.py
"""

from evalstack import MemoryDataset, RunConfig, Sample, Task, evaluate
from evalstack.scorers.match import exact_match
from evalstack.solvers import generate

samples = [Sample(id=str(i), input=f"echo {i}", target=f"echo {i}") for i in range(20)]
task = Task("echo", MemoryDataset("echo", samples), generate(), [exact_match()])

# mock/echo replies with the prompt; use "local/smollm2" or "openai/<model>" for real models.
result = evaluate([task], ["mock/echo"], RunConfig(progress=False))
metric = result.tasks[0].metrics["exact_match"]
print(f"exact_match = {metric.estimate:.2f} [{metric.ci_low:.2f}, {metric.ci_high:.2f}], "
      f"n={metric.n}, run {result.run_id}")
