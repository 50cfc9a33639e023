"""Dependencies point inward: each layer imports only its own layer and below (design/0011)."""

import ast
import os
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(os.environ.get("EVALSTACK_SRC", pathlib.Path(__file__).parents[1] / "src"))

# bottom to top; see design/0011-layers.md
LAYERS = [
    ["core", "stats", "_version"],
    ["model", "datasets", "providers"],
    ["solvers", "scorers", "benchmarks", "perturb"],
    ["runner", "store", "analysis", "production"],
    ["cli", "web", "testing", "__main__", "<root>"],
]
LEVEL = {pkg: i for i, pkgs in enumerate(LAYERS) for pkg in pkgs}


def _top(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _modules():
    out = {}
    for path in sorted((SRC / "evalstack").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        if "migrations" in parts:  # alembic scripts, run by alembic, not importable
            continue
        out[".".join(parts)] = (path, is_pkg)
    return out


def _imports(module, path, is_pkg, top_level_only):
    """(lineno, imported name) for every evalstack import in the file."""
    tree = ast.parse(path.read_text())
    base = module.split(".") if is_pkg else module.split(".")[:-1]

    def name_of(node):
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if node.level:
            b = base[: len(base) - (node.level - 1)]
            mod = ".".join(b + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        # `from pkg import sub` imports pkg.sub when sub is a module; resolved by the caller
        return [f"{mod}.{a.name}" for a in node.names]

    found = []

    def visit(nodes, in_type_checking=False):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if not (top_level_only and in_type_checking):
                    names = [n for n in name_of(node) if n.startswith("evalstack")]
                    found.extend((node.lineno, n) for n in names)
            elif isinstance(node, ast.If):
                tc = "TYPE_CHECKING" in ast.unparse(node.test)
                visit(node.body, in_type_checking or tc)
                visit(node.orelse, in_type_checking)
            elif isinstance(node, (ast.Try,)):
                visit(node.body, in_type_checking)
                for h in node.handlers:
                    visit(h.body, in_type_checking)
                visit(node.orelse, in_type_checking)
                visit(node.finalbody, in_type_checking)
            elif not top_level_only:
                visit(ast.iter_child_nodes(node), in_type_checking)

    visit(tree.body)
    return found


MODULES = _modules()


def test_every_package_has_a_layer():
    missing = sorted({_top(m) for m in MODULES} - set(LEVEL))
    assert not missing, f"packages with no layer in design/0011: {missing}"


def test_no_upward_imports_anywhere_ast():
    """All imports, including lazy ones inside functions, respect the layer table."""
    bad = []
    for module, (path, is_pkg) in MODULES.items():
        for lineno, name in _imports(module, path, is_pkg, top_level_only=False):
            parts = name.split(".")
            if len(parts) == 2 and _top(name) not in LEVEL:
                continue  # `from evalstack import x`: the root package, allowed everywhere
            if LEVEL[_top(name)] > LEVEL[_top(module)]:
                bad.append(f"{module}:{lineno} imports {name}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


BLOCKER = """
import importlib, sys, traceback
banned = {banned!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in banned):
            raise ImportError("blocked import of " + name)
        return None
sys.meta_path.insert(0, Block())
failed = 0
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed += 1
        print(f"{{module}}: {{exc!r}}")
sys.exit(1 if failed else 0)
"""


@pytest.mark.parametrize("level", range(len(LAYERS) - 1))
def test_layer_imports_only_inward(level):
    """Import every module of a layer with every package of the layers above blocked."""
    above = [f"evalstack.{p}" for pkgs in LAYERS[level + 1:] for p in pkgs if p != "<root>"]
    modules = sorted(m for m in MODULES if LEVEL[_top(m)] == level)
    code = BLOCKER.format(banned=above, modules=modules)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_import_cycles_at_top_level():
    graph = {}
    for module, (path, is_pkg) in MODULES.items():
        targets = set()
        for _, name in _imports(module, path, is_pkg, top_level_only=True):
            # `from pkg import mod` may name a submodule; resolve to the longest known module
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    cycles, state, stack = [], {}, []

    def dfs(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_cli_help_imports_nothing_heavy():
    code = ("import sys, evalstack.cli.main as m\n"
            "heavy = [x for x in ('sqlalchemy', 'aiohttp', 'numpy', 'alembic', 'llama_cpp', "
            "'torch', 'evalstack.runner') if x in sys.modules]\n"
            "print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
