"""One store, several processes: a long-lived writer (``evalstack serve``) and readers that come
and go, on SQLite and PostgreSQL alike. Nothing written may be lost or fail."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evalstack.production.store import create_project, project_id, scored
from evalstack.production.traces import Interaction, iter_traces, log_interactions
from evalstack.store import Store
from evalstack.testing.fake_server import FakeServer

_OTHER_PROCESS = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute('SELECT count(*) FROM sqlite_master').fetchall(); c.close()"
)


def test_opening_the_store_again_in_a_process_keeps_other_processes_off_its_log(tmp_path):
    # A second open used to read the file's header with open() and close(), which dropped
    # this process's SQLite locks: the next process to close its last connection then
    # deleted the write-ahead log under the first store (lost writes, "disk I/O error").
    path = tmp_path / "s.db"
    first = Store.open(str(path))
    try:
        create_project(first, "one")
        Store.open(str(path)).close()
        subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(path)], check=True,
                       timeout=60)
        assert Path(f"{path}-wal").exists(), "another process deleted the open store's log"
        create_project(first, "two")
    finally:
        first.close()
    with Store.open(str(path), create=False) as again:
        assert project_id(again, "one") and project_id(again, "two")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _post(url: str, body: dict, key: str) -> int:
    request = urllib.request.Request(url, json.dumps(body).encode(), {
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return int(reply.status)


def test_serve_writes_while_other_processes_read(store_url, tmp_path):
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with Store.open(store_url) as st:
        pid, key = create_project(st, "bot")
        log_interactions(st, pid, [Interaction(f"q{i}?", f"a{i}", start + timedelta(seconds=i))
                                   for i in range(200)])
    port, log = _port(), tmp_path / "serve.log"
    with FakeServer() as server, log.open("w") as out:
        judge = json.dumps({"judge": "openai/judge-model", "judge_args": {
            "base_url": server.url}, "max_attempts": 1})
        policy = tmp_path / "policy.yaml"
        policy.write_text(f"name: hourly\nrate: 0.1\nscorers: ['llm_judge:{judge}']\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalstack", "serve", "--store", store_url, "--port",
             str(port), "--score", f"bot={policy}", "--every", "1"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        seen: list[int] = []
        posted = 0
        try:
            deadline = time.monotonic() + 60
            # this process is the reader: it opens and closes the store each round, as the
            # viewer of another user or a cron job would, while serve scores and ingests
            while (time.monotonic() < deadline and proc.poll() is None
                   and (posted < 20 or len(seen) < 40 or not seen[-1])):
                with Store.open(store_url, create=False) as reader:
                    seen.append(len(scored(reader, pid)))
                if posted < 20 and (posted or _listening(port)):
                    body = {"interactions": [{"input": f"new {posted}?", "output": "ok"}]}
                    assert _post(f"http://127.0.0.1:{port}/api/ingest/interactions", body,
                                 key) == 200
                    posted += 1
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        text = log.read_text()
        with Store.open(store_url, create=False) as st:
            final = len(scored(st, pid))
            traces = sum(1 for _ in iter_traces(st, pid))
        assert seen[-1] > 0, text  # the reader saw the scores while serve was writing them
        assert final >= max(seen) and final == server.stats()["requests"], text
        assert posted == 20 and traces == 220, text
        assert "[schedule] hourly:" in text, text
        assert "error" not in text.lower() and "Traceback" not in text, text
