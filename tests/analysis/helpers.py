"""Stored runs for the decision tests, made by real `evalstack run`s on the mock provider."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner

from evalstack.cli.main import cli


def write_dataset(path: Path, n: int, categories: Sequence[str] = ("algebra", "geometry")) -> Path:
    """``n`` questions q0..q{n-1} with answers a0.., spread over ``categories``."""
    rows = [
        {"id": f"s{i:04d}", "input": f"q{i}", "target": f"a{i}",
         "category": categories[i % len(categories)]}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def mock_run(tmp_path: Path, data: Path, name: str, correct: Sequence[bool], *extra: str) -> str:
    """Run ``data`` on a scripted mock model that answers item i right iff ``correct[i]``."""
    replies = {f"q{i}": (f"a{i}" if ok else "wrong") for i, ok in enumerate(correct)}
    rp = tmp_path / f"replies-{name}.json"
    rp.write_text(json.dumps(replies), encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "run", str(data), "-m", "mock/scripted", "-M", f"replies={rp}",
        "--scorer", "exact_match", "--json", "--no-cache", *extra,
    ])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["run_id"]


def invoke(*args: str):
    """Run the CLI in-process; a user error never shows a traceback."""
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result
