"""Dependencies point inward: each layer imports only what the architecture allows."""

import subprocess
import sys

import pytest

BLOCKER = """
import sys
class Block:
    def __init__(self, banned): self.banned = banned
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in self.banned):
            raise ImportError("blocked import of " + name)
        return None
sys.meta_path.insert(0, Block({banned!r}))
import {module}
"""

LAYERS = {
    # core: the standard library and pydantic only
    "evalstack.core": ["evalstack.runner", "evalstack.store", "evalstack.providers",
                       "evalstack.scorers", "evalstack.solvers", "evalstack.cli", "evalstack.web",
                       "evalstack.datasets", "evalstack.stats", "numpy", "sqlalchemy", "aiohttp",
                       "click", "rich"],
    "evalstack.stats": ["evalstack.core", "evalstack.runner", "evalstack.store",
                        "evalstack.providers", "evalstack.cli"],
    "evalstack.store": ["evalstack.runner", "evalstack.providers", "evalstack.cli",
                        "evalstack.web", "evalstack.solvers", "evalstack.scorers"],
    "evalstack.scorers.match": ["evalstack.runner", "evalstack.store", "evalstack.providers",
                                "evalstack.cli", "evalstack.solvers"],
    "evalstack.solvers.generate": ["evalstack.runner", "evalstack.store", "evalstack.providers",
                                   "evalstack.cli"],
    # analysis: decisions from stored scores; knows nothing of models, prompts or the CLI
    **{m: ["evalstack.cli", "evalstack.web", "evalstack.providers", "evalstack.solvers",
           "evalstack.scorers", "evalstack.runner.evaluate", "evalstack.store"]
       for m in ("evalstack.analysis.compare", "evalstack.analysis.gate",
                 "evalstack.analysis.select", "evalstack.analysis.plan",
                 "evalstack.analysis.judges", "evalstack.analysis.judge_agreement",
                 "evalstack.analysis.judge_bias", "evalstack.analysis.preferences")},
    "evalstack.providers.openai_compat": ["evalstack.runner", "evalstack.store",
                                          "evalstack.cli", "evalstack.solvers"],
}


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_layer_imports_only_inward(module):
    code = BLOCKER.format(banned=LAYERS[module], module=module)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cli_help_imports_nothing_heavy():
    code = ("import sys, evalstack.cli.main as m\n"
            "heavy = [x for x in ('sqlalchemy', 'aiohttp', 'numpy', 'alembic', 'llama_cpp', "
            "'torch', 'evalstack.runner') if x in sys.modules]\n"
            "print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
