"""A live viewer on a free loopback port, and Debian's Chromium driven by Playwright.

Playwright's own browser download does not work here, so the tests drive the system Chromium
(``/usr/bin/chromium``, installed by ``.ci/run``). Screenshots go to ``$EVALSTACK_ARTIFACTS``
(default ``build/screenshots``), kept as test artifacts.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("EVALSTACK_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("EVALSTACK_ARTIFACTS", ROOT / "build" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_viewer() -> Iterator[object]:
    """Start the viewer for a store URL; yields a function ``serve(store_url) -> base_url``."""
    import uvicorn

    from evalstack.web.app import create_app

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(store_url: str) -> str:
        port = _free_port()
        app = create_app(store_url, host="127.0.0.1", port=port)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the viewer did not start within 15 s")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module: Playwright's sync API holds an event loop in the main
    thread while it runs, which other tests' ``asyncio.run`` must not meet."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run "
                    f"does) or set EVALSTACK_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox"])
        yield chromium
        chromium.close()
