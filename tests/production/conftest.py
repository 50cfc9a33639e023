"""Fixtures for the production tests: a real ``evalstack serve`` on a loopback port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(tmp_path) -> Iterator[tuple[str, str, str]]:
    """``evalstack serve`` on a free loopback port: (base URL, ingest key, store path)."""
    port, store = _port(), str(tmp_path / "s.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalstack", "serve", "--store", store, "--port", str(port),
         "--new-project", "bot", "--max-body-mb", "10", "--rate", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        key = re.search(r"ingest key (esk_\S+)", proc.stdout.readline()).group(1)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/runs", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        yield base, key, store
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert "Traceback" not in err, err


