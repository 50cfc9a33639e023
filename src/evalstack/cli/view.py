"""``evalstack view``: browse runs in a local web viewer."""

from __future__ import annotations

import secrets

import click


@click.command("view")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs an access token.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--token", envvar="EVALSTACK_VIEW_TOKEN", default=None, show_envvar=True,
              help="Access token for a non-loopback --host (default: a random one, printed).")
def view_command(store: str | None, host: str, port: int, token: str | None) -> None:
    """Browse runs in a web viewer at http://127.0.0.1:8765.

    Every page has a JSON twin under /api (OpenAPI at /api/openapi.json). The viewer only
    reads the store, renders model output as text, and by default listens on this machine
    only. To share it on a network, bind another address: a random access token is made and
    printed in the URL to open (or pass --token).

    \b
    Examples:
      evalstack view
      evalstack view --store postgresql+psycopg://eval@db/evals --port 9000
      evalstack view --host 0.0.0.0          # prints http://HOST:8765/?token=...
    """
    import uvicorn

    from evalstack.cli.safe import echo
    from evalstack.web.app import create_app
    from evalstack.web.security import is_loopback

    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(24)
    app = create_app(store, host=host, port=port, token=None if is_loopback(host) else token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if not is_loopback(host) else "")
    echo(f"evalstack viewer on {url} (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
