"""Human labels: the real public files in the data mirror, and every malformed input."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from evalstack.core.errors import ConfigError
from evalstack.datasets.labels import LABEL_FORMATS, HumanLabels, LabelItem, load_labels

DATA = Path(os.environ["EVALSTACK_DATA_DIR"])  # set by conftest
LLMBAR = DATA / "llmbar" / "Dataset"
SUMMAC = DATA / "summac_benchmark" / "data"
UNIEVAL = DATA / "unieval_meta_eval"


def _raw(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
        encoding="utf-8",
    )
    return path


# --- the real files ----------------------------------------------------------------------


def test_llmbar_natural_is_pairwise_with_the_gold_preferences():
    path = LLMBAR / "LLMBar" / "Natural" / "dataset.json"
    raw = _raw(path)
    labels = load_labels(path)
    assert (labels.kind, labels.name, labels.scale, labels.levels) == (
        "pairwise", "llmbar/Natural", None, None)
    assert len(labels.items) == len(raw) == 100
    assert Counter(i.preference for i in labels.items) == {"a": 42, "b": 58}
    for item, row in zip(labels.items, raw, strict=True):
        assert item.preference == ("a" if int(row["label"]) == 1 else "b")
        assert (item.input, item.answer_a, item.answer_b) == (
            row["input"], row["output_1"], row["output_2"])
        assert item.answer is None and item.human is None
    assert [i.id for i in labels.items[:3]] == ["0", "1", "2"]


@pytest.mark.parametrize("path", sorted(LLMBAR.glob("**/dataset.json")), ids=str)
def test_every_llmbar_file_loads_with_one_item_per_row(path):
    labels = load_labels(path)
    assert labels.kind == "pairwise"
    assert len(labels.items) == len(_raw(path))
    assert labels.name == f"llmbar/{path.parent.name}"


def test_summac_summeval_is_binary_pointwise_with_documents_and_models():
    path = SUMMAC / "summeval.json"
    raw = _raw(path)
    labels = load_labels(path)
    assert (labels.kind, labels.name, labels.scale, labels.levels) == (
        "pointwise", "summeval", (0.0, 1.0), (0.0, 1.0))
    assert len(labels.items) == 100
    assert Counter(i.human for i in labels.items) == {1.0: 63, 0.0: 37}
    first = labels.items[0]
    row = raw["summeval_0"]
    assert first.id == "summeval_0"
    assert (first.answer, first.source, first.model, first.category) == (
        row["claim"], row["document"], row["model_name"], "summeval")
    assert first.input == "Summarize the document."
    assert {i.model for i in labels.items} == {"M11", "M13"}


@pytest.mark.parametrize(("name", "n", "ones"), [("factcc", 311, 274), ("xsumfaith", 485, 50)])
def test_other_summac_files(name, n, ones):
    labels = load_labels(SUMMAC / f"{name}.json")
    assert len(labels.items) == n
    assert sum(i.human for i in labels.items) == ones
    assert labels.items[0].category == name


def test_qags_cnndm_keeps_the_averaged_votes_as_levels():
    path = UNIEVAL / "fact" / "qags_cnndm.json"
    raw = _raw(path)
    labels = load_labels(path)
    assert (labels.kind, labels.name, labels.scale) == ("pointwise", "qags_cnndm", (0.0, 1.0))
    assert labels.levels == pytest.approx((0, 1 / 3, 0.5, 2 / 3, 0.75, 1))
    assert len(labels.items) == 235
    item, row = labels.items[7], raw[7]
    assert (item.answer, item.source, item.human, item.model) == (
        row["system_output"], row["source"], row["scores"]["consistency"], "0")
    assert item.reference is None  # the file's "reference" is a copy of the source


def test_topical_chat_infers_the_1_to_5_scale_and_joins_the_fact():
    path = UNIEVAL / "dialogue" / "topical_chat.json"
    raw = _raw(path)
    labels = load_labels(path)
    assert (labels.kind, labels.name, labels.scale) == ("pointwise", "topical_chat", (1.0, 5.0))
    assert labels.levels == pytest.approx([1 + k / 3 for k in range(13)])
    item, row = labels.items[0], raw[0]
    assert item.source == row["source"] + "\n\nFact: " + row["context"]
    assert (item.input, item.answer, item.human) == (
        "Continue the dialogue.", row["system_output"], row["scores"]["overall"])
    assert len({i.model for i in labels.items}) == 6


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (LLMBAR / "LLMBar" / "Natural" / "dataset.json", "llmbar"),
        (SUMMAC / "summeval.json", "summac"),
        (UNIEVAL / "fact" / "qags_xsum.json", "unieval"),
        (UNIEVAL / "dialogue" / "topical_chat.json", "topical_chat"),
    ],
)
def test_auto_detects_the_format(path, fmt):
    assert load_labels(path) == load_labels(path, fmt)


def test_limit_keeps_the_first_items_but_the_whole_scale():
    path = UNIEVAL / "dialogue" / "topical_chat.json"
    full = load_labels(path)
    few = load_labels(path, limit=3)
    assert few.items == full.items[:3]
    assert (few.scale, few.levels) == (full.scale, full.levels)
    assert load_labels(path, limit=10_000).items == full.items


def test_a_scale_that_does_not_fit_the_data_names_the_item():
    with pytest.raises(ConfigError) as err:
        load_labels(UNIEVAL / "dialogue" / "topical_chat.json", scale=(1, 3))
    message = str(err.value)
    assert "topical_chat.json: item [0]" in message
    assert "field 'human' must lie on the scale 1-3; received 4.66667" in message


# --- the evalstack JSONL format ----------------------------------------------------------


def test_pointwise_jsonl_maps_every_field(tmp_path):
    path = _jsonl(tmp_path / "mine.jsonl", [
        {"id": "q1", "input": "2+2?", "answer": "4", "human": 5, "reference": "4",
         "source": "doc", "model": "openai/gpt-4o", "category": "math"},
        "",
        {"input": "2+3?", "answer": "6", "human": 1},
        {"answer": "7", "human": 2.5, "id": 17},
    ])
    labels = load_labels(path)
    assert (labels.kind, labels.name, labels.scale, labels.levels) == (
        "pointwise", "mine", (1.0, 5.0), (1.0, 2.5, 5.0))
    assert labels.items[0] == LabelItem(
        id="q1", input="2+2?", answer="4", human=5.0, reference="4", source="doc",
        model="openai/gpt-4o", category="math")
    assert [i.id for i in labels.items] == ["q1", "3", "17"]  # default: the line number
    assert labels.items[2].input == ""


def test_a_given_scale_adds_its_ends_to_the_levels(tmp_path):
    path = _jsonl(tmp_path / "l.jsonl", [{"answer": "x", "human": 2}, {"answer": "y", "human": 4}])
    labels = load_labels(path, scale=(1, 5))
    assert (labels.scale, labels.levels) == ((1.0, 5.0), (1.0, 2.0, 4.0, 5.0))


def test_pairwise_jsonl_accepts_letters_numbers_and_ties(tmp_path):
    path = _jsonl(tmp_path / "pairs.jsonl", [
        {"input": "q", "answer_a": "x", "answer_b": "y", "preference": "a",
         "model_a": "gpt-4o", "model_b": "llama-3"},
        {"input": "q", "answer_a": "x", "answer_b": "y", "preference": 2},
        {"input": "q", "answer_a": "x", "answer_b": "y", "preference": "Tie"},
        {"input": "q", "answer_a": "x", "answer_b": "y", "preference": "1"},
    ])
    labels = load_labels(path)
    assert isinstance(labels, HumanLabels)
    assert labels.kind == "pairwise" and labels.scale is None and labels.levels is None
    assert [i.preference for i in labels.items] == ["a", "b", "tie", "a"]
    assert (labels.items[0].model_a, labels.items[0].model_b) == ("gpt-4o", "llama-3")


PAIR = {"answer_a": "x", "answer_b": "y", "preference": "a"}
POINT = {"answer": "x", "human": 3}


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ({**POINT, "humna": 3}, "field 'humna'. Did you mean 'human'? Expected only the fields"),
        ({**PAIR, "preference": "c"}, "field 'preference' must be 'a', 'b' or 'tie' (or 1 for "
                                      "a, 2 for b); received 'c'"),
        ({**PAIR, "preference": True}, "field 'preference' must be 'a', 'b' or 'tie'"),
        ({**POINT, "human": "high"}, "field 'human' must be a number; received a string 'high'"),
        ({**POINT, "human": None}, "missing field 'human'"),
        ({**POINT, "answer": ["x"]}, "field 'answer' must be a string; received a list ['x']"),
        ({**POINT, "id": 1.5}, "field 'id' must be a string or a whole number"),
        ({**POINT, "answer_b": "y"}, "mixes pointwise fields (answer, human) with pairwise ones "
                                     "(answer_b)"),
        ({"input": "q"}, "no label. Expected either 'answer' + 'human'"),
        ([1, 2], "expected a JSON object; received a list [1, 2]"),
        ('{"answer": "x", human: 3}', "invalid JSON at column 17"),
        ({**POINT, "id": "1"}, "field 'id': duplicate id '1' (first seen on line 1)"),
    ],
)
def test_a_bad_line_is_named_with_its_field(tmp_path, second, expected):
    first = PAIR if isinstance(second, dict) and "preference" in second else POINT
    path = _jsonl(tmp_path / "bad.jsonl", [{**first, "id": "1"}, second])
    with pytest.raises(ConfigError) as err:
        load_labels(path)
    assert f"{path}:2: " in str(err.value)
    assert expected in str(err.value)


def test_pointwise_and_pairwise_lines_cannot_be_mixed(tmp_path):
    path = _jsonl(tmp_path / "mixed.jsonl", [POINT, POINT, PAIR])
    with pytest.raises(ConfigError) as err:
        load_labels(path)
    assert f"{path}:3: a pairwise item, but line 1 was pointwise" in str(err.value)


@pytest.mark.parametrize(
    ("lines", "kwargs", "expected"),
    [
        ([], {}, "holds no labelled items"),
        ([POINT, POINT], {}, "every human score is 3. Pass the scale explicitly"),
        ([POINT, {**POINT, "human": 9}], {"scale": (1, 5)},
         ":2: field 'human' must lie on the scale 1-5; received 9. Fix the score or widen"),
        ([PAIR], {"scale": (1, 5)}, "holds pairwise preferences, which have no scale"),
        ([POINT], {"scale": (5, 1)}, "scale must be two numbers (min, max) with min < max"),
        ([POINT], {"limit": 0}, "limit must be a whole number of items, at least 1; got 0"),
        ([POINT], {"format": "csv"}, "Unknown label format 'csv'. Expected 'auto' or one of "
                                     "evalstack, llmbar"),
    ],
)
def test_bad_files_and_arguments(tmp_path, lines, kwargs, expected):
    path = _jsonl(tmp_path / "l.jsonl", lines)
    with pytest.raises(ConfigError) as err:
        load_labels(path, **kwargs)
    assert expected in str(err.value)


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="Label file not found: .*nope.jsonl"):
        load_labels(tmp_path / "nope.jsonl")


# --- the JSON formats, malformed ---------------------------------------------------------


def _json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_unknown_json_shape_lists_the_formats(tmp_path):
    path = _json(tmp_path / "x.json", {"rows": [1, 2]})
    with pytest.raises(ConfigError) as err:
        load_labels(path)
    for fmt in LABEL_FORMATS:
        assert fmt in str(err.value)
    assert "Cannot tell the label format" in str(err.value)


def test_jsonl_content_in_a_json_file_gets_a_hint(tmp_path):
    path = _jsonl(tmp_path / "x.json", [POINT, POINT])
    with pytest.raises(ConfigError, match="x.json:2: invalid JSON.*name it .jsonl"):
        load_labels(path)
    assert len(load_labels(path, "evalstack", scale=(1, 5)).items) == 2


@pytest.mark.parametrize(
    ("fmt", "data", "expected"),
    [
        ("llmbar", [{"input": "q", "output_1": "x", "output_2": "y", "label": 3}],
         "item [0]: field 'label' must be 1 (output_1 is better) or 2"),
        ("llmbar", [{"input": "q", "output_1": "x", "label": 1}], "item [0]: missing field "
                                                                   "'output_2'"),
        ("llmbar", {"a": 1}, "expected a JSON list of {input, output_1, output_2, label: 1|2}"),
        ("summac", {"s0": {"document": "d", "claim": "c", "label": 2}},
         "item 's0': field 'label' must be 0 (inconsistent) or 1 (consistent); received 2"),
        ("unieval", [{"source": "s", "system_output": "o", "scores": {"fluency": 1}}],
         "item [0]: field 'scores' must be an object with a 'consistency' score"),
        ("topical_chat", [{"source": "s", "system_output": "o", "scores": {"overall": "x"}}],
         "item [0]: field 'scores.overall' must be a number; received a string 'x'"),
    ],
)
def test_malformed_public_formats_name_the_item_and_field(tmp_path, fmt, data, expected):
    path = _json(tmp_path / "d.json", data)
    with pytest.raises(ConfigError) as err:
        load_labels(path, fmt)
    assert str(path) in str(err.value)
    assert expected in str(err.value)
