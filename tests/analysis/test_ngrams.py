"""N-gram contamination: lm-eval normalisation, planted overlaps (also across chunk
boundaries), gz/jsonl corpora, bad paths refused before any work, and ``evalstack overlap``."""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.analysis.ngrams import (
    check_overlap,
    corpus_files,
    item_text,
    ngrams,
    normalize,
)
from evalstack.cli.main import cli
from evalstack.core.errors import ConfigError, DataError, UserError
from evalstack.core.types import Sample
from evalstack.stats.intervals import wilson_ci

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray").split()
ITEM = ("The mitochondria is the powerhouse of the cell, and it produces adenosine "
        "triphosphate through oxidative phosphorylation in eukaryotes.")


def filler(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def items() -> list[Sample]:
    return [Sample(id="bio", input=ITEM, target="ATP"),
            Sample(id="other", input="Completely unrelated question about the volcanic "
                                     "islands of the southern pacific ocean and their birds?"),
            Sample(id="short", input="Too short.")]


def test_normalisation_matches_lm_eval_janitor() -> None:
    # lm-eval: lowercase ASCII letters, delete string.punctuation, split on whitespace
    assert normalize("Hello, World! It's (A) test-case.") == "hello world its a testcase"
    assert normalize("ÉCOLE Ünïcode") == "École Ünïcode"  # only ASCII is lowercased
    assert ngrams("A, b. C; d", 3) == [("a", "b", "c"), ("b", "c", "d")]
    assert ngrams("one two", 13) == []


def test_item_text_joins_input_choices_and_non_letter_target() -> None:
    mc = Sample(id="1", input="Q?", choices=("red", "blue"), target="B")
    assert item_text(mc) == "Q?\nred\nblue"
    free = Sample(id="2", input="Q?", target=("Paris", "paris, France"))
    assert item_text(free) == "Q?\nParis\nparis, France"


def test_planted_overlap_found_and_clean_text_not_flagged(tmp_path: Path) -> None:
    before = filler(1, 300)
    body = before + "\n" + ITEM.upper().replace(",", " ;") + " ATP\n" + filler(2, 300)
    (tmp_path / "a.txt").write_text(body, encoding="utf-8")
    (tmp_path / "clean.txt").write_text(filler(3, 2000), encoding="utf-8")
    report = check_overlap(items(), [tmp_path])
    by = {i.id: i for i in report.items}
    assert by["bio"].found == by["bio"].n_ngrams > 0 and by["bio"].fraction == 1.0
    assert by["bio"].first_file == str(tmp_path / "a.txt")
    assert by["bio"].first_offset == len(before) + 1
    assert by["other"].found == 0 and not by["other"].contaminated
    assert by["short"].n_ngrams == 0 and report.unchecked == 1
    assert report.rate.n == 2 and [i.id for i in report.contaminated] == ["bio"]
    expected = wilson_ci(1, 2)
    assert (report.rate.ci_low, report.rate.ci_high) == (expected.ci_low, expected.ci_high)


def test_partial_overlap_fraction(tmp_path: Path) -> None:
    words = ITEM.split()
    (tmp_path / "c.txt").write_text(filler(4, 50) + " " + " ".join(words[:14]) + " "
                                    + filler(5, 50))
    report = check_overlap(items(), [tmp_path / "c.txt"])
    bio = report.items[0]
    assert bio.found == 2 and 0 < bio.fraction < 1  # 14 tokens hold two 13-grams


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_overlap_straddling_chunk_boundaries(tmp_path: Path, chunk: int) -> None:
    before = filler(6, 40) + " "
    path = tmp_path / "s.txt"
    path.write_text(before + ITEM + " ATP " + filler(7, 40), encoding="utf-8")
    assert chunk < len(ITEM)  # the passage spans several chunks
    report = check_overlap(items(), [path], chunk_bytes=chunk)
    bio = report.items[0]
    assert bio.found == bio.n_ngrams
    assert bio.first_offset == len(before)
    reference = check_overlap(items(), [path], chunk_bytes=1 << 20)
    assert reference.items == report.items


def test_no_ngram_across_jsonl_records(tmp_path: Path) -> None:
    words = ITEM.split()
    lines = [json.dumps({"text": " ".join(words[:8])}), json.dumps({"text": " ".join(words[8:])})]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    assert check_overlap(items(), [tmp_path]).items[0].found == 0


def test_gz_and_jsonl_inputs(tmp_path: Path) -> None:
    first = json.dumps({"body": filler(8, 30)}) + "\n"
    record = json.dumps({"body": "x " + ITEM + " ATP", "text": "no"}) + "\n"
    with gzip.open(tmp_path / "d.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(first + record)
    with gzip.open(tmp_path / "e.txt.gz", "wt", encoding="utf-8") as f:
        f.write(filler(9, 100) + " Completely unrelated question about the volcanic islands "
                                 "of the southern pacific ocean and their birds ")
    report = check_overlap(items(), [tmp_path / "d.jsonl.gz", tmp_path / "e.txt.gz"],
                           text_field="body")
    by = {i.id: i for i in report.items}
    assert by["bio"].found == by["bio"].n_ngrams
    assert by["bio"].first_offset == len(first.encode())  # the record's line
    assert by["other"].found == by["other"].n_ngrams
    assert by["other"].first_file == str(tmp_path / "e.txt.gz")
    with pytest.raises(DataError, match="'text' field"):
        check_overlap(items(), [tmp_path / "d.jsonl.gz"])  # the first record has no "text"


def test_bad_paths_are_refused_before_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found: .*missing"):
        corpus_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("x")
    with pytest.raises(ConfigError, match="empty holds no corpus files"):
        corpus_files([tmp_path / "empty"])
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x7fELF\x00\x00\x01" * 100)
    with pytest.raises(DataError, match="blob.txt is not text"):
        corpus_files([binary])
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 ".encode("latin-1") * 10)
    with pytest.raises(DataError, match="latin.txt is not UTF-8"):
        corpus_files([latin])
    fake_gz = tmp_path / "f.txt.gz"
    fake_gz.write_text("plain")
    with pytest.raises(DataError, match="f.txt.gz is not gzip"):
        corpus_files([fake_gz])
    other = tmp_path / "x.pdf"
    other.write_text("x")
    with pytest.raises(ConfigError, match="x.pdf has an unsupported type"):
        corpus_files([other])
    locked = tmp_path / "locked.txt"
    locked.write_text("hello")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # running as root: nothing is unreadable
            corpus_files([locked])
        else:
            with pytest.raises(ConfigError, match="locked.txt: permission denied"):
                corpus_files([locked])
    finally:
        locked.chmod(0o644)


def test_memory_stays_flat_in_corpus_size(tmp_path: Path) -> None:
    # not timed: the peak RSS after 2 MB and after 4x more stays within a few MB
    chunk = filler(10, 200_000) + "\n"
    (tmp_path / "m.txt").write_text(chunk * 2)
    check_overlap(items(), [tmp_path / "m.txt"], chunk_bytes=1 << 18)
    small = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(tmp_path / "big.txt", "w") as f:
        for _ in range(8):
            f.write(chunk)
    check_overlap(items(), [tmp_path / "big.txt"], chunk_bytes=1 << 18)
    big = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert (big - small) < 16 * 1024  # KiB: the corpus (~10 MB) is never held whole


def test_real_mmlu_items(tmp_path: Path) -> None:
    from evalstack.runner.resolve import resolve_task

    try:
        samples = list(resolve_task("mmlu")[0].dataset)[:200]
    except UserError as exc:  # pragma: no cover - data not mirrored here
        pytest.skip(f"MMLU data unavailable: {exc}")
    planted = samples[17]
    corpus = (filler(11, 500) + "\n" + item_text(planted) + "\n" + filler(12, 500)
              + "\n" + " ".join(item_text(samples[42]).split()[:13]))
    (tmp_path / "web.txt").write_text(corpus, encoding="utf-8")
    report = check_overlap(samples, [tmp_path], chunk_bytes=333)
    found = {i.id: i for i in report.contaminated}
    assert set(found) == {planted.id, samples[42].id}
    assert found[planted.id].fraction == 1.0
    assert found[samples[42].id].found == 1
    assert report.rate.n + report.unchecked == 200


def test_cli_table_json_and_errors(tmp_path: Path) -> None:
    task = tmp_path / "task.jsonl"
    task.write_text("\n".join(json.dumps({"id": s.id, "input": s.input, "target": "x"})
                              for s in items()) + "\n")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(filler(1, 50) + " " + ITEM)
    runner = CliRunner()
    out = runner.invoke(cli, ["overlap", str(task), "--corpus", str(tmp_path / "corpus")])
    assert out.exit_code == 0, out.output
    assert "bio" in out.output and "Contaminated: 1 of 2 items" in out.output
    assert "n=2" in out.output and "95% CI" in out.output
    js = runner.invoke(cli, ["overlap", str(task), "--corpus", str(tmp_path / "corpus"),
                             "--json", "--n", "8", "--limit", "2"])
    data = json.loads(js.output)
    assert data["n_gram"] == 8 and data["items"] == 2 and data["contaminated"] == 1
    assert data["contaminated_items"][0]["id"] == "bio"
    assert data["rate"]["n"] == 2 and data["rate"]["method"] == "wilson"
    bad = runner.invoke(cli, ["overlap", str(task), "--corpus", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "Corpus path not found" in bad.output
    assert "Traceback" not in bad.output and bad.exception is None or isinstance(
        bad.exception, SystemExit)
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02")
    binary = runner.invoke(cli, ["overlap", str(task), "--corpus", str(tmp_path / "bin.txt")])
    assert binary.exit_code == 3 and "bin.txt is not text" in binary.output
