"""Structured output over OpenAI-compatible APIs: the request form a server takes, found by trying.

Servers agree on the reply but not on how to ask for a JSON shape. The forms, in the order
they are tried on the chat API:

- ``json_schema``: OpenAI's ``response_format: {"type": "json_schema", "json_schema": {...}}``.
  OpenAI, vLLM, LM Studio and Ollama take it. (Ollama's ``/v1`` maps it onto its native
  ``format``; a top-level ``format`` field is not read there, so it is never sent.)
- ``json_object+schema``: ``response_format: {"type": "json_object", "schema": {...}}``,
  the form of llama-cpp-python's server, which answers ``json_schema`` with HTTP 500.
- ``guided_json``: vLLM's own top-level field. Servers that do not know it ignore it, so a
  reply to this form may be unconstrained.
- ``none``: no constraint; the caller parses the reply tolerantly (as the judge does).

The completions API has no standard field: ``guided_json``, then ``none``.

A form is rejected when the server answers 400 or 422, or 500 with a body naming the form's
field (llama-cpp-python reports its validation errors as 500). A rejection is never a
transient error: the next form is tried at once, inside the same call. The form that worked
is remembered per server and model for the rest of the process and tried first next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalstack.core.types import StructuredOutput

NONE = "none"


@dataclass(frozen=True, slots=True)
class Form:
    """One way of asking for structured output.

    Attributes:
        name: the name recorded in run notes (``json_schema``, ``json_object+schema``, ...).
        field: the request field it sets, looked for in a 500's body; "" for ``none``.
        fields: the request fields for a given constraint.
    """

    name: str
    field: str
    fields: Callable[[StructuredOutput], dict[str, Any]]


def _json_schema(s: StructuredOutput) -> dict[str, Any]:
    schema = {"name": s.name, "strict": True, "schema": s.schema()}
    return {"response_format": {"type": "json_schema", "json_schema": schema}}


def _json_object(s: StructuredOutput) -> dict[str, Any]:
    return {"response_format": {"type": "json_object", "schema": s.schema()}}


def _guided_json(s: StructuredOutput) -> dict[str, Any]:
    return {"guided_json": s.schema()}


CHAT_FORMS = (
    Form("json_schema", "response_format", _json_schema),
    Form("json_object+schema", "response_format", _json_object),
    Form("guided_json", "guided_json", _guided_json),
    Form(NONE, "", lambda s: {}),
)
COMPLETION_FORMS = (CHAT_FORMS[2], CHAT_FORMS[3])

# (endpoint URL, model) -> the name of the form that last worked there, process-wide.
_LEARNT: dict[tuple[str, str], str] = {}


def forget() -> None:
    """Forget every server's form (for tests that reuse a port with another server)."""
    _LEARNT.clear()


def is_rejection(form: Form, status: int, body: bytes) -> bool:
    """Whether an error reply means the server does not take ``form`` (not a transient error).

    Examples:
        >>> is_rejection(CHAT_FORMS[0], 500, b'{"error": "response_format.type: ..."}')
        True
        >>> is_rejection(CHAT_FORMS[0], 500, b'{"error": "out of memory"}')
        False
    """
    if form.name == NONE:
        return False
    if status in (400, 422):
        return True
    return 500 <= status <= 599 and form.field.encode() in body[:65536].lower()


class Negotiator:
    """The structured-output forms of one provider's endpoint, and what it learnt.

    Args:
        url: the endpoint (``.../chat/completions`` or ``.../completions``).
        model: the model name sent to it.
        chat: whether ``url`` is the chat API.
    """

    __slots__ = ("_key", "_forms", "_used", "_rejected")

    def __init__(self, url: str, model: str, *, chat: bool) -> None:
        self._key = (url, model)
        self._forms = CHAT_FORMS if chat else COMPLETION_FORMS
        self._used: str | None = None
        self._rejected: dict[str, int] = {}

    def order(self) -> list[Form]:
        """The forms to try: the one that last worked on this server first, then the rest."""
        learnt = _LEARNT.get(self._key)
        first = [f for f in self._forms if f.name == learnt]
        return first + [f for f in self._forms if f.name != learnt]

    def rejected(self, form: Form, status: int) -> None:
        """Record that the server refused ``form`` with HTTP ``status``."""
        self._rejected[form.name] = status

    def accepted(self, form: Form) -> None:
        """Record that ``form`` worked; later calls (of any provider object) try it first."""
        self._used = form.name
        _LEARNT[self._key] = form.name

    def notes(self) -> dict[str, Any]:
        """``{"structured_output": form}`` once a structured call succeeded, and the forms the
        server refused (``{"structured_output_rejected": {form: status}}``)."""
        notes: dict[str, Any] = {}
        if self._used is not None:
            notes["structured_output"] = self._used
        if self._rejected:
            notes["structured_output_rejected"] = dict(self._rejected)
        return notes
