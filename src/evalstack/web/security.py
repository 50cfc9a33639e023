"""The viewer's guards: Host and Origin checks, an access token off loopback, strict headers.

``Guard`` is a plain ASGI middleware, so it sees every request before any route:

- **Host**: the ``Host`` header must name the address the viewer is bound to (or
  ``localhost`` for a loopback bind). This stops DNS-rebinding pages from reading the store.
- **Origin**: a request that can change state (anything but GET, HEAD and OPTIONS) must come
  from a page of the viewer itself.
- **Token**: when the viewer listens beyond loopback, every request must carry the access
  token, as ``?token=`` once (then a cookie) or an ``Authorization: Bearer`` header.
- **Headers**: a Content-Security-Policy without inline scripts or styles, ``nosniff``, no
  referrer to other sites, no framing.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: No inline script or style, nothing from other origins, no plugins, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer the browser sends "Origin: null" on the
    # viewer's own form posts, and the Origin check could not tell them from a forgery
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
TOKEN_COOKIE = "evalstack_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only.

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` header values a viewer bound to ``host:port`` accepts.

    Examples:
        >>> sorted(allowed_hosts("127.0.0.1", 8765))
        ['127.0.0.1:8765', '[::1]:8765', 'localhost:8765']
    """
    names = {host}
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    elif ":" in host and not host.startswith("["):
        names = {f"[{host}]"}
    return frozenset(f"{name}:{port}" for name in names)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


class Guard:
    """Wraps an ASGI app with the checks in the module docstring.

    Args:
        app: the application.
        hosts: accepted ``Host`` header values (``allowed_hosts``).
        token: the access token; ``None`` when bound to loopback only.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str], token: str | None = None) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = (_header(scope, b"host") or "").lower()
        if host not in self.hosts:
            await _plain(send, 421, "Misdirected request: unknown Host header. Open the viewer "
                                    "at the address it printed.")
            return
        if scope["method"] not in _SAFE_METHODS:
            origin = _header(scope, b"origin")
            if origin is None or urlsplit(origin).netloc.lower() not in self.hosts:
                await _plain(send, 403, "Forbidden: this request did not come from the viewer's "
                                        "own pages (Origin check).")
                return
        if self.token is not None:
            verdict = self._check_token(scope)
            if verdict == "redirect":
                await self._redirect_with_cookie(scope, send)
                return
            if verdict == "deny":
                await _plain(send, 401, "Unauthorized: open the viewer with the ?token=... URL "
                                        "it printed, or send Authorization: Bearer TOKEN.")
                return
        await self.app(scope, receive, _with_headers(send))

    def _check_token(self, scope: Scope) -> str:
        assert self.token is not None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token", [None])[0]
        if given is not None and hmac.compare_digest(given, self.token):
            return "redirect"
        auth = _header(scope, b"authorization") or ""
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:], self.token):
            return "ok"
        cookie = SimpleCookie(_header(scope, b"cookie") or "")
        morsel = cookie.get(TOKEN_COOKIE)
        if morsel is not None and hmac.compare_digest(morsel.value, self.token):
            return "ok"
        return "deny"

    async def _redirect_with_cookie(self, scope: Scope, send: Send) -> None:
        """Trade ``?token=`` for a cookie, so the token leaves the address bar and history."""
        query = [(k, v) for k, vs in parse_qs(scope.get("query_string", b"").decode()).items()
                 for v in vs if k != "token"]
        location = scope.get("path", "/") + (f"?{urlencode(query)}" if query else "")
        cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode()), (b"set-cookie", cookie.encode()),
            *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": b""})


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            message["headers"] = [*message.get("headers", []),
                                  *(h for h in SECURITY_HEADERS if h[0] not in names)]
        await send(message)

    return wrapped


async def _plain(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": text.encode()})
