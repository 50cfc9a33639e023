"""Making untrusted text safe to store: valid UTF-8, no NUL bytes, bounded length.

And safe to show: ``visible`` writes out what a terminal would otherwise act on.
"""

from __future__ import annotations

import re

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


# C0 controls, DEL and C1 controls (ESC starts the terminal's escape sequences; the C1 CSI,
# U+009B, starts one on its own in some terminals), the bidirectional overrides and isolates
# (they reorder what is shown, as in "Trojan Source"), and lone surrogates (no encoding can
# print them).
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_HIDDEN_BUT_LAYOUT = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, layout: bool = True) -> str:
    """``text`` with every character a terminal would act on, rather than show, written out.

    Control characters (C0, DEL, C1) become ``\\xNN`` (ESC is ``\\x1b``), so an escape
    sequence in data shows as text instead of moving the cursor, clearing the screen or
    setting the window title. Bidirectional overrides and isolates, which reorder the text
    around them, and lone surrogates become ``\\uNNNN``. Everything else, backslashes
    included, is kept. The result has no character left to escape: ``visible`` is idempotent.
    This is for display only; exports and JSON keep the data as it is.

    Args:
        text: the string to show.
        layout: keep newlines and tabs (multi-line text); ``False`` writes them out too, for
            a value that must stay on one line.

    Examples:
        >>> visible("red \\x1b[31mtext\\x1b[0m")
        'red \\\\x1b[31mtext\\\\x1b[0m'
        >>> visible("a\\tb\\nc\\rd"), visible("a\\nb", layout=False)
        ('a\\tb\\nc\\\\x0dd', 'a\\\\x0ab')
    """
    pattern = _HIDDEN_BUT_LAYOUT if layout else _HIDDEN
    if pattern.search(text) is None:
        return text
    return pattern.sub(_shown, text)
