"""The command block in docs/arena.md runs and prints what the page says."""

from __future__ import annotations

from tests.docs.blocks import ROOT, blocks, run_blocks

DOC = ROOT / "docs" / "arena.md"


def test_the_import_leaderboard_and_next_pairs_run(tmp_path):
    (out,) = run_blocks(blocks(DOC), tmp_path, timeout=300)
    assert "9 battle(s) read, 9 added, 1 flagged" in out
    assert "unknown winner 'left'" in out
    assert "| 1 | alpha |" in out and "Flagged, not rated: unknown winner (1)." in out
    pairs = [line.split("\t") for line in out.splitlines() if "\tvs\t" in line]
    assert len(pairs) == 2 and all(a != b for a, _, b in pairs)
