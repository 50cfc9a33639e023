"""``evalstack serve`` as a real server on 127.0.0.1: keys, ingest beside the viewer."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from click.testing import CliRunner

from evalstack.cli.main import cli


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict, key: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_takes_interactions_with_a_key_and_still_serves_the_viewer(tmp_path):
    port = _port()
    store = tmp_path / "s.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalstack", "serve", "--store", str(store), "--port",
         str(port), "--new-project", "bot"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        key = re.search(r"ingest key (esk_\S+)", first).group(1)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/runs", timeout=2) as reply:
                    assert reply.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, proc.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.2)
        body = {"interactions": [{"input": "Hi?", "output": "Hello!", "model": "m"}]}
        assert _post(f"{base}/api/ingest/interactions", body, None)[0] == 401
        status, reply = _post(f"{base}/api/ingest/interactions", body, key)
        assert status == 200 and len(reply["trace_ids"]) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err


def test_new_project_without_serving_prints_a_key_once(tmp_path):
    store = str(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["serve", "--store", store, "--new-project", "bot",
                                      "--no-serve"])
    assert result.exit_code == 0 and "ingest key esk_" in result.output
    again = CliRunner().invoke(cli, ["serve", "--store", store, "--new-project", "bot",
                                     "--no-serve"])
    assert again.exit_code != 0 and "already exists" in again.output
