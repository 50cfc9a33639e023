"""``evalstack serve``: the viewer and the ingest API for production traces, in one process."""

from __future__ import annotations

import secrets

import click


@click.command("serve")
@click.option("--store", envvar="EVALSTACK_STORE", default=None, show_envvar=True,
              help="Store URL or path (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs a viewer token; ingest "
                   "always needs a project key.")
@click.option("--port", type=click.IntRange(1, 65535), default=8766, show_default=True)
@click.option("--token", envvar="EVALSTACK_VIEW_TOKEN", default=None, show_envvar=True,
              help="The viewer's access token off loopback (default: a random one, printed).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME[:PORT]",
              help="Also accept this Host name for the viewer, e.g. a reverse proxy's.")
@click.option("--new-project", "new_projects", multiple=True, metavar="NAME",
              help="Make a project and print its ingest key (shown once; stored hashed).")
@click.option("--max-body-mb", type=click.FloatRange(min=0.01), default=10.0,
              show_default=True, help="The largest ingest body accepted.")
@click.option("--rate", type=click.FloatRange(min=0.1), default=50.0, show_default=True,
              help="Ingest requests per second per project key.")
@click.option("--no-serve", is_flag=True, help="Only make the --new-project keys, then exit.")
def serve_command(store: str | None, host: str, port: int, token: str | None,
                  allow_hosts: tuple[str, ...], new_projects: tuple[str, ...],
                  max_body_mb: float, rate: float, no_serve: bool) -> None:
    """Serve the viewer and the ingest API for production traces.

    Apps send traces over OTLP/HTTP (POST /v1/traces and /v1/logs, protobuf or JSON, with the
    OpenTelemetry GenAI conventions), or log interactions and feedback as JSON (POST
    /api/ingest/interactions and /api/ingest/feedback). Every ingest request needs a
    project's key: 'Authorization: Bearer esk_...'.

    \b
    Examples:
      evalstack serve --new-project support-bot     # prints the project's key once
      OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8766 \\
      OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer esk_..." python my_app.py
    """
    import uvicorn

    from evalstack.cli.safe import echo
    from evalstack.production.store import create_project
    from evalstack.store import Store
    from evalstack.web.app import create_app
    from evalstack.web.ingest import create_ingest_app, serve_app
    from evalstack.web.security import allowed_hosts, check_token, host_form, is_loopback

    token = check_token(token)
    allowed_hosts(host, port, allow_hosts, names=())
    opened = Store.open(store)
    try:
        for name in new_projects:
            project_id, key = create_project(opened, name)
            echo(f"project {name} ({project_id}): ingest key {key}")
            echo("  (shown once: the store keeps only its hash)")
        if no_serve:
            return
        local = is_loopback(host)
        if not local and not token:
            token = secrets.token_urlsafe(24)
        viewer = create_app(store, host=host, port=port, token=None if local else token,
                            allow_hosts=allow_hosts)
        ingest = create_ingest_app(store=opened, max_body=int(max_body_mb * 1024 * 1024),
                                   rate=rate)
        base = f"http://{host_form(host.strip('[]'))}:{port}"
        echo(f"evalstack serve on {base}/ " + ("" if local else f"(viewer: ?token={token}) ")
             + "(Ctrl-C to stop)")
        echo(f"  ingest: POST {base}/v1/traces, {base}/v1/logs (OTLP/HTTP), "
             f"{base}/api/ingest/interactions, {base}/api/ingest/feedback")
        uvicorn.run(serve_app(ingest, viewer), host=host.strip("[]"), port=port,
                    log_level="warning")
    finally:
        opened.close()
