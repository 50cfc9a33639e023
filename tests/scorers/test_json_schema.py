"""json_valid and json_schema_match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import best_match

from evalstack.core import registry
from evalstack.core.component import ComponentSpec
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import ModelOutput, Sample
from evalstack.scorers.json_schema import extract_json, json_schema_match, json_valid


def run(scorer, completion: str) -> Score:
    sample = Sample("s1", "Reply in JSON.")
    return scorer(sample, TaskState(sample, output=ModelOutput(completion)))


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "value", "source"),
    [
        ('{"a": 1}', {"a": 1}, '{"a": 1}'),
        ('  \n[1, 2, 3]\n', [1, 2, 3], "[1, 2, 3]"),
        ("42", 42, "42"),
        ("null", None, "null"),
        ('Here you go:\n```json\n{"a": {"b": [1]}}\n```\nAnything else?', {"a": {"b": [1]}},
         '{"a": {"b": [1]}}'),
        ('```JSON\n[true]\n```', [True], "[true]"),
        ('```\n{"unmarked": true}\n```', {"unmarked": True}, '{"unmarked": true}'),
        ('```json\n{broken\n```\nthen ```json\n{"second": 2}\n```', {"second": 2},
         '{"second": 2}'),
        ('The result is {"text": "a } and a { inside"} as asked.',
         {"text": "a } and a { inside"}, '{"text": "a } and a { inside"}'),
        ('Use {curly} braces, e.g. {"k": [1, {"n": null}]} works', {"k": [1, {"n": None}]},
         '{"k": [1, {"n": null}]}'),
        ('see [1]. {"a": 1}', [1], "[1]"),
        ("{{}}", {}, "{}"),
        ('```python\nx = {1: 2}\n```\nAnswer: {"x": 2}', {"x": 2}, '{"x": 2}'),
        ('{"emoji": "\u00e9\U0001f600"}', {"emoji": "\u00e9\U0001f600"},
         '{"emoji": "\u00e9\U0001f600"}'),
    ],
)
def test_extract_json(text: str, value, source: str) -> None:
    assert extract_json(text) == (value, source)


@pytest.mark.parametrize(
    "text", ["", "no json here", '{"a": 1,}', "{'single': 'quotes'}", "[1, 2", "}{"]
)
def test_extract_json_finds_nothing(text: str) -> None:
    assert extract_json(text) is None


def test_json_valid() -> None:
    ok = run(json_valid(), 'Sure!\n```json\n{"a": 1}\n```')
    assert ok == Score(1.0, answer='{"a": 1}')
    bad = run(json_valid(), '{"a": 1,}')
    assert bad.value == 0.0 and bad.answer is None
    assert "No JSON value found" in (bad.explanation or "")
    assert "The output is not valid JSON: " in (bad.explanation or "")
    assert "line 1 column 9" in (bad.explanation or "")  # where the trailing comma bites
    plain = run(json_valid(), "I cannot do that.")
    assert plain.value == 0.0 and "not valid JSON" not in (plain.explanation or "")


@pytest.mark.parametrize(
    ("output", "value"),
    [
        ('{"name": "Ada", "age": 36}', 1.0),
        ('Here: ```json\n{"name": "Ada", "age": 36, "tags": ["math"]}\n```', 1.0),
        ('{"name": "Ada"}', 0.0),
        ('{"name": "Ada", "age": -1}', 0.0),
        ('{"name": "Ada", "age": 36, "tags": [1]}', 0.0),
        ('{"name": "Ada", "age": 36, "extra": true}', 0.0),
        ('["Ada", 36]', 0.0),
        ("Ada, 36", 0.0),
    ],
)
def test_json_schema_match(output: str, value: float) -> None:
    assert run(json_schema_match(PERSON), output).value == value


def test_explanation_is_jsonschemas_best_error_with_its_path() -> None:
    output = '{"name": "Ada", "age": 36, "tags": ["a", 7]}'
    r = run(json_schema_match(PERSON), output)
    error = best_match(Draft202012Validator(PERSON).iter_errors(json.loads(output)))
    assert error is not None
    assert r.explanation == f"{error.message} (at $.tags[1])"
    assert r.explanation == "7 is not of type 'string' (at $.tags[1])"
    assert r.answer == output
    missing = run(json_schema_match(PERSON), '{"age": 3}')
    assert missing.explanation == "'name' is a required property (at $)"
    none = run(json_schema_match(PERSON), "nothing")
    assert none.value == 0.0 and "No JSON value found" in (none.explanation or "")


def test_schema_from_a_file_or_inline_text(tmp_path: Path) -> None:
    path = tmp_path / "person.schema.json"
    path.write_text(json.dumps(PERSON), encoding="utf-8")
    from_file = json_schema_match(str(path))
    inline = json_schema_match(json.dumps(PERSON))
    for scorer in (from_file, inline):
        assert run(scorer, '{"name": "Ada", "age": 36}').value == 1.0
        assert run(scorer, '{"name": "Ada"}').value == 0.0
    assert from_file.spec == ComponentSpec("scorer", "json_schema", {"schema": str(path)})


def test_the_schemas_draft_is_used() -> None:
    # Draft 7 reads "items" as a list of per-position schemas; 2020-12 forbids that form.
    schema = {"$schema": "http://json-schema.org/draft-07/schema#",
              "type": "array", "items": [{"type": "integer"}, {"type": "string"}]}
    Draft7Validator.check_schema(schema)
    scorer = json_schema_match(schema)
    assert run(scorer, '[1, "a"]').value == 1.0
    assert run(scorer, '["a", 1]').value == 0.0


@pytest.mark.parametrize(
    ("schema", "match"),
    [
        ({"type": "nonsense"}, r"The JSON schema is invalid: .*'nonsense' is not valid"),
        ({"type": "object", "required": "name"}, r"invalid.*\(at \$\.required\)"),
        ("/no/such/schema.json", "JSON schema file '/no/such/schema.json' does not exist"),
        ('{"type": ', "The inline JSON schema is not valid JSON"),
        (["not", "a", "schema"], "as a dict, inline JSON text or the path"),
    ],
)
def test_bad_schemas_fail_at_construction(schema, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        json_schema_match(schema)


def test_schema_file_that_is_not_an_object(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{oops", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.json' is not valid JSON"):
        json_schema_match(str(bad_json))
    a_list = tmp_path / "list.json"
    a_list.write_text("[1]", encoding="utf-8")
    with pytest.raises(ConfigError, match="must hold a JSON object; received list"):
        json_schema_match(str(a_list))


def test_specs() -> None:
    assert json_valid().spec == ComponentSpec("scorer", "json_valid", {})
    scorer = json_schema_match(PERSON)
    assert scorer.spec == ComponentSpec("scorer", "json_schema", {"schema": PERSON})
    rebuilt = registry.lookup("scorer", scorer.spec.name)(**scorer.spec.args)
    assert rebuilt.spec == scorer.spec
    assert registry.lookup("scorer", "json_valid") is json_valid
