"""The README's Python blocks and the files under examples/ type-check with the repo's mypy config.

Each ```python block of README.md is written out as its own module, so each must be a
self-contained program (the README has no fragment blocks; mark one with a first line
``# fragment`` to leave it out).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def readme_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, without those marked ``# fragment``."""
    blocks = [m.group(1) for m in _BLOCK.finditer(text)]
    return [b for b in blocks if not b.lstrip().startswith("# fragment")]


def write_snippets(dest: Path, readme: Path = README, examples: Path = EXAMPLES) -> list[Path]:
    """Copy the README's blocks and the example files into ``dest``; the written paths."""
    paths = []
    for i, block in enumerate(readme_blocks(readme.read_text(encoding="utf-8"))):
        path = dest / "readme" / f"readme_block_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block, encoding="utf-8")
        paths.append(path)
    for src in sorted(examples.rglob("*.py")):
        path = dest / "examples" / src.relative_to(examples)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)
        paths.append(path)
    return paths


def run_mypy(paths: list[Path], cache_dir: Path) -> subprocess.CompletedProcess[str]:
    # Each file on its own (--scripts-are-modules would clash on equal module names, e.g.
    # two examples named tasks.py); the repo's config gives the plugin and strictness.
    return subprocess.run(
        [
            sys.executable, "-m", "mypy",
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(cache_dir),
            *(str(p) for p in paths),
        ],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )


def _check(paths: list[Path], cache_dir: Path) -> None:
    # Files with the same base name are separate modules to mypy only in separate runs.
    groups: dict[str, list[Path]] = {}
    for p in paths:
        groups.setdefault(p.name, []).append(p)
    batches: list[list[Path]] = []
    for same in groups.values():
        for i, p in enumerate(same):
            if len(batches) <= i:
                batches.append([])
            batches[i].append(p)
    for batch in batches:
        proc = run_mypy(batch, cache_dir)
        assert proc.returncode == 0, f"mypy errors:\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def test_readme_and_examples_typecheck(tmp_path: Path, mypy_cache: Path) -> None:
    paths = write_snippets(tmp_path)
    assert any(p.parent.name == "readme" for p in paths), "no ```python block in README.md"
    _check(paths, mypy_cache)


def test_a_wrong_snippet_fails(tmp_path: Path, mypy_cache: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "```python\n"
        "from evalstack import MemoryDataset, Sample, Task\n"
        "from evalstack.scorers.match import exact_match\n"
        "Task('t', MemoryDataset('t', [Sample('1', 'hi', 'hi')]), exact_match(), [])\n"
        "```\n",
        encoding="utf-8",
    )
    empty = tmp_path / "no-examples"
    empty.mkdir()
    paths = write_snippets(tmp_path / "out", readme, empty)
    proc = run_mypy(paths, mypy_cache)
    assert proc.returncode != 0 and "arg-type" in proc.stdout, proc.stdout + proc.stderr
