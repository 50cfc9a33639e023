"""``evalstack view --host 0.0.0.0`` as another machine on the network reaches it.

The real command runs as a subprocess; requests go to this machine's own non-loopback
address, as a browser elsewhere would send them. The machine's names and addresses pass the
Host check (with the token), an unknown Host gets 421, ``--allow-host`` admits a proxy's name,
and a short token is refused before anything listens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli

TOKEN = "t0ken-for-the-network-24"  # 24 characters
TIMEOUT = httpx.Timeout(10.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def _own_ipv4() -> str | None:
    """This machine's non-loopback IPv4 address: the default route's source, else
    ``hostname -I``'s first."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # UDP: nothing is sent
            address = sock.getsockname()[0]
            if not address.startswith("127."):
                return str(address)
    except OSError:
        pass
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    v4 = [a for a in out.stdout.split() if "." in a and not a.startswith("127.")]
    return v4[0] if v4 else None


@pytest.fixture(scope="module")
def address() -> str:
    found = _own_ipv4()
    if found is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("network")
    data = tmp / "cases.jsonl"
    data.write_text("".join(json.dumps({"input": f"q{i}", "target": f"q{i}"}) + "\n"
                            for i in range(3)))
    url = str(tmp / "store.db")
    result = CliRunner().invoke(cli, ["run", str(data), "-m", "mock/echo", "--store", url,
                                      "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    return url


@contextmanager
def serve(store: str, *args: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``evalstack view --host 0.0.0.0`` on a free port; stopped on exit."""
    port = _free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("EVALSTACK_VIEW_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalstack", "view", "--host", "0.0.0.0", "--port", str(port),
         "--token", TOKEN, "--store", store, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the viewer exited: {proc.stdout.read()}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the viewer did not listen within 30 s") from None
                time.sleep(0.1)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def test_the_viewer_answers_on_the_machines_own_address_and_refuses_other_hosts(store, address):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with serve(store) as (port, _):
        base = f"http://{address}:{port}"
        runs = _get(f"{base}/api/runs", headers=bearer)
        assert runs.status_code == 200, runs.text
        assert [r["model"] for r in runs.json()] == ["mock/echo"]

        # the printed ?token= URL: traded for a cookie, which then opens the pages
        trade = _get(f"{base}/api/runs?token={TOKEN}")
        assert trade.status_code == 303, trade.text
        cookie = trade.headers["set-cookie"].split(";", 1)[0]
        assert _get(f"{base}/runs", headers={"Cookie": cookie}).status_code == 200

        assert _get(f"{base}/api/runs").status_code == 401  # the token is still required
        hostname = socket.gethostname()
        by_name = _get(f"{base}/api/runs", headers={**bearer, "Host": f"{hostname}:{port}"})
        assert by_name.status_code == 200, by_name.text
        loop = _get(f"http://127.0.0.1:{port}/api/runs", headers=bearer)
        assert loop.status_code == 200
        for host in ("evil.example", f"evil.example:{port}", "proxy.example",
                     f"{address}:{port + 1}"):
            refused = _get(f"{base}/api/runs", headers={**bearer, "Host": host})
            assert refused.status_code == 421, (host, refused.text)
            assert "--allow-host" in refused.text


def test_allow_host_admits_a_proxys_name(store, address):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with serve(store, "--allow-host", "proxy.example", "--allow-host", "Other.Example:8443"
               ) as (port, _):
        base = f"http://{address}:{port}"
        for host in ("proxy.example", f"proxy.example:{port}", "other.example:8443"):
            ok = _get(f"{base}/api/runs", headers={**bearer, "Host": host})
            assert ok.status_code == 200, (host, ok.text)
        for host in ("evil.example", "other.example", "proxy.example.evil.example"):
            assert _get(f"{base}/api/runs",
                        headers={**bearer, "Host": host}).status_code == 421, host
        # a state-changing request from the proxy's own page passes the Origin check
        post = httpx.post(f"{base}/api/runs", timeout=TIMEOUT, headers={
            **bearer, "Host": "proxy.example", "Origin": "https://proxy.example"})
        assert post.status_code == 405  # past the guard; the route only reads


@pytest.mark.parametrize("where", ["--token", "EVALSTACK_VIEW_TOKEN"])
def test_a_short_token_is_refused_before_anything_listens(where, store):
    port = _free_port()
    args = [sys.executable, "-m", "evalstack", "view", "--host", "0.0.0.0", "--port", str(port),
            "--store", store]
    env = {k: v for k, v in os.environ.items() if k != "EVALSTACK_VIEW_TOKEN"}
    if where == "--token":
        args += ["--token", "a"]
    else:
        env["EVALSTACK_VIEW_TOKEN"] = "short"
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "at least 16 characters" in done.stderr
    assert "secrets.token_urlsafe(24)" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_malformed_allow_host_is_a_clear_error(tmp_path: Path):
    result = CliRunner().invoke(cli, ["view", "--allow-host", "https://proxy.example/",
                                      "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    assert "proxy.example:8443" in result.output
