"""The XSum hallucination annotations as human labels, joined to their articles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evalstack.core.errors import ConfigError
from evalstack.datasets.labels import load_labels

HEADER = ("bbcid,system,summary,hallucination_type,hallucinated_span,hallucinated_span_start,"
          "hallucinated_span_end,worker_id\n")


def _files(tmp_path: Path) -> tuple[Path, Path]:
    csv = tmp_path / "hallucination_annotations_xsum_summaries.csv"
    csv.write_text(HEADER + "".join([
        # two of three annotators marked a span: 1/3 faithful (one worker marked two spans)
        "1,BERTS2S,a summary,extrinsic,a,1,2,wid_0\n",
        "1,BERTS2S,a summary,intrinsic,b,3,4,wid_0\n",
        "1,BERTS2S,a summary,extrinsic,a,1,2,wid_1\n",
        "1,BERTS2S,a summary,NULL,NULL,NULL,NULL,wid_2\n",
        "1,Gold,the gold one,NULL,NULL,NULL,NULL,wid_0\n",
        "1,Gold,the gold one,NULL,NULL,NULL,NULL,wid_1\n",
        "2,Gold,no article,NULL,NULL,NULL,NULL,wid_0\n",
    ]))
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"bbcid": 1, "document": "The article."}) + "\n")
    return csv, docs


def test_the_human_score_is_the_share_of_annotators_who_marked_nothing(tmp_path):
    csv, docs = _files(tmp_path)
    labels = load_labels(csv, documents=docs)
    assert labels.kind == "pointwise" and labels.scale == (0.0, 1.0)
    by_id = {it.id: it for it in labels.items}
    assert by_id["1/BERTS2S"].human == pytest.approx(1 / 3)
    assert by_id["1/Gold"].human == 1.0
    assert by_id["1/Gold"].source == "The article." and by_id["1/Gold"].model == "Gold"
    assert "2/Gold" not in by_id
    assert labels.notes == (f"1 of 3 summaries were left out: their article is not in {docs}.",)


def test_without_the_articles_it_says_where_to_get_them(tmp_path):
    csv, _ = _files(tmp_path)
    with pytest.raises(ConfigError, match="not the articles.*--documents"):
        load_labels(csv)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"bbcid": 99, "document": "x"}) + "\n")
    with pytest.raises(ConfigError, match="None of the 3 summaries"):
        load_labels(csv, documents=other)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"bbcid": 1}) + "\n")
    with pytest.raises(ConfigError,
                       match=r"broken.jsonl:1: expected fields 'bbcid' and 'document'"):
        load_labels(csv, documents=broken)


def test_a_csv_without_the_columns_names_them(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("bbcid,summary\n1,x\n")
    with pytest.raises(ConfigError, match=r"bad.csv:1: missing column\(s\) system, "
                                          r"hallucination_type, worker_id"):
        load_labels(bad, documents=tmp_path / "none.json")


@pytest.mark.skipif(not os.environ.get("EVALSTACK_DATA_DIR"), reason="needs the data mirror")
def test_the_published_files_join():
    root = Path(os.environ["EVALSTACK_DATA_DIR"])
    labels = load_labels(
        root / "xsum_hallucination_annotations" / "hallucination_annotations_xsum_summaries.csv",
        documents=root / "summac_benchmark" / "data" / "xsumfaith.json")
    assert len(labels.items) == 2425  # 485 articles x 5 systems
    assert labels.notes and labels.notes[0].startswith("75 of 2500 summaries")
    assert {it.human for it in labels.items} <= {0.0, 1 / 3, 0.5, 2 / 3, 1.0}
