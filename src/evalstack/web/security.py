"""The viewer's guards: Host and Origin checks, an access token off loopback, strict headers.

``Guard`` is a plain ASGI middleware, so it sees every request before any route:

- **Host**: the ``Host`` header must name this machine as the viewer is reachable: a
  loopback name or address for a loopback bind; for a network bind (``0.0.0.0``, ``::`` or
  one address), the bound address, the machine's host names and its own addresses, plus any
  ``--allow-host`` name (a reverse proxy's). Any other name is a 421. This stops
  DNS-rebinding pages from reading the store.
- **Origin**: a request that can change state (anything but GET, HEAD and OPTIONS) must come
  from a page of the viewer itself.
- **Token**: when the viewer listens beyond loopback, every request must carry the access
  token (at least ``MIN_TOKEN_CHARS`` characters), as ``?token=`` once (then a cookie) or an
  ``Authorization: Bearer`` header.
- **Headers**: a Content-Security-Policy without inline scripts or styles, ``nosniff``, no
  referrer to other sites, no framing.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from evalstack.core.errors import ConfigError

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
#: The shortest access token accepted: a short one can be guessed over the network.
MIN_TOKEN_CHARS = 16
_WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})
# Documentation addresses (RFC 5737, RFC 3849): "connecting" a UDP socket to one sends nothing
# but makes the kernel pick the source address of the default route.
_ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))
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


def check_token(token: str | None) -> str | None:
    """``token`` if it is long enough to guard the viewer on a network.

    Raises:
        ConfigError: a token shorter than ``MIN_TOKEN_CHARS``; says how to make a good one.

    Examples:
        >>> check_token(None), check_token("x" * 16) == "x" * 16
        (None, True)
    """
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"Expected an access token of at least {MIN_TOKEN_CHARS} characters (from --token "
            f"or $EVALSTACK_VIEW_TOKEN), got one of {len(token)}: a short token can be guessed. "
            "Leave it out to get a random one, or make one with: "
            "python -c \"import secrets; print(secrets.token_urlsafe(24))\""
        )
    return token


def machine_names() -> frozenset[str]:
    """This machine's host names and addresses, as a browser elsewhere may put them in a URL.

    The host name and fully qualified name, what they resolve to (``gethostbyname_ex``,
    ``getaddrinfo``), and the source address of the default route, IPv4 and IPv6. Lookups
    that fail are skipped; nothing is sent on the network.
    """
    names: set[str] = set()
    hostname = socket.gethostname()
    for name in {hostname, socket.getfqdn(hostname)}:
        if not name:
            continue
        names.add(name)
        try:
            canonical, aliases, addresses = socket.gethostbyname_ex(name)
            names |= {canonical, *aliases, *addresses}
        except OSError:
            pass
        try:
            names |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    for family, probe in _ROUTE_PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                names.add(str(sock.getsockname()[0]))
        except OSError:
            pass
    return frozenset(n.split("%", 1)[0].lower() for n in names if n)


def primary_address() -> str | None:
    """The address other machines most likely reach this one at (the default route's)."""
    for family, probe in _ROUTE_PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                address = str(sock.getsockname()[0])
        except OSError:
            continue
        if not is_loopback(address):
            return address
    return None


def host_form(name: str) -> str:
    """``name`` as written in a URL or ``Host`` header: IPv6 addresses in brackets.

    Examples:
        >>> host_form("fd00::2"), host_form("[::1]"), host_form("vm")
        ('[fd00::2]', '[::1]', 'vm')
    """
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def _allow_host(value: str, port: int) -> set[str]:
    """An ``--allow-host`` value as Host values: ``NAME`` allows ``NAME`` (a proxy on its
    scheme's default port) and ``NAME:PORT``; ``NAME:N`` allows exactly that."""
    name = value.strip().lower()
    bad = not name or any(c in name for c in "/@?# ") or "://" in name
    if not bad and ":" in name and not name.startswith("["):
        host, _, given = name.rpartition(":")
        if given.isdigit() and ":" not in host:
            return {name}
        return {f"[{name}]", f"[{name}]:{port}"}  # a bare IPv6 address
    if not bad and name.startswith("["):
        if name.endswith("]"):
            return {name, f"{name}:{port}"}
        if "]:" in name and name.rpartition("]:")[2].isdigit():
            return {name}
        bad = True
    if bad:
        raise ConfigError(
            f"Expected --allow-host to be a host name as a browser sends it, such as "
            f"proxy.example or proxy.example:8443, got {value!r}."
        )
    return {name, f"{name}:{port}"}


def allowed_hosts(host: str, port: int, extra: Iterable[str] = (), *,
                  names: Iterable[str] | None = None) -> frozenset[str]:
    """The ``Host`` header values a viewer bound to ``host:port`` accepts.

    Args:
        host / port: the address the viewer is bound to.
        extra: more names (``--allow-host``), e.g. a reverse proxy's; see ``_allow_host``.
        names: this machine's names and addresses; default ``machine_names()``, looked up
            only for a network bind.

    On port 80 a browser leaves the port out, so the bare names are accepted too.

    Examples:
        >>> sorted(allowed_hosts("127.0.0.1", 8765))
        ['127.0.0.1:8765', '[::1]:8765', 'localhost:8765']
        >>> sorted(allowed_hosts("0.0.0.0", 8765, ["proxy.example"], names=["vm", "fd00::2"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        ['0.0.0.0:8765', '127.0.0.1:8765', '[::1]:8765', '[fd00::2]:8765', 'localhost:8765',
         'proxy.example', 'proxy.example:8765', 'vm:8765']
    """
    bound = host.strip("[]")
    found = {bound} if bound else set()
    if is_loopback(bound) or bound in _WILDCARDS:
        found |= {"127.0.0.1", "localhost", "::1"}
    if not is_loopback(bound):
        found |= set(machine_names() if names is None else names)
    forms = {host_form(n.lower()) for n in found}
    accepted = {f"{n}:{port}" for n in forms} | (forms if port == 80 else set())
    for value in extra:
        accepted |= _allow_host(value, port)
    return frozenset(accepted)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
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
                                    "at the address it printed, or, behind a proxy, start it "
                                    "with --allow-host NAME.")
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
