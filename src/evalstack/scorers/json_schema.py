"""Scorers for structured output: is the output JSON, and does it satisfy a JSON Schema?"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalstack.core.component import component
from evalstack.core.errors import ConfigError
from evalstack.core.scorer import Score, TaskState
from evalstack.core.types import Sample

ScoreFn = Callable[[Sample, TaskState], Score]

_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON|jsonc)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
# Bounds the scan for an embedded value in long, brace-heavy outputs such as code.
_MAX_START_ATTEMPTS = 2000
_NOT_FOUND = (
    "No JSON value found in the output (tried the whole text, ```json fenced blocks, and "
    "every '{' or '[' as the start of a value)."
)


def extract_json(text: str) -> tuple[Any, str] | None:
    """Find a JSON value in a model's output.

    Tried in order: the whole text; each fenced code block marked ``json`` or unmarked
    (the first that parses); the first ``{`` or ``[`` from which a complete JSON value can
    be decoded (so braces inside strings are handled).

    Args:
        text: the output.

    Returns:
        ``(value, source_text)``, or ``None`` when no JSON value is found.

    Examples:
        >>> extract_json('Sure! ```json\\n{"a": [1, 2]}\\n``` Done.')
        ({'a': [1, 2]}, '{"a": [1, 2]}')
        >>> extract_json('The result is {"ok": true} as requested.')[0]
        {'ok': True}
    """
    stripped = text.strip()
    try:
        return json.loads(stripped), stripped
    except ValueError:
        pass
    for block in _FENCE.finditer(text):
        body = block.group(1).strip()
        try:
            return json.loads(body), body
        except ValueError:
            continue
    attempts = 0
    for start in re.finditer(r"[\[{]", text):
        attempts += 1
        if attempts > _MAX_START_ATTEMPTS:
            break
        try:
            value, end = _DECODER.raw_decode(text, start.start())
        except ValueError:
            continue
        return value, text[start.start() : end]
    return None


@component("scorer")
def json_valid() -> ScoreFn:
    """Score 1 when the output contains a JSON value (see ``extract_json``).

    Returns:
        A scorer whose ``Score.answer`` is the JSON text found; when none is found the
        explanation says what was tried and, if the whole output looked like JSON, why
        it failed to parse.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> sample = Sample("1", "Reply in JSON")
        >>> json_valid()(sample, TaskState(sample, output=ModelOutput('{"a": 1,}'))).value
        0.0
    """

    def score(sample: Sample, state: TaskState) -> Score:
        found = extract_json(state.completion)
        if found is not None:
            return Score(1.0, answer=found[1])
        return Score(0.0, explanation=_why_not_json(state.completion))

    return score


def _why_not_json(text: str) -> str:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            json.loads(stripped)
        except ValueError as exc:
            return f"{_NOT_FOUND} The output is not valid JSON: {exc}."
    return _NOT_FOUND


def _load_schema(schema: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    if not isinstance(schema, str):
        raise ConfigError(
            f"json_schema needs a schema as a dict, inline JSON text or the path of a JSON "
            f"file; received {type(schema).__name__}."
        )
    if schema.lstrip().startswith("{"):
        source, text = "The inline JSON schema", schema
    else:
        path = Path(schema).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"JSON schema file {schema!r} does not exist. Pass an existing .json file, a "
                "dict, or the schema itself as JSON text."
            )
        source, text = f"JSON schema file {schema!r}", path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}. Fix the JSON.") from None
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{source} must hold a JSON object; received {type(loaded).__name__}."
        )
    return loaded


@component("scorer", name="json_schema")
def json_schema_match(schema: dict[str, Any] | str) -> ScoreFn:
    """Score 1 when the output contains JSON that satisfies a JSON Schema.

    The JSON is found as ``extract_json`` describes and validated with ``jsonschema``,
    using the draft the schema's ``$schema`` names (the latest draft when it names none).
    Formats (``"format": "email"``) are annotations only, as the specification says.

    Args:
        schema: the schema as a dict, as inline JSON text (a string starting with ``{``),
            or the path of a JSON file holding it.

    Returns:
        A scorer whose ``Score.answer`` is the JSON text found and whose explanation, on
        failure, is the most relevant validation error (jsonschema's ``best_match``) with
        its JSON path.

    Raises:
        ConfigError: the file is missing or not JSON, or the schema is not a valid schema.

    Examples:
        >>> from evalstack.core.types import ModelOutput
        >>> s = json_schema_match({"type": "object", "required": ["name"]})
        >>> sample = Sample("1", "Give a person as JSON")
        >>> s(sample, TaskState(sample, output=ModelOutput('{"age": 3}'))).explanation
        "'name' is a required property (at $)"
        >>> s.spec.name
        'json_schema'
    """
    from jsonschema import exceptions, validators

    loaded = _load_schema(schema)
    cls = validators.validator_for(loaded)
    try:
        cls.check_schema(loaded)
    except exceptions.SchemaError as exc:
        raise ConfigError(
            f"The JSON schema is invalid: {exc.message} (at {exc.json_path}). Fix the schema; "
            "see https://json-schema.org/understanding-json-schema/."
        ) from None
    validator = cls(loaded)

    def score(sample: Sample, state: TaskState) -> Score:
        found = extract_json(state.completion)
        if found is None:
            return Score(0.0, explanation=_why_not_json(state.completion))
        value, text = found
        error = exceptions.best_match(validator.iter_errors(value))
        if error is None:
            return Score(1.0, answer=text)
        return Score(0.0, answer=text, explanation=f"{error.message} (at {error.json_path})")

    return score
