"""Shared plumbing for the HTTP providers: per-loop clients, JSON, errors, argument checks.

Every provider keeps its HTTP client in a ``PerLoop`` (``SessionPool`` for aiohttp): one
client per event loop, created on first use and closed with the loop, so a provider object
survives being used from several ``asyncio.run`` calls. Failures become ``ProviderError``
with ``retryable`` and ``retry_after`` filled in; the runner decides whether and when to
retry.

Error messages carry the HTTP status and a short excerpt of the body, with every secret the
provider knows replaced by ``***``, and whatever else looks secret (a URL's password or
``?api-key=`` value, a ``Bearer`` token, an ``sk-...`` key) masked by ``core.redact``.
Request headers never appear in them.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import json
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import aiohttp

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.redact import is_secret_name, redact_text, redact_url

try:  # orjson is optional; it roughly halves JSON time on large bodies.
    import orjson as _orjson
except ImportError:
    _orjson = None


def _std_dumps(obj: Any) -> bytes:
    # ASCII escapes let lone surrogates through, which orjson and UTF-8 refuse.
    return json.dumps(obj, separators=(",", ":")).encode()


if _orjson is not None:
    _fast_dumps = _orjson.dumps

    def dumps(obj: Any) -> bytes:
        """``obj`` as compact JSON bytes."""
        try:
            dumped: bytes = _fast_dumps(obj)
            return dumped
        except TypeError:
            return _std_dumps(obj)

    loads = _orjson.loads
else:
    dumps = _std_dumps
    loads = json.loads

T = TypeVar("T")

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

# Statuses where the same request may succeed later; every other 4xx is the caller's fault.
RETRYABLE_STATUSES = frozenset({408, 409, 429})

# A safety bound on a response body, far above any real completion (the output text itself
# is capped separately, at ``max_output_chars``).
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024

_EXCERPT_CHARS = 300
_HINTS = {
    400: "the server rejected the request; check the model arguments",
    401: "check the API key",
    403: "the API key lacks permission for this model or endpoint",
    404: "check base_url and the model name",
    413: "the request is too large for the server",
    422: "the server rejected the request; check the model arguments",
    429: "rate limited; the runner retries after the advised delay",
}


class PerLoop(Generic[T]):
    """One object (an HTTP client) per event loop: created on first use, closed with the loop.

    A provider may be used from several ``asyncio.run`` calls, and an HTTP client belongs to
    the loop it was created on. Each object is closed by ``aclose()`` on its loop or, when a
    caller forgets, by the loop's own shutdown: a parked async generator holds the object, and
    ``asyncio.run`` closes every async generator (``loop.shutdown_asyncgens``) before it
    closes the loop, which runs the generator's ``finally``.

    Args:
        create: builds the object; called on the loop that will use it.
        close: closes the object.
    """

    __slots__ = ("_create", "_close", "_items", "_last_loop", "_last")

    def __init__(self, create: Callable[[], T], close: Callable[[T], Awaitable[object]]) -> None:
        self._create = create
        self._close = close
        self._items: dict[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = {}
        self._last_loop: asyncio.AbstractEventLoop | None = None
        self._last: T | None = None

    def get(self) -> T:
        """The running loop's object, created on first use."""
        loop = asyncio.get_running_loop()
        if loop is self._last_loop:
            return self._last  # type: ignore[return-value]
        entry = self._items.get(loop)
        if entry is None:
            for dead in [lp for lp in self._items if lp.is_closed()]:
                del self._items[dead]
            obj = self._create()
            guard = self._guard(loop, obj)
            try:  # run the generator to its yield: this registers it with the loop
                guard.asend(None).send(None)
            except StopIteration:
                pass
            entry = self._items[loop] = (obj, guard)
        self._last_loop, self._last = loop, entry[0]
        return entry[0]

    async def _guard(self, loop: asyncio.AbstractEventLoop, obj: T) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self._items.get(loop, (None,))[0] is obj:
                del self._items[loop]
            if self._last_loop is loop:
                self._last_loop = self._last = None
            await self._close(obj)

    async def aclose(self) -> None:
        """Close the running loop's object, if it has one."""
        entry = self._items.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()


