from pathlib import Path

import pytest
from pydantic import ValidationError

from evalstack.core.errors import ConfigError, UnknownNameError
from evalstack.scorers.judge.rubric import (
    BUILTIN_RUBRICS,
    Criterion,
    Rubric,
    default_rubric,
    load_rubric,
)

EXPECTED = {
    "default": ("accuracy", "completeness", "clarity"),
    "factual_qa": ("correctness", "completeness", "no_unsupported_claims"),
    "summarization": ("faithfulness", "coverage", "no_added_facts"),
    "support": ("helpfulness", "accuracy", "tone"),
    "code_review": ("correctness", "robustness", "readability"),
    "answer_relevance": ("relevance",),
}


def _rubric(**kw):
    kw.setdefault("criteria", [Criterion(name="a", description="A"),
                               Criterion(name="b", description="B", weight=3)])
    return Rubric(name="t", **kw)


def test_default_rubric_is_accuracy_completeness_clarity_on_1_to_5():
    r = default_rubric()
    assert r.names == ("accuracy", "completeness", "clarity")
    assert (r.scale_min, r.scale_max) == (1, 5)
    assert r.uses_reference
    assert all(c.weight == 1 for c in r.criteria)


@pytest.mark.parametrize("name", BUILTIN_RUBRICS)
def test_builtin_templates_load(name):
    r = load_rubric(name)
    assert r.name == name
    assert r.names == EXPECTED[name]
    assert all(c.anchors for c in r.criteria)
    assert load_rubric(name) is r  # cached, and frozen so sharing is safe


def test_summarization_does_not_use_reference_but_qa_does():
    assert not load_rubric("summarization").uses_reference
    assert load_rubric("factual_qa").uses_reference


def test_overall_is_weighted_mean_and_normalized():
    r = _rubric()
    assert r.overall({"a": 1, "b": 5, "extra": 9}) == 4.0
    assert r.normalized(4.0) == 0.75
    assert r.normalized(1) == 0.0 and r.normalized(5) == 1.0


@pytest.mark.parametrize("scores", [{"a": 1}, {"a": 1, "b": 6}, {"a": 1, "b": 2.5},
                                    {"a": True, "b": 2}])
def test_overall_rejects_missing_or_invalid(scores):
    with pytest.raises(ValueError):
        _rubric().overall(scores)


def test_normalized_rejects_outside_scale():
    with pytest.raises(ValueError):
        _rubric().normalized(0)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"criteria": []}, "criteria"),
        ({"scale_min": 5, "scale_max": 5}, "scale_min"),
        ({"scale_max": 1.5}, "scale_max"),
        ({"pass_threshold": 6}, "pass_threshold"),
        ({"criteria": [Criterion(name="a", description="A"),
                       Criterion(name="a", description="B")]}, "unique"),
        ({"criteria": [Criterion(name="a", description="A", anchors={7: "x"})]}, "anchors"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_rubrics_are_rejected(kw, message):
    with pytest.raises(ValidationError, match=message):
        _rubric(**kw)


@pytest.mark.parametrize("kw", [{"weight": 0}, {"weight": -1}, {"name": "Has Space"},
                                {"description": ""}, {"extra": 1}])
def test_invalid_criteria_are_rejected(kw):
    with pytest.raises(ValidationError):
        Criterion(**{"name": "a", "description": "A", **kw})


def test_models_are_frozen():
    r = default_rubric()
    with pytest.raises(ValidationError):
        r.scale_max = 10  # type: ignore[misc]


def test_load_yaml_file(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nscale_min: 0\nscale_max: 10\npass_threshold: 7\ncriteria:\n"
        "  - name: tone\n    description: Polite?\n    weight: 2\n"
        "    anchors: {0: rude, 10: lovely}\n",
        encoding="utf-8",
    )
    r = load_rubric(path)
    assert r.names == ("tone",)
    assert r.criteria[0].anchors == {0: "rude", 10: "lovely"}
    assert r.pass_threshold == 7
    assert load_rubric(str(path)) == r


def test_yaml_field_error_names_file_and_field(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ncriteria:\n  - name: a\n    description: A\n    weight: 0\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    assert f"{path}: criteria.0.weight: Input should be greater than 0" in str(info.value)


def test_yaml_unknown_key_is_an_error(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ncriteria: [{name: a, description: A}]\nscale: 5\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="scale: Extra inputs are not permitted"):
        load_rubric(path)


def test_invalid_yaml_and_non_mapping(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_rubric(bad)
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_rubric(bad)


def test_yaml_tags_are_not_executed(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_rubric(bad)


def test_unknown_name_suggests_builtin():
    with pytest.raises(UnknownNameError, match="summarization"):
        load_rubric("sumarization")


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_rubric(tmp_path / "nope.yaml")


def test_rubric_instance_passes_through():
    r = _rubric()
    assert load_rubric(r) is r
