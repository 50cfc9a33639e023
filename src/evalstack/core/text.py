"""Making untrusted text safe to store: valid UTF-8, no NUL bytes, bounded length."""

from __future__ import annotations

DEFAULT_MAX_OUTPUT_CHARS = 1_000_000


def clean_text(text: str) -> str:
    """Replace lone surrogates and NUL characters, which neither UTF-8 nor PostgreSQL accept.

    Examples:
        >>> clean_text("a\\x00b\\ud800c")
        'a\\ufffdb\\ufffdc'
    """
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def cap_text(text: str, limit: int = DEFAULT_MAX_OUTPUT_CHARS) -> tuple[str, bool]:
    """Clean ``text`` and cut it to ``limit`` characters; the flag says whether it was cut."""
    if len(text) > limit:
        return clean_text(text[:limit]), True
    return clean_text(text), False
