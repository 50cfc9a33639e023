"""BLEU, chrF and ROUGE equal their libraries' own results on real summaries.

The sentence pairs are XSum reference ("Gold") and system summaries from Maynez et al.
(2020), https://github.com/google-research-datasets/xsum_hallucination_annotations (CC BY
4.0), read from the shared data mirror (``EVALSTACK_DATA_DIR``).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from evalstack.core import registry
from evalstack.core.component import ComponentSpec
from evalstack.core.errors import MissingDependencyError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.scorers import overlap
from evalstack.scorers.overlap import bleu, chrf, rouge1, rouge2, rougeL

XSUM = Path(
    os.environ.get(
        "EVALSTACK_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "datasets"
    )
) / "xsum_hallucination_annotations"
SYSTEMS = ("BERTS2S", "PtGen", "TConvS2S", "TranS2S")

# (system, gold) pairs copied from the same file (BERTS2S, documents 29911712 and
# 21267591; the file writes apostrophes as \'), so the exactness tests run without the
# mirror; and an empty output.
INLINE_PAIRS = [
    (
        "more than 50 pupils at a bristol academy have been sent home from school because of "
        "a lack of uniform.",
        "an academy in bradford has sent home 152 pupils for arriving at the school gates "
        "without meeting its dress code.",
    ),
    (
        "the leader of bahrain\\'s main opposition party has said there needs to be dialogue "
        "between the kingdom\\'s crown prince and government.",
        "the leader of bahrain\\'s main opposition group, al-wefaq, has called for the crown "
        "prince to attend talks aimed at ending nearly two years of unrest.",
    ),
    ("", "an academy in bradford has sent home 152 pupils."),
]


def _summaries() -> dict[str, dict[str, str]]:
    path = XSUM / "hallucination_annotations_xsum_summaries.csv"
    if not path.is_file():
        pytest.skip(f"XSum annotations not found at {path}")
    by_doc: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            by_doc.setdefault(row["bbcid"], {})[row["system"]] = row["summary"]
    return {k: v for k, v in by_doc.items() if "Gold" in v and all(s in v for s in SYSTEMS)}


def _pairs(limit_docs: int = 40) -> list[tuple[str, str, str]]:
    """(system summary, gold summary, another system's summary) for the first documents."""
    out = []
    for doc in list(_summaries().values())[:limit_docs]:
        for i, system in enumerate(SYSTEMS):
            out.append((doc[system], doc["Gold"], doc[SYSTEMS[(i + 1) % len(SYSTEMS)]]))
    return out


def run(scorer, completion: str, targets: str | tuple[str, ...]) -> Score:
    sample = Sample("s1", "Summarise the article.", targets)
    return scorer(sample, TaskState(sample, output=ModelOutput(completion)))


ROUGE = [(rouge1, "rouge1"), (rouge2, "rouge2"), (rougeL, "rougeL")]


def _check_pair(hyp: str, ref: str, other: str) -> None:
    assert run(bleu(), hyp, ref).value == sacrebleu.sentence_bleu(hyp, [ref]).score / 100
    assert run(chrf(), hyp, ref).value == sacrebleu.sentence_chrf(hyp, [ref]).score / 100
    # Several targets are several references, as in sacrebleu.
    refs = (ref, other)
    assert run(bleu(), hyp, refs).value == sacrebleu.sentence_bleu(hyp, list(refs)).score / 100
    assert run(chrf(), hyp, refs).value == sacrebleu.sentence_chrf(hyp, list(refs)).score / 100
    for factory, kind in ROUGE:
        reference = rouge_scorer.RougeScorer([kind], use_stemmer=True)
        expected = reference.score(ref, hyp)[kind].fmeasure
        assert run(factory(), hyp, ref).value == expected
        best = max(expected, reference.score(other, hyp)[kind].fmeasure)
        assert run(factory(), hyp, refs).value == best


@pytest.mark.parametrize(("hyp", "ref"), INLINE_PAIRS)
def test_inline_pairs_equal_the_libraries(hyp: str, ref: str) -> None:
    _check_pair(hyp, ref, INLINE_PAIRS[0][1])


def test_xsum_pairs_equal_the_libraries_exactly() -> None:
    pairs = _pairs()
    assert len(pairs) == 160
    # Build each scorer once, as a run does, so that cached objects are exercised.
    scorers = {"bleu": bleu(), "chrf": chrf(), **{kind: f() for f, kind in ROUGE}}
    references = {kind: rouge_scorer.RougeScorer([kind], use_stemmer=True) for _, kind in ROUGE}
    for hyp, ref, other in pairs:
        assert run(scorers["bleu"], hyp, ref).value == (
            sacrebleu.sentence_bleu(hyp, [ref]).score / 100
        )
        assert run(scorers["chrf"], hyp, (ref, other)).value == (
            sacrebleu.sentence_chrf(hyp, [ref, other]).score / 100
        )
        for kind, reference in references.items():
            got = run(scorers[kind], hyp, ref)
            assert got.value == reference.score(ref, hyp)[kind].fmeasure
            assert got.kind == "continuous"
    _check_pair(*pairs[0])


def test_rouge_reproduces_the_published_xsum_scores() -> None:
    # Maynez et al. published ROUGE F1 per summary, rounded to 4 decimals. Their texts were
    # tokenised slightly differently from the CSV for a few summaries, so we ask for broad,
    # not total, agreement; without the stemmer agreement drops to about 85%.
    path = XSUM / "eval_scores_xsum_summaries.csv"
    if not path.is_file():
        pytest.skip(f"XSum scores not found at {path}")
    docs = _summaries()
    names = {"bert_withckpt": "BERTS2S", "ptgen": "PtGen", "tconvs2s": "TConvS2S"}
    scorers = {"R1": rouge1(), "R2": rouge2(), "RL": rougeL()}
    agree = total = 0
    with path.open(encoding="utf-8", newline="") as f:
        for row in list(csv.DictReader(f))[:600]:
            system, bbcid = row["system_bbcid"].rsplit("_", 1)
            if system not in names or bbcid not in docs:
                continue
            summary, gold = docs[bbcid][names[system]], docs[bbcid]["Gold"]
            for column, scorer in scorers.items():
                total += 1
                agree += abs(run(scorer, summary, gold).value - float(row[column])) <= 1.5e-4
    assert total > 900
    assert agree / total >= 0.92


def test_scores_are_on_a_zero_to_one_scale() -> None:
    assert run(bleu(), "the cat sat on the mat", "the cat sat on the mat").value == (
        pytest.approx(1.0)
    )
    assert run(chrf(), "completely different", "the cat sat on the mat").value < 0.2
    assert run(rougeL(), "the cat sat on the mat", "the cat sat on the mat").value == 1.0
    assert run(rouge2(), "", "the cat").value == 0.0


@pytest.mark.parametrize(
    ("factory", "library", "module", "purpose"),
    [
        (bleu, "sacrebleu", "sacrebleu", "The BLEU scorer"),
        (chrf, "sacrebleu", "sacrebleu", "The chrF scorer"),
        (rouge1, "rouge-score", "rouge_score", "The rouge1 scorer"),
        (rougeL, "rouge-score", "rouge_score", "The rougeL scorer"),
    ],
)
def test_missing_library_names_the_extra(
    factory, library: str, module: str, purpose: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(MissingDependencyError) as info:
        factory()
    message = str(info.value)
    assert message.startswith(f"{purpose} needs the Python package {library!r}")
    assert "pip install 'evalstack[nlp]'" in message


def test_library_objects_are_built_once_per_scorer(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real_rouge, real_bleu = rouge_scorer.RougeScorer, sacrebleu.metrics.BLEU

    def counting_rouge(*args, **kwargs):
        built.append("rouge")
        return real_rouge(*args, **kwargs)

    def counting_bleu(*args, **kwargs):
        built.append("bleu")
        return real_bleu(*args, **kwargs)

    monkeypatch.setattr(rouge_scorer, "RougeScorer", counting_rouge)
    monkeypatch.setattr(sacrebleu.metrics, "BLEU", counting_bleu)
    r, b = rouge1(), bleu()
    for text in ("one two", "two three", "three four"):
        run(r, text, "two three")
        run(b, text, "two three")
    assert sorted(built) == ["bleu", "rouge"]


def test_importing_the_module_does_not_import_the_libraries() -> None:
    code = (
        "import sys, evalstack.scorers.overlap; "
        "print(sorted(m for m in ('sacrebleu', 'rouge_score') if m in sys.modules))"
    )
    src = Path(overlap.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("factory", "name"),
    [(bleu, "bleu"), (chrf, "chrf"), (rouge1, "rouge1"), (rouge2, "rouge2"), (rougeL, "rougeL")],
)
def test_specs(factory, name: str) -> None:
    assert factory().spec == ComponentSpec("scorer", name, {})
    assert registry.lookup("scorer", name) is factory