class SessionPool(PerLoop[aiohttp.ClientSession]):
    """One keep-alive ``aiohttp.ClientSession`` per event loop, created lazily.

    Args:
        headers: default headers of every request (auth headers belong here, not in calls).
        timeout: seconds allowed for a whole request, including reading the body.
        limit: the connector's connection limit; the runner bounds concurrency itself, so this
            only needs to be above it.
    """

    __slots__ = ()

    def __init__(self, *, headers: Mapping[str, str], timeout: float, limit: int = 1024) -> None:
        headers = dict(headers)

        def create() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=limit, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300
                ),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                trust_env=False,
            )

        super().__init__(create, lambda session: session.close())


async def read_body(resp: aiohttp.ClientResponse, limit: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """The whole response body; raises ``ProviderError`` when it is larger than ``limit``."""
    length = resp.content_length
    if length is not None:
        if length > limit:
            raise _too_large(resp.status, limit)
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(resp.status, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(status: int, limit: int) -> ProviderError:
    return ProviderError(
        f"The response body (HTTP {status}) is larger than {limit} bytes; expected a JSON "
        "completion. Check that base_url points at a model API.",
        retryable=False,
        status=status,
    )


def is_retryable_status(status: int) -> bool:
    """Whether a request that got HTTP ``status`` may succeed when sent again."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date.

    Examples:
        >>> parse_retry_after("2")
        2.0
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
        10.0
        >>> parse_retry_after("soon") is None
        True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite: ignore
        return None
    return max(0.0, seconds)


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """The advised delay from ``retry-after-ms`` (OpenAI) or ``Retry-After`` headers."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with each non-empty secret replaced by ``***``, then ``core.redact.redact_text``.

    Examples:
        >>> redact("at http://u:pw@h/v1?key=k2 with k3", ["k3"])
        'at http://u:***@h/v1?key=*** with ***'
    """
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return redact_text(text)


def excerpt(
    body: bytes | str, secrets: Iterable[str | None] = (), limit: int = _EXCERPT_CHARS
) -> str:
    """A one-line, secret-free start of a response body for an error message."""
    if isinstance(body, bytes):
        body = body[:65536].decode("utf-8", "replace")
    else:
        body = body[:65536]
    text = " ".join(redact(body, secrets).split())
    return text if len(text) <= limit else text[:limit] + "..."


def status_error(
    status: int,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    label: str,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """A ``ProviderError`` for an HTTP error response.

    Args:
        status: the HTTP status.
        body: the response body (only a short excerpt is kept).
        headers: the response headers (for ``Retry-After``).
        label: what was called, e.g. ``"openai/gpt-4o at http://host/v1/chat/completions"``.
        secrets: values to blank out of the message.
    """
    secrets = tuple(secrets)
    retryable = is_retryable_status(status)
    hint = _HINTS.get(status) or ("a server-side error; retrying may help" if retryable else "")
    detail = excerpt(body, secrets) or "(empty body)"
    message = f"{redact(label, secrets)} failed with HTTP {status}: {detail}"
    if hint:
        message += f" ({hint})"
    return ProviderError(
        message,
        retryable=retryable,
        retry_after=retry_after_from_headers(headers) if retryable else None,
        status=status,
    )


def exception_error(
    exc: BaseException, *, label: str, timeout: float, secrets: Iterable[str | None] = ()
) -> ProviderError:
    """A ``ProviderError`` for a transport failure: timeouts and connection errors retry."""
    secrets = tuple(secrets)
    where = redact(label, secrets)
    if isinstance(exc, TimeoutError):
        return ProviderError(
            f"{where} timed out: no complete response within {timeout:g} s. "
            "Raise the timeout= model argument if the model is slow.",
            retryable=True,
        )
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, aiohttp.InvalidURL):
        return ProviderError(
            f"{where} failed: {detail}. Expected base_url like http://host:port/v1.",
            retryable=False,
        )
    if isinstance(exc, aiohttp.ClientConnectionError):
        return ProviderError(
            f"{where} failed to connect or lost the connection: {detail}. "
            "Check that the server is running and base_url is right.",
            retryable=True,
        )
    return ProviderError(f"{where} failed: {detail}", retryable=True)


def bad_json_error(body: bytes, *, label: str, secrets: Iterable[str | None] = ()) -> ProviderError:
    """A ``ProviderError`` for a success status whose body is not the expected JSON."""
    secrets = tuple(secrets)
    return ProviderError(
        f"{redact(label, secrets)} returned a body that is not the expected JSON completion: "
        f"{excerpt(body, secrets) or '(empty body)'}. Check that base_url points at an "
        "OpenAI-compatible API (it usually ends in /v1).",
        retryable=False,
        status=200,
    )


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A ``base_url`` taken apart: where requests go, and the credentials it carried.

    ``http://user:pw@host/v1?api-key=k`` sends every request to ``http://host/v1/...?api-key=k``
    with ``Authorization: Basic`` for ``user:pw``; ``shown`` is what messages and the stored
    identity say (``http://host/v1?api-key=***``, the user and password left out).

    Attributes:
        root: scheme, host, port and path, without userinfo, query or a trailing ``/``.
        query: the query string, sent with every request ("" for none).
        user / password: the userinfo, percent-decoded; ``None`` when there was none.

    Examples:
        >>> e = parse_endpoint("http://me:s3cret@127.0.0.1:8000/v1/?api-key=k1", "openai/m")
        >>> e.url("/chat/completions"), e.shown
        ('http://127.0.0.1:8000/v1/chat/completions?api-key=k1', 'http://127.0.0.1:8000/v1?api-key=***')
        >>> e.authorization(), sorted(e.secrets())
        ('Basic bWU6czNjcmV0', ['Basic bWU6czNjcmV0', 'bWU6czNjcmV0', 'k1', 's3cret'])
    """

    root: str
    query: str = ""
    user: str | None = None
    password: str | None = None

    def url(self, suffix: str = "") -> str:
        """The request URL of ``suffix`` (e.g. ``"/models"``), with the query string."""
        return self.root + suffix + (f"?{self.query}" if self.query else "")

    @property
    def shown(self) -> str:
        """The endpoint as stored and printed: no userinfo, secret query values masked."""
        return redact_url(self.url())

    def authorization(self) -> str | None:
        """The ``Authorization`` header the userinfo stands for, if there was one."""
        if not self.user and not self.password:
            return None
        pair = f"{self.user or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        """Values to blank out of messages: the password (or a bare-token user), the encoded
        credentials, and the values of secret-looking query parameters."""
        found: list[str] = []
        if self.password:
            found.append(self.password)
        elif self.user:
            found.append(self.user)
        header = self.authorization()
        if header:
            found += [header, header.split(" ", 1)[1]]
        found += [v for k, v in parse_qsl(self.query) if v and is_secret_name(k)]
        return tuple(found)


def parse_endpoint(base_url: str, provider: str, example: str = "http://127.0.0.1:8000/v1"
                   ) -> Endpoint:
    """``base_url`` as an ``Endpoint``.

    Raises:
        ConfigError: not an http(s) URL with a host; the message shows it with its secrets
            masked.
    """
    try:
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        if ok:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok or parts is None:
        shown = redact_text(repr(base_url))
        raise ConfigError(
            f"{provider}: expected base_url to be an http(s) URL such as {example}, got {shown}."
        )
    host = parts.netloc.rpartition("@")[2]
    root = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    has_info = "@" in parts.netloc
    return Endpoint(
        root=root,
        query=parts.query,
        user=unquote(parts.username) if has_info and parts.username is not None else None,
        password=unquote(parts.password) if has_info and parts.password is not None else None,
    )


def positive_arg(provider: str, arg: str, value: Any, kind: type) -> Any:
    """``value`` as a positive ``kind`` (``int`` or ``float``); strings from the CLI convert.

    Raises:
        ConfigError: naming the provider, the argument, and the value received.
    """
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if (number is None or not math.isfinite(number) or number <= 0
            or (kind is int and isinstance(value, float))):
        unit = "a positive number of seconds" if arg == "timeout" else "a positive integer"
        raise ConfigError(f"{provider}: expected {arg} to be {unit}, got {value!r}.")
    return number
