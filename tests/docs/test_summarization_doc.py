"""Every command block in docs/summarization.md runs, and shows what the page says it shows."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.docs.blocks import ROOT, blocks, run_blocks

DOC = ROOT / "docs" / "summarization.md"


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> list[str]:
    pytest.importorskip("llama_cpp")
    work = tmp_path_factory.mktemp("doc")
    shutil.copytree(ROOT / "examples" / "summarization", work / "examples" / "summarization")
    return run_blocks(blocks(DOC), work, timeout=600)


@pytest.mark.slow
@pytest.mark.llama
def test_the_walkthrough_scores_compares_and_lists_unsupported_sentences(walkthrough):
    model_run, lead_run, compare, export = walkthrough
    for name in ("faithfulness", "hallucination_free", "coverage", "readability",
                 "summary_length"):
        assert name in model_run and name in lead_run
    assert "4 samples, 0 errors" in model_run
    assert "Verdict:" in compare and "Delta B - A" in compare
    lines = export.strip().splitlines()
    assert len(lines) == 4 and all("supported; unsupported:" in line for line in lines)
    # the lead baseline copies the article: every sentence supported
    assert re.search(r"faithfulness\s+│\s+1\.000", lead_run)
