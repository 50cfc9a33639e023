"""Real OpenAI-compatible servers for the tests in this folder, started once per session.

``llama_server`` is llama-cpp-python's own server (``python -m llama_cpp.server``) on the
SmolLM2 GGUF that ``local/smollm2`` loads, with the same context size, chat template and
thread count, so that its greedy outputs can be compared with the in-process provider's.
``recording_proxy`` sits in front of it and keeps every request body the server received.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evalstack.providers.llamacpp import resolve_model_path

#: The model name the server answers to (``openai/smollm2``).
MODEL_ALIAS = "smollm2"
# Measured: about 1 s to a ready server on the 2-core CI machine; generous for a busy one.
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class LlamaServer:
    """A running ``llama_cpp.server``: its API root, process and log, and its start time."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    startup_seconds: float

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    process.wait()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1, one thread, ``local/smollm2``'s
    settings (n_ctx 2048, the GGUF's own chat template, seed 0)."""
    model = resolve_model_path("smollm2")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1", "--seed", "0",
        "--verbose", "false",
    ]
    start = time.monotonic()
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        while not _ready(url):
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() - start > READY_TIMEOUT:
                pytest.fail(f"llama_cpp.server was not ready after {READY_TIMEOUT:g}s:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield LlamaServer(url, process, log, time.monotonic() - start)
    finally:
        _stop(process)


@dataclass
class RecordingProxy:
    """A reverse proxy on 127.0.0.1 that forwards to ``upstream`` and keeps each JSON body."""

    upstream: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stopped: asyncio.Event | None = None

    def start(self) -> RecordingProxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the recording proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        import aiohttp
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        root = self.upstream.removesuffix("/v1")
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def forward(request: web.Request) -> web.StreamResponse:
                raw = await request.read()
                if raw:
                    self.bodies.append(json.loads(raw))
                try:
                    async with session.request(
                        request.method, root + request.path_qs, data=raw,
                        headers={"Content-Type": "application/json"},
                    ) as upstream:
                        payload = await upstream.read()
                        return web.Response(body=payload, status=upstream.status,
                                            content_type="application/json")
                except aiohttp.ClientError as exc:
                    return web.Response(text=f"proxy: {exc}", status=502)

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
            ready.set()
            await self._stopped.wait()
            await runner.cleanup()


@pytest.fixture
def recording_proxy(llama_server: LlamaServer) -> Iterator[RecordingProxy]:
    """A fresh recording proxy in front of ``llama_server``."""
    proxy = RecordingProxy(llama_server.url).start()
    try:
        yield proxy
    finally:
        proxy.stop()
