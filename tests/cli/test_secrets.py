"""Credentials typed on the command line are used, and then never stored or shown.

``-M base_url=http://user:KEY@host/v1`` and ``...?api-key=KEY`` run against the loopback fake
server, which succeeds, fails with 500s, refuses with a 401 that quotes the key, or is not
there at all. Afterwards the planted key must appear nowhere: not in the store file's bytes,
nor in anything ``run``, ``runs``, ``show``, ``export``, ``report`` or the viewer print.
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from evalstack.cli.main import cli
from evalstack.core.redact import redact_text, redact_url
from evalstack.store import Store
from evalstack.testing import fake_server
from evalstack.testing.fake_server import FakeServer
from evalstack.web.app import create_app

USER_KEY = "sk-PLANTED1userinfo"
QUERY_KEY = "sk-PLANTED2query"
ARG_KEY = "sk-PLANTED3argument"
PLANTED = ("PLANTED1", "PLANTED2", "PLANTED3")


class _RecordingApp(fake_server.FakeApp):
    """The fake server's app, also keeping each request's Authorization header and query."""

    seen: list[tuple[str, str, str]]

    async def _begin(self, request: Any, flavour: str) -> Any:
        self.seen.append((request.path, request.headers.get("Authorization", ""),
                          request.query_string))
        return await super()._begin(request, flavour)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    monkeypatch.setattr(_RecordingApp, "seen", seen, raising=False)
    monkeypatch.setattr(fake_server, "FakeApp", _RecordingApp)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return seen


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _data(tmp_path: Path) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({"input": f"q{i}", "target": f"q{i}"}) + "\n"
                            for i in range(4)))
    return str(path)


def _leaks(text: str | bytes) -> list[str]:
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    found = [p for p in PLANTED if p.encode() in raw]
    basic = base64.b64encode(f"user:{USER_KEY}".encode())
    if basic in raw:
        found.append("Basic credentials")
    return found


def _everything_shown(store: str, tmp_path: Path) -> dict[str, str | bytes]:
    """Every output a user can get about the store's runs, by name."""
    runner = CliRunner()
    shown: dict[str, str | bytes] = {}

    def cli_out(name: str, args: list[str]) -> None:
        result = runner.invoke(cli, [*args, "--store", store])
        assert result.exit_code == 0, (name, result.output)
        shown[name] = result.output

    cli_out("runs", ["runs"])
    cli_out("runs --json", ["runs", "--json"])
    st = Store.open(store)
    try:
        runs = st.list_runs()
        samples = {r.id: [s.sample_id for s in st.iter_samples(r.id)] for r in runs}
    finally:
        st.close()
    report = tmp_path / "report.html"
    with TestClient(create_app(store), base_url="http://127.0.0.1:8765") as client:
        shown["/api/runs"] = client.get("/api/runs").text
        shown["/runs"] = client.get("/runs").text
        for run in runs:
            for args in (["show", run.id], ["show", run.id, "--json"],
                         ["export", run.id], ["export", run.id, "--format", "csv"]):
                cli_out(" ".join(args), args)
            cli_out(f"report {run.id}", ["report", run.id, "-o", str(report)])
            shown[f"report {run.id} file"] = report.read_text()
            for path in (f"/api/runs/{run.id}", f"/runs/{run.id}"):
                page = client.get(path)
                assert page.status_code == 200, (path, page.text[:300])
                shown[path] = page.text
            for sid in samples[run.id][:2]:
                for path in (f"/api/runs/{run.id}/sample", f"/runs/{run.id}/sample"):
                    page = client.get(path, params={"id": sid})
                    assert page.status_code == 200, (path, page.text[:300])
                    shown[f"{path}?id={sid}"] = page.text
    return shown


def _store_bytes(store: str) -> dict[str, bytes]:
    """The store file and its WAL and shared-memory files, after a checkpoint."""
    conn = sqlite3.connect(store)
    try:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        dumped = "\n".join(conn.iterdump()).encode()
    finally:
        conn.close()
    files = {p.name: p.read_bytes() for p in Path(store).parent.glob(Path(store).name + "*")}
    return {**files, "sqlite dump": dumped}


