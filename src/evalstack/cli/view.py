"""``evalstack view``: browse runs in a local web viewer."""

from __future__ import annotations

import secrets

import click


@click.command("view")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface). Anything but loopback "
                   "needs an access token.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--token", envvar="EVALSTACK_VIEW_TOKEN", default=None, show_envvar=True,
              help="Access token for a non-loopback --host, at least 16 characters (default: "
                   "a random one, printed).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME[:PORT]",
              help="Also accept requests for this Host name, e.g. a reverse proxy's "
                   "(repeatable). This machine's own names and addresses are always accepted.")
def view_command(store: str | None, host: str, port: int, token: str | None,
                 allow_hosts: tuple[str, ...]) -> None:
    """Browse runs in a web viewer at http://127.0.0.1:8765.

    Every page has a JSON twin under /api (OpenAPI at /api/openapi.json). The viewer only
    reads the store, renders model output as text, and by default listens on this machine
    only. To share it on a network, bind another address: a random access token is made and
    printed in the URL to open (or pass --token). Requests must name this machine (its host
    name or one of its addresses) or an --allow-host name; others get 421.

    \b
    Examples:
      evalstack view
      evalstack view --store postgresql+psycopg://eval@db/evals --port 9000
      evalstack view --host 0.0.0.0          # prints http://ADDRESS:8765/?token=...
      evalstack view --host 0.0.0.0 --allow-host evals.example.com   # behind a proxy
    """
    import uvicorn

    from evalstack.cli.safe import echo
    from evalstack.store import Store
    from evalstack.web.app import create_app
    from evalstack.web.security import (
        allowed_hosts,
        check_token,
        host_form,
        is_loopback,
        primary_address,
    )

    token = check_token(token)
    allowed_hosts(host, port, allow_hosts, names=())  # a bad --allow-host fails before binding
    # A missing or foreign store fails here with a clear message, not later as a traceback
    # from the server's start-up; the viewer only reads, so it never creates a store.
    Store.open(store, create=False).close()
    local = is_loopback(host)
    if not local and not token:
        token = secrets.token_urlsafe(24)
    app = create_app(store, host=host, port=port, token=None if local else token,
                     allow_hosts=allow_hosts)
    shown = host
    if host.strip("[]") in ("0.0.0.0", "::", ""):  # a browser cannot open the wildcard
        shown = primary_address() or "127.0.0.1"
    url = f"http://{host_form(shown.strip('[]'))}:{port}/" + ("" if local else f"?token={token}")
    echo(f"evalstack viewer on {url} (Ctrl-C to stop)")
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning")
