"""``evalstack serve``: the viewer and the ingest API for production traces, in one process."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

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
@click.option("--score", "score_jobs", multiple=True, metavar="PROJECT=POLICY.yaml",
              help="Score PROJECT's new sampled traces under a policy on a schedule "
                   "(repeatable; see evalstack score-traces).")
@click.option("--alerts", "alert_jobs", multiple=True,
              metavar="PROJECT=METRICS.yaml,RULES.yaml",
              help="Check PROJECT's alert rules on a schedule (repeatable).")
@click.option("--webhook", default=None, help="Where scheduled alert checks POST alerts.")
@click.option("--every", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds between scheduled rounds of --score and --alerts.")
def serve_command(store: str | None, host: str, port: int, token: str | None,
                  allow_hosts: tuple[str, ...], new_projects: tuple[str, ...],
                  max_body_mb: float, rate: float, no_serve: bool,
                  score_jobs: tuple[str, ...], alert_jobs: tuple[str, ...],
                  webhook: str | None, every: float) -> None:
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
        schedule = _schedule(opened, store, score_jobs, alert_jobs, webhook, every)
        try:
            uvicorn.run(serve_app(ingest, viewer), host=host.strip("[]"), port=port,
                        log_level="warning")
        finally:
            if schedule is not None:
                schedule.stop(timeout=30)
    finally:
        opened.close()


def _pairs(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    from evalstack.core.errors import ConfigError

    out = []
    for value in values:
        project, sep, rest = value.partition("=")
        if not sep or not project or not rest:
            raise ConfigError(f"{option} expects PROJECT=FILE; got {value!r}.")
        out.append((project, rest))
    return out


def _schedule(opened: Any, store: str | None, score_jobs: tuple[str, ...],
              alert_jobs: tuple[str, ...], webhook: str | None, every: float) -> Any:
    """The scheduled scoring and alert checks, checked now and started, or None."""
    from evalstack.cli.safe import echo
    from evalstack.core.errors import ConfigError
    from evalstack.production.alerts import load_rules
    from evalstack.production.metrics import load_metrics
    from evalstack.production.schedule import Schedule
    from evalstack.production.scoring import load_policy
    from evalstack.production.store import project_id

    jobs = []

    def project(name: str) -> str:
        found = project_id(opened, name)
        if found is None:
            raise ConfigError(f"No project named {name!r} in the store; make it with "
                              f"--new-project {name}.")
        return found

    for name, path in _pairs(score_jobs, "--score"):
        jobs.append(_score_job(opened, store, project(name), load_policy(path)))
    for name, paths in _pairs(alert_jobs, "--alerts"):
        metrics_path, sep, rules_path = paths.partition(",")
        if not sep:
            raise ConfigError(f"--alerts expects PROJECT=METRICS.yaml,RULES.yaml; got {paths!r}.")
        metrics = load_metrics(Path(metrics_path).read_text(encoding="utf-8"), metrics_path)
        rules = load_rules(Path(rules_path).read_text(encoding="utf-8"), rules_path)
        jobs.append(_alert_job(opened, project(name), metrics, rules, webhook))
    if not jobs:
        return None
    echo(f"  scheduled every {every:g} s: " + ", ".join(
        [f"score {p}" for p, _ in _pairs(score_jobs, "--score")]
        + [f"alerts {p}" for p, _ in _pairs(alert_jobs, "--alerts")]))
    return Schedule(every, jobs, report=lambda line: echo(f"  [schedule] {line}")).start()


def _score_job(opened: Any, store: str | None, pid: str, policy: Any) -> Any:
    async def job() -> str:
        from evalstack.cli.judge import _judge_models
        from evalstack.production.scoring import score_traces

        with _judge_models(store, False, {}, opened=opened):
            return (await score_traces(opened, pid, policy)).message

    return job


def _alert_job(opened: Any, pid: str, metrics: Any, rules: Any, webhook: str | None) -> Any:
    async def job() -> str:
        from evalstack.production.monitor import check_alerts

        fired = await check_alerts(opened, pid, metrics, rules, webhook=webhook)
        return f"alerts: {len(fired)} new" + "".join(
            f"; {d.alert_id} {'delivered' if d.delivered else 'not delivered'}"
            for d in fired)

    return job