CASES = {
    # name: (base_url given the port, server options, extra CLI args, expected exit code)
    "userinfo": (lambda port: f"http://user:{USER_KEY}@127.0.0.1:{port}/v1", {}, [], 0),
    "query": (lambda port: f"http://127.0.0.1:{port}/v1?api-key={QUERY_KEY}", {}, [], 0),
    "userinfo, server errors": (
        lambda port: f"http://user:{USER_KEY}@127.0.0.1:{port}/v1?api-key={QUERY_KEY}",
        {"fail_rate": 1.0, "fault_kinds": ("500",)}, [], 6),
    "query, 401 quoting the key": (
        lambda port: f"http://127.0.0.1:{port}/v1?api-key={QUERY_KEY}",
        {"api_key": "the-right-key-0000"}, ["-M", f"api_key={ARG_KEY}"], 6),
    "connection refused": (
        lambda port: f"http://user:{USER_KEY}@127.0.0.1:{_dead_port()}/v1?token={QUERY_KEY}",
        {}, [], 6),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_planted_secret_is_used_but_never_stored_or_shown(case, recorded, tmp_path):
    url_of, options, extra, code = CASES[case]
    store = str(tmp_path / "store.db")
    with FakeServer(**options) as server:
        base_url = url_of(server.port)
        result = CliRunner().invoke(cli, [
            "run", _data(tmp_path), "-m", "openai/m", "-M", f"base_url={base_url}", *extra,
            "--store", store, "--no-progress", "--max-retries", "0",
        ])
    assert result.exit_code == code, result.output
    printed = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert _leaks(printed) == [], printed
    if code:
        assert "error:" in printed
        assert "***" in printed or "connect" in printed, printed

    # the secret was used: the server saw the credentials (and nothing else saw them)
    if case == "userinfo" or case == "userinfo, server errors":
        auth = {a for path, a, _ in recorded if path != "/v1/models"}
        basic = "Basic " + base64.b64encode(f"user:{USER_KEY}".encode()).decode()
        assert auth == {basic}
    if "query" in case or case == "userinfo, server errors":
        assert recorded and all(q == f"api-key={QUERY_KEY}" for _, _, q in recorded)
    if case == "query, 401 quoting the key":
        assert {a for _, a, _ in recorded} == {f"Bearer {ARG_KEY}"}

    shown = _everything_shown(store, tmp_path)
    for name, text in {**shown, **_store_bytes(store)}.items():
        assert _leaks(text) == [], f"{name} leaks: {text[:2000]!r}"

    st = Store.open(store)
    try:
        [run] = st.list_runs()
        errors = [s.error for s in st.iter_samples(run.id) if s.error]
    finally:
        st.close()
    # what is stored still says where the requests went, without the secret
    assert run.model_args["base_url"] == redact_url(base_url)
    assert "127.0.0.1" in run.model_args["base_url"] and "***" in run.model_args["base_url"]
    if code:
        assert errors and run.error
        assert all("127.0.0.1" in e for e in errors), errors
    else:
        assert errors == [] and run.status == "completed"


def test_the_store_masks_every_error_and_url_it_is_given(tmp_path):
    """Whatever path an error or URL takes into the store, it is stored masked: the run's
    config (the --store URL), a judge's base_url in the task spec, run and sample errors."""
    from datetime import UTC, datetime

    from evalstack.core.records import RunRecord, SampleRecord

    db = f"postgresql+psycopg://eval:{QUERY_KEY}@db/evals"
    judge = f"http://user:{USER_KEY}@judge:8000/v1"
    now = datetime.now(UTC)
    record = RunRecord(
        id="01TESTSECRETS0000000000000", created_at=now, updated_at=now, status="running",
        task_name="t", task_version=1,
        task_spec={"scorers": [{"name": "llm_judge", "args": {"base_url": judge}}]},
        model="openai/m", model_args={"base_url": judge}, dataset_name="d", dataset_hash="h",
        dataset_size=1, epochs=1, limit=None, fingerprint="f" * 64, config={"store": db},
        package_version="0", git_revision=None, summary=None, error=f"failed at {judge}",
    )
    store = str(tmp_path / "store.db")
    st = Store.open(store)
    try:
        st.create_run(record)
        st.write_samples(record.id, [SampleRecord(
            sample_id="s1", epoch=1, input="q", target="a", output="", error=f"at {judge}",
            scores={"llm_judge": {"error": f"judge at {judge}?token={ARG_KEY}"}},
        )])
        st.set_status(record.id, "failed", error=f"ProviderError: {judge} said Bearer x{ARG_KEY}")
        run = st.get_run(record.id)
        [sample] = list(st.iter_samples(record.id))
    finally:
        st.close()
    assert run.config["store"] == "postgresql+psycopg://eval:***@db/evals"
    assert run.model_args["base_url"] == run.task_spec["scorers"][0]["args"]["base_url"]
    assert run.model_args["base_url"] == "http://user:***@judge:8000/v1"
    assert run.error == "ProviderError: http://user:***@judge:8000/v1 said Bearer ***"
    assert sample.error == "at http://user:***@judge:8000/v1"
    assert sample.scores["llm_judge"]["error"].endswith("?token=***")
    for name, raw in _store_bytes(store).items():
        assert _leaks(raw) == [], name


def test_a_user_error_quoting_a_url_prints_it_masked(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    bad = f"http://user:{USER_KEY}@127.0.0.1:notaport/v1?api-key={QUERY_KEY}"
    result = CliRunner().invoke(cli, ["run", _data(tmp_path), "-m", "openai/m",
                                      "-M", f"base_url={bad}", "--store",
                                      str(tmp_path / "s.db"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "expected base_url to be an http(s) URL" in result.output
    assert _leaks(result.output) == [], result.output
    assert "user:***@127.0.0.1:notaport/v1?api-key=***" in result.output


def test_userinfo_and_an_api_key_together_are_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = CliRunner().invoke(cli, [
        "run", _data(tmp_path), "-m", "openai/m",
        "-M", f"base_url=http://user:{USER_KEY}@127.0.0.1:9/v1", "-M", f"api_key={ARG_KEY}",
        "--store", str(tmp_path / "s.db"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "one Authorization header" in result.output
    assert _leaks(result.output) == [], result.output


@pytest.mark.parametrize("text, hidden", [
    (f"openai/m at http://user:{USER_KEY}@h:1/v1/chat/completions failed", USER_KEY),
    (f"ClientConnectorError: http://h/v1?x=1&API_KEY={QUERY_KEY}", QUERY_KEY),
    (f"Incorrect API key provided: {ARG_KEY}.", "PLANTED3"),
    ("{'authorization': 'Bearer abc.def123'}", "abc.def123"),
    (f"token={QUERY_KEY} and password=hunter2x", "hunter2x"),
])
def test_redact_text_masks_secret_shapes(text, hidden):
    masked = redact_text(text)
    assert hidden not in masked and "***" in masked
    assert redact_text(masked) == masked  # idempotent


def test_a_model_echoing_the_url_secret_has_it_blanked_in_its_stored_output(recorded, tmp_path):
    store = str(tmp_path / "store.db")
    with FakeServer(reply=f"the key is {USER_KEY} and {QUERY_KEY}") as server:
        base_url = f"http://user:{USER_KEY}@127.0.0.1:{server.port}/v1?api-key={QUERY_KEY}"
        result = CliRunner().invoke(cli, [
            "run", _data(tmp_path), "-m", "openai/m", "-M", f"base_url={base_url}",
            "--store", store, "--no-progress",
        ])
    assert result.exit_code == 0, result.output
    for name, text in {**_everything_shown(store, tmp_path), **_store_bytes(store)}.items():
        assert _leaks(text) == [], f"{name} leaks: {text[:2000]!r}"
    st = Store.open(store)
    try:
        [run] = st.list_runs()
        outputs = {s.output for s in st.iter_samples(run.id)}
    finally:
        st.close()
    assert outputs == {"the key is [REDACTED] and [REDACTED]"}
