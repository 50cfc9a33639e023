"""Masking secrets in URLs and free text, before anything is stored or printed.

A secret given on the command line (``-M base_url=http://user:KEY@host/v1``,
``...?api-key=KEY``, ``--store postgresql://user:PASSWORD@db/evals``) is still *used*: the
provider or the store reads the original. Only what is stored (run arguments, errors) and what
is printed (messages, tables, pages) goes through this module. What it masks, with ``***``:

- **userinfo** of a URL: the user name is kept and the password masked
  (``http://user:***@host``), so a message still says which account was used; a userinfo
  without a password is itself a token (``https://TOKEN@host``) and is masked whole
  (``https://***@host``).
- **query and fragment parameters** whose names look secret (``key``, ``api-key``,
  ``api_key``, ``apikey``, ``x-api-key``, ``token``, ``access_token``, ``sig``,
  ``signature``, ``secret``, ``password``, ``pass``, ``auth``, ``code``, ...; compared
  case-insensitively with ``-`` and ``_`` ignored, and any name ending in ``token``,
  ``secret``, ``password``, ``signature``, ``credential`` or ``apikey``): the value becomes
  ``***``, the name stays.
- in free text, besides every URL in it: ``Bearer``/``Basic`` credentials, well-known API-key
  shapes (``sk-...``, ``ghp_...``, ``hf_...``, ``xoxb-...``, ``AIza...``; the prefix is kept)
  and ``name=value`` or quoted ``"name": "value"`` pairs with a secret-looking name.

It is a safety net, not a proof: a secret in a URL path (some webhook URLs) or one written as
prose is not recognised. Every function is pure and leaves text without secrets unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

MASK = "***"

_SECRET_NAMES = frozenset({
    "key", "apikey", "xapikey", "token", "accesstoken", "refreshtoken", "idtoken",
    "authtoken", "sig", "signature", "secret", "clientsecret", "password", "passwd", "pass",
    "pwd", "auth", "authorization", "code", "credential", "credentials", "session",
    "sessionid", "subscriptionkey", "accesskey", "secretkey", "privatekey",
})
_SECRET_ENDINGS = ("token", "secret", "password", "signature", "credential", "apikey")
# Names too common in prose ("exit code=1") to mask as a bare ``name=value`` outside a URL.
_PROSE_NAMES = frozenset({"key", "code", "pass", "auth", "session", "sessionid", "sig"})

_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s<>"'`]+""")
_TRAILING = ".,;:!?)]}"
_BEARER = re.compile(r"\b(Bearer|Basic)(\s+)(?=[A-Za-z0-9._~+/=-]*[\d=])[A-Za-z0-9._~+/=-]{8,}")
_KEY_SHAPES = re.compile(
    r"\b(sk-|rk-|ghp_|gho_|ghu_|ghs_|github_pat_|hf_|xox[abprs]-|glpat-|AIza)"
    r"(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{8,}"
)
_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_PAIR = re.compile(rf"(?<![A-Za-z0-9_-])({_NAME})=([^\s&\"'<>,;)\]}}]+)")
# Anything the patterns below could match starts with one of these; most text has none.
_TRIGGER = re.compile(
    r"://|=|Bearer|Basic|sk-|rk-|gh[opsu]_|github_pat_|hf_|xox|glpat-|AIza|[\"']\s*:"
)
_QUOTED_PAIR = re.compile(rf"""(["'])({_NAME})\1(\s*:\s*)(["'])(.*?)\4""")


def is_secret_name(name: str) -> bool:
    """Whether a parameter or argument named ``name`` holds a secret.

    Examples:
        >>> [is_secret_name(n) for n in ("api-key", "X-Api-Key", "access_token", "model")]
        [True, True, True, False]
    """
    norm = name.lower().replace("-", "").replace("_", "")
    return norm in _SECRET_NAMES or norm.endswith(_SECRET_ENDINGS)


def _userinfo(info: str) -> str:
    user, colon, password = info.partition(":")
    if not colon:
        return MASK if user else info
    return f"{user}:{MASK}" if password else info


