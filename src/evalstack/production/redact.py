"""Redacting personal data from trace text before it leaves the store as an eval dataset.

A documented pattern set, each pattern checked the way its kind is checked in the field,
plus Google's ``phonenumbers`` (the ``production`` extra) for phone numbers. Each find is
replaced by a typed placeholder and counted per kind:

=============== ================= ==========================================================
kind            placeholder       what is found, and how it is checked
=============== ================= ==========================================================
``credentials`` ``<CREDENTIALS>`` the ``user:password`` of a URL (``https://u:p@host``); the
                                  rest of the URL is kept
``email``       ``<EMAIL>``       ``local@domain.tld`` (ASCII local part and domain labels)
``iban``        ``<IBAN>``        two letters, two check digits and the BBAN, spaced in fours
                                  or not; the length must be the country's and the ISO 13616
                                  mod-97 check must give 1
``card``        ``<CARD>``        13 to 19 digits, unbroken or grouped as cards are printed
                                  (4 digits, then groups of 4-6, the last 3-6; single spaces
                                  or dashes between), starting 2-6 (Mastercard, Amex,
                                  Diners, JCB, Visa, Discover, UnionPay, Maestro), passing
                                  the Luhn check, and not the digits of IBAN-shaped text
                                  that failed its check
``ssn``         ``<SSN>``         a US social security number written ``AAA-GG-SSSS`` (or
                                  with spaces), without the never-issued areas 000, 666 and
                                  900-999, group 00 or serial 0000
``ip``          ``<IP>``          IPv4 and IPv6 addresses, validated by ``ipaddress``
``phone``       ``<PHONE>``       ``phonenumbers.PhoneNumberMatcher`` at leniency ``VALID``:
                                  numbers in international form (``+44 ...``) for any
                                  country, national forms for the default region
=============== ================= ==========================================================

Where two finds overlap, the earlier kind in that table wins (``https://u:p@host`` is
credentials, not an e-mail ``p@host``; a card number is never also a phone number).

Known limits, on purpose: a version string of four small numbers (``1.2.3.4``) *is* a valid
IPv4 address and is redacted (``v1.2.3.4``, its letter attached, is not); a 16-digit order
number that starts with 2-6 and happens to pass Luhn (one in ten) is taken for a card, and so
can a list of four-digit numbers; SSNs written as nine bare digits, names, postal addresses
and personal data written as prose are not recognised. A placeholder is never matched again,
so redacting twice gives the same text.

Examples:
    >>> r = redact("Mail ann@example.com or call (650) 253-0000.")
    >>> r.text, r.counts
    ('Mail <EMAIL> or call <PHONE>.', {'email': 1, 'phone': 1})
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from evalstack.core.errors import ConfigError, MissingDependencyError

#: Every kind, in the order that wins when two finds overlap.
KINDS: tuple[str, ...] = ("credentials", "email", "iban", "card", "ssn", "ip", "phone")
ALL: frozenset[str] = frozenset(KINDS)
PLACEHOLDERS: dict[str, str] = {k: f"<{k.upper()}>" for k in KINDS}

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted text and how many finds of each kind were replaced (kinds found only)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


_CREDENTIALS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://([^\s/?#@:<>\"']+:[^\s/?#@<>\"']*)@")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])"
)
_DIGIT_RUN = re.compile(r"(?<![\w-])\d+(?:[ -]\d+)*(?![\w])")
_SSN = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w]|-\d)")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\w)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})")
_IBAN_HEAD = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})\d{2} ?$")

# ISO 13616 IBAN lengths by country (the SWIFT IBAN registry).
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check of payment card numbers.

    Examples:
        >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
        (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """Whether an IBAN (spaces allowed) has its country's length and passes ISO 13616 mod 97.

    Examples:
        >>> iban_ok("DE89 3704 0044 0532 0130 00"), iban_ok("DE89 3704 0044 0532 0130 01")
        (True, False)
    """
    compact = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _credentials(text: str, region: str) -> Iterator[Span]:
    for m in _CREDENTIALS.finditer(text):
        yield m.span(1)


def _emails(text: str, region: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _ibans(text: str, region: str) -> Iterator[Span]:
    for m in _IBAN_START.finditer(text):
        want = _IBAN_LENGTHS.get(m.group(1))
        if want is None:
            continue
        # read on through letters, digits and single spaces until the country's length
        i, n = m.end(), 4
        while n < want and i < len(text):
            if text[i].isascii() and text[i].isalnum():
                n += 1
            elif not (text[i] == " " and i + 1 < len(text) and text[i + 1].isalnum()):
                break
            i += 1
        if n == want and not (i < len(text) and text[i].isalnum()):
            if iban_ok(text[m.start():i]):
                yield m.start(), i


def _cards(text: str, region: str) -> Iterator[Span]:
    for run in _DIGIT_RUN.finditer(text):
        before = _IBAN_HEAD.search(text, max(0, run.start() - 5), run.start())
        if before and before.group(1) in _IBAN_LENGTHS:
            continue  # the digits of an IBAN-shaped text that failed its check: not a card
        groups = [(g.start() + run.start(), g.end() + run.start(), g.group())
                  for g in re.finditer(r"\d+", run.group())]
        i = 0
        while i < len(groups):
            found = None
            digits = ""
            for j in range(i, len(groups)):
                size = len(groups[j][2])
                digits += groups[j][2]
                if len(digits) > 19 or (j > i and (len(groups[i][2]) != 4 or size > 6)):
                    break
                # grouped as cards are printed: 4 first, then 4-6 (4-4-4-4, 4-6-5, 4-4-4-4-3)
                shaped = j == i or size >= 3
                if (shaped and len(digits) >= 13 and digits[0] in "23456"
                        and luhn_ok(digits)):
                    found = j  # keep the longest valid run from group i
                if j > i and size < 4:
                    break
            if found is None:
                i += 1
                continue
            yield groups[i][0], groups[found][1]
            i = found + 1


def _ssns(text: str, region: str) -> Iterator[Span]:
    for m in _SSN.finditer(text):
        area, group, serial = m.group(1), m.group(3), m.group(4)
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        yield m.span()


def _ips(text: str, region: str) -> Iterator[Span]:
    for m in _IPV6.finditer(text):
        start, end = m.span()
        while end > start and text[end - 1] in ":.":
            end -= 1
        candidate = text[start:end]
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        if not any(ch.isdigit() for ch in candidate):  # "Abc::Def" is valid IPv6, rarely meant
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield start, end
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield m.span()


def _phones(text: str, region: str) -> Iterator[Span]:
    try:
        import phonenumbers
    except ImportError:
        raise MissingDependencyError("phonenumbers", "production",
                                     "Redacting phone numbers") from None
    for m in phonenumbers.PhoneNumberMatcher(text, region,
                                             leniency=phonenumbers.Leniency.VALID):
        yield m.start, m.end


_FINDERS: dict[str, Callable[[str, str], Iterator[Span]]] = {
    "credentials": _credentials, "email": _emails, "iban": _ibans, "card": _cards,
    "ssn": _ssns, "ip": _ips, "phone": _phones,
}


def check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    """The kinds as a set; an unknown kind is a ``ConfigError`` listing the known ones."""
    chosen = frozenset(kinds)
    unknown = sorted(chosen - ALL)
    if unknown:
        raise ConfigError(f"Unknown redaction kind {', '.join(map(repr, unknown))}; expected "
                          f"some of {', '.join(KINDS)}.")
    return chosen


def check_region(region: str) -> str:
    """A default phone region (ISO 3166 alpha-2, e.g. ``US``, ``GB``), upper-cased.

    Raises:
        ConfigError: ``phonenumbers`` does not know the region.
    """
    import phonenumbers

    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"Unknown phone region {region!r}: expected a two-letter country "
                          "code that phonenumbers supports, such as US, GB, DE or IN.")
    return code


def redact(text: str, *, kinds: Iterable[str] = ALL, region: str = "US") -> Redacted:
    """Replace the personal data in ``text`` with typed placeholders, counted per kind.

    Args:
        text: any text.
        kinds: which kinds to look for (see ``KINDS``); all by default.
        region: the region phone numbers written without ``+country`` are read in.

    Returns:
        The redacted text and the count of each kind replaced.

    Examples:
        >>> redact("card 4111-1111-1111-1111, IP 10.0.0.7").text
        'card <CARD>, IP <IP>'
        >>> redact("order 4111111111111112 shipped").counts
        {}
    """
    chosen = check_kinds(kinds)
    taken: list[tuple[int, int, str]] = []  # kept sorted by start; never overlapping
    for kind in KINDS:
        if kind not in chosen:
            continue
        for start, end in _FINDERS[kind](text, region):
            at = bisect.bisect_left(taken, (start,))
            if end > start and (at == len(taken) or end <= taken[at][0]) and (
                    at == 0 or taken[at - 1][1] <= start):
                taken.insert(at, (start, end, kind))
    if not taken:
        return Redacted(text, {})
    parts: list[str] = []
    pos = 0
    for start, end, kind in taken:
        parts += [text[pos:start], PLACEHOLDERS[kind]]
        pos = end
    parts.append(text[pos:])
    counts = Counter(kind for _, _, kind in taken)
    return Redacted("".join(parts), {k: counts[k] for k in KINDS if counts[k]})


def redact_json(value: Any, counts: Counter[str], *, kinds: Iterable[str] = ALL,
                region: str = "US") -> Any:
    """A copy of a JSON value with every string in it redacted (keys kept as they are);
    the finds are added to ``counts``."""
    if isinstance(value, str):
        found = redact(value, kinds=kinds, region=region)
        counts.update(found.counts)
        return found.text
    if isinstance(value, Mapping):
        return {k: redact_json(v, counts, kinds=kinds, region=region) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v, counts, kinds=kinds, region=region) for v in value]
    return value
