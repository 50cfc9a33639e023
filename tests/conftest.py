"""Shared test settings: an isolated store per test, offline Hugging Face, loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The offline mirror of public benchmark data (../shared/datasets), as in CI.
SHARED_DATASETS = Path(
    os.environ.get(
        "EVALSTACK_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"
    )
)
os.environ.setdefault("EVALSTACK_DATA_DIR", str(SHARED_DATASETS))


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own SQLite store, never the user's."""
    monkeypatch.setenv("EVALSTACK_STORE", str(tmp_path / "store.db"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("EVALSTACK_MODEL", raising=False)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