def _params(text: str) -> str:
    """``a=1&key=2`` with the values of secret-looking names masked."""
    parts = text.split("&")
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq and value and is_secret_name(unquote_plus(name)):
            parts[i] = f"{name}={MASK}"
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` with its password (or bare-token userinfo) and secret query values masked.

    Anything that is not a ``scheme://`` URL is returned unchanged.

    Examples:
        >>> redact_url("http://user:sk-123@127.0.0.1:8000/v1")
        'http://user:***@127.0.0.1:8000/v1'
        >>> redact_url("https://ghp_abc@github.com/o/r.git")
        'https://***@github.com/o/r.git'
        >>> redact_url("https://x.example/v1?api-version=2024-06&API_KEY=s3cr3t#access_token=t")
        'https://x.example/v1?api-version=2024-06&API_KEY=***#access_token=***'
        >>> redact_url("http://127.0.0.1:8000/v1")
        'http://127.0.0.1:8000/v1'
        >>> redact_url("not a url")
        'not a url'
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return url
    # The authority ends at the first "/", "?" or "#". A password with an unencoded "/" (a
    # base64 key, say) would end it early, so an "@" later in the same path segment run still
    # counts when what precedes it looks like "user:password", not "host:port".
    head = re.split(r"[?#]", rest, maxsplit=1)[0]
    end = len(re.split(r"[/?#]", rest, maxsplit=1)[0])
    at = head.rfind("@", 0, end)
    if at == -1 and "@" in head:
        _, colon, after = head[:end].partition(":")
        if colon and after and not after.isdigit():
            at = head.rfind("@")
    if at != -1:
        rest = _userinfo(rest[:at]) + rest[at:]
    path, qmark, query = rest.partition("?")
    query, hash_, fragment = query.partition("#")
    if not qmark:
        path, hash_, fragment = path.partition("#")
    out = f"{scheme}://{path}"
    if qmark:
        out += "?" + _params(query)
    if hash_:
        out += "#" + _params(fragment)
    return out


def url_secrets(url: str) -> list[str]:
    """The secret values that ``redact_url`` would mask in ``url`` (for blanking them where
    they might be echoed verbatim, such as a model's output).

    Examples:
        >>> url_secrets("http://user:sk-123@h/v1?api-key=k9&model=m")
        ['sk-123', 'k9']
        >>> url_secrets("http://127.0.0.1:8000/v1")
        []
    """
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if parts.password:
        found.append(unquote(parts.password))
    elif parts.username and "@" in parts.netloc:
        found.append(unquote(parts.username))
    for text in (parts.query, parts.fragment):
        found += [value for name, value in parse_qsl(text) if value and is_secret_name(name)]
    return found


def _url_match(match: re.Match[str]) -> str:
    url = match.group()
    tail = len(url) - len(url.rstrip(_TRAILING))
    if tail:
        return redact_url(url[:-tail]) + url[-tail:]
    return redact_url(url)


def _pair_match(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if value == MASK or not _is_prose_secret(name):
        return match.group()
    return f"{name}={MASK}"


def _is_prose_secret(name: str) -> bool:
    norm = name.lower().replace("-", "").replace("_", "")
    return norm not in _PROSE_NAMES and is_secret_name(name)


def _quoted_match(match: re.Match[str]) -> str:
    quote, name, colon, vquote, value = match.groups()
    if not value or value == MASK or not _is_prose_secret(name):
        return match.group()
    return f"{quote}{name}{quote}{colon}{vquote}{MASK}{vquote}"


def redact_text(text: str) -> str:
    """``text`` (an error message, a response excerpt) with every secret this module knows masked.

    Examples:
        >>> redact_text("POST http://u:pw1@h:8000/v1/chat/completions failed: refused.")
        'POST http://u:***@h:8000/v1/chat/completions failed: refused.'
        >>> redact_text("Incorrect API key provided: sk-proj-abc123XYZ.")
        'Incorrect API key provided: sk-***.'
        >>> redact_text("headers {'Authorization': 'Bearer eyJ0eXAi.x1'} api_key=k9 max_tokens=5")
        "headers {'Authorization': '***'} api_key=*** max_tokens=5"
        >>> redact_text("Basic authentication failed")
        'Basic authentication failed'
    """
    if not _TRIGGER.search(text):
        return text
    if "://" in text:
        text = _URL.sub(_url_match, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _KEY_SHAPES.sub(lambda m: f"{m.group(1)}{MASK}", text)
    if "=" in text:
        text = _PAIR.sub(_pair_match, text)
    if ":" in text:
        text = _QUOTED_PAIR.sub(_quoted_match, text)
    return text


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value with ``redact_text`` applied to every string in it (keys
    are kept: dropping secret-named arguments is ``core.provider.public_args``'s job).

    Examples:
        >>> redact_value({"base_url": "http://u:p@h/v1", "n": 3, "tags": ["x", "token=t1"]})
        {'base_url': 'http://u:***@h/v1', 'n': 3, 'tags': ['x', 'token=***']}
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value
