"""Running a docs page's command blocks as a reader would, in a scratch folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def blocks(doc: Path, lang: str = "bash") -> list[str]:
    """The page's fenced blocks of one language, in order."""
    return re.findall(rf"```{lang}\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)


def run_blocks(commands: list[str], work: Path, timeout: float = 900) -> list[str]:
    """Each block under ``bash -euo pipefail`` in ``work``, with this venv's ``evalstack``
    first on PATH and a store of its own; each must succeed without a traceback. Their
    standard outputs, in order."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "EVALSTACK_STORE": str(work / "store.db"), "COLUMNS": "200"}
    outputs = []
    for block in commands:
        proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=work, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, block + proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Traceback" not in proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    return outputs
