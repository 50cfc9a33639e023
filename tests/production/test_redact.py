"""Redacting personal data: each kind on realistic text, the near misses, counts, idempotence."""

from __future__ import annotations

import pytest

from evalstack.core.errors import ConfigError
from evalstack.production.redact import KINDS, iban_ok, luhn_ok, redact

FOUND = [
    ("Hi, I'm Ann (ann.lee+shop@example.co.uk), my order hasn't come.",
     "Hi, I'm Ann (<EMAIL>), my order hasn't come.", {"email": 1}),
    ("Call me on (650) 253-0000 or at +44 20 7946 0958 after five.",
     "Call me on <PHONE> or at <PHONE> after five.", {"phone": 2}),
    ("My card is 4111 1111 1111 1111, exp 04/29; the other is 5500-0000-0000-0004.",
     "My card is <CARD>, exp 04/29; the other is <CARD>.", {"card": 2}),
    ("Amex 3782 822463 10005 was charged twice", "Amex <CARD> was charged twice", {"card": 1}),
    ("charged 4111 1111 1111 1111 42 times", "charged <CARD> 42 times", {"card": 1}),
    ("Refund to DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432 please.",
     "Refund to <IBAN> or <IBAN> please.", {"iban": 2}),
    ("The VPN gave me 203.0.113.42, and the router says fe80::1ff:fe23:4567:890a.",
     "The VPN gave me <IP>, and the router says <IP>.", {"ip": 2}),
    ("SSN 078-05-1121 on the form", "SSN <SSN> on the form", {"ssn": 1}),
    ("It failed on postgresql://admin:hunter2@db.internal:5432/prod",
     "It failed on postgresql://<CREDENTIALS>@db.internal:5432/prod", {"credentials": 1}),
]


@pytest.mark.parametrize(("text", "expected", "counts"), FOUND)
def test_each_kind_is_replaced_and_counted(text: str, expected: str,
                                            counts: dict[str, int]) -> None:
    result = redact(text)
    assert result.text == expected
    assert result.counts == counts


NOT_FOUND = [
    "Order 4111111111111112 shipped",          # 16 digits failing Luhn
    "Your order number is 100234567890123.",   # 15 digits, not a card's first digit
    "Delivered on 2024-03-15 at 12:30:45",     # a date and a time
    "Refund to DE89 3704 0044 0532 0130 01",   # IBAN with a wrong check digit (mod 97)
    "Account GB82 WEST 1234 5698 7654 33",     # IBAN failing mod 97
    "Upgrade to v1.2.3.4 or 1.2.3.4.5",        # a v-prefixed or five-part version
    "SSN-like but never issued: 666-12-3456, 900-12-3456, 123-00-4567, 000-12-3456",
    "Not an IP: 256.1.1.1, a MAC 00:1A:2B:3C:4D:5E, C++ std::vector, Foo::Bar",
    "My PIN is 1234 and my zip 94043",
    "Ratings: 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",  # Luhn-valid digits, not grouped as a card
    "https://docs.example.com/guide@v2 has no credentials",
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_near_misses_are_left_alone(text: str) -> None:
    assert redact(text).text == text
    assert redact(text).counts == {}


def test_a_bare_version_string_is_a_valid_ipv4_address() -> None:
    # documented: four small numbers are an address as far as anyone can tell
    assert redact("release 1.2.3.4 is out").text == "release <IP> is out"


def test_counts_add_up_and_kinds_choose() -> None:
    text = ("a@b.io, c@d.org, 4111-1111-1111-1111 and 10.0.0.1; call 415-555-0132 "
            "or 415 555 0199")
    result = redact(text)
    assert result.counts == {"email": 2, "card": 1, "ip": 1, "phone": 2}
    only = redact(text, kinds={"email"})
    assert only.counts == {"email": 2} and "10.0.0.1" in only.text
    with pytest.raises(ConfigError, match="expected some of"):
        redact(text, kinds={"emails"})


def test_region_reads_national_numbers() -> None:
    uk = "ring 020 7946 0958 tonight"
    assert redact(uk).counts == {}
    assert redact(uk, region="GB").text == "ring <PHONE> tonight"


def test_credentials_win_over_email_and_ipv6_over_ipv4() -> None:
    r = redact("https://bob:pa55@host.example.com and ::ffff:192.0.2.1")
    assert r.text == "https://<CREDENTIALS>@host.example.com and <IP>"


@pytest.mark.parametrize("text", [t for t, _, _ in FOUND] + NOT_FOUND)
def test_redacting_twice_gives_the_same(text: str) -> None:
    once = redact(text)
    twice = redact(once.text)
    assert twice.text == once.text and twice.counts == {}


def test_checks() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert iban_ok("NL91ABNA0417164300") and not iban_ok("NL91ABNA0417164301")
    assert not iban_ok("XX00 1234")
    assert set(KINDS) == {"credentials", "email", "iban", "card", "ssn", "ip", "phone"}
