"""Test helpers that ship with evalstack: a fast fake model server for tests and benchmarks.

``FakeServer`` is imported lazily so that ``python -m evalstack.testing.fake_server`` does not
import its own module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeServer", "FakeServerOptions"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from evalstack.testing import fake_server

        return getattr(fake_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
