"""Time-sortable ids: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32)."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = 1 << 80
_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _reset_after_fork() -> None:
    # A forked child must not continue the parent's sequence, or both would hand out the same ids.
    global _last_ms
    _last_ms = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def new_id() -> str:
    """A new 26-character ULID that sorts by creation time.

    Ids made in one process within the same millisecond (or while the clock steps back)
    increase strictly: the random part of the previous id is incremented.

    Examples:
        >>> a, b = new_id(), new_id()
        >>> len(a), a < b
        (26, True)
    """
    global _last_ms, _last_random
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms, rand = _last_ms, _last_random + 1
            if rand >= _RANDOM_MAX:
                ms, rand = ms + 1, int.from_bytes(os.urandom(10), "big")
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_random = ms, rand
    value = (ms << 80) | rand
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
