"""A small Python helper for apps that do not use OpenTelemetry: log interactions and
feedback to ``evalstack serve``.

    from evalstack.production.client import Client

    client = Client("http://127.0.0.1:8766")          # the key from $EVALSTACK_INGEST_KEY
    trace = client.log("Where is my order?", "It ships tomorrow.", model="gpt-4o-mini",
                       latency_ms=840, conversation_id="c-17", user_id="u-3")
    client.feedback("thumbs", trace_id=trace, value=1, label="up")
    client.feedback("resolved", conversation_id="c-17")

Each call is one JSON POST (standard library only), refused with ``IngestRejected`` (the
server's status and message) when the server says no. The key is sent as a bearer token and
never logged.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from evalstack.core.errors import UserError

KEY_ENV = "EVALSTACK_INGEST_KEY"


class IngestRejected(UserError):
    """The server refused an ingest request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"evalstack serve refused the request (HTTP {status}): {message}")
        self.status = status


class Client:
    """Logs interactions and feedback to one ``evalstack serve``.

    Args:
        url: the server's base URL (``http://127.0.0.1:8766``).
        key: the project's ingest key (default: ``$EVALSTACK_INGEST_KEY``).
        timeout: seconds per request.
    """

    def __init__(self, url: str, key: str | None = None, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._key = key or os.environ.get(KEY_ENV)
        if not self._key:
            raise UserError(f"No ingest key: pass key=... or set {KEY_ENV} (evalstack serve "
                            "--new-project NAME prints one).")
        self.timeout = timeout

    def __repr__(self) -> str:  # never the key
        return f"Client({self.url!r})"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + path, json.dumps(body, default=_default).encode("utf-8"),
            {"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                result: dict[str, Any] = json.loads(reply.read())
                return result
        except urllib.error.HTTPError as exc:
            try:
                message = str(json.loads(exc.read()).get("error", exc.reason))
            except ValueError:
                message = str(exc.reason)
            raise IngestRejected(exc.code, message) from None

    def log(self, input: str | list[dict[str, str]], output: str | list[dict[str, str]],
            **fields: Any) -> str:
        """Log one interaction; returns its trace id. ``fields``: ``model``,
        ``latency_ms``, ``input_tokens``, ``output_tokens``, ``cost_usd``,
        ``conversation_id``, ``user_id``, ``trace_id``, ``started_at``, ``metadata``."""
        reply = self._post("/api/ingest/interactions",
                           {"interactions": [{"input": input, "output": output, **fields}]})
        return str(reply["trace_ids"][0])

    def feedback(self, name: str, **fields: Any) -> str:
        """Record feedback or an outcome (``thumbs``, ``resolved``, ``escalated``, a custom
        name); ``fields``: ``trace_id``, ``conversation_id``, ``user_id``, ``value``,
        ``label``, ``at``, ``metadata``. Returns the event's id."""
        reply = self._post("/api/ingest/feedback", {"events": [{"name": name, **fields}]})
        return str(reply["ids"][0])


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
