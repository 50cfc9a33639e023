"""Alert delivery to a loopback receiver: once per episode, through a receiver that fails."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from aiohttp import web

from evalstack.production.store import create_project, list_alerts
from evalstack.production.webhook import fire, post_json
from evalstack.store import Store

T0 = datetime(2026, 11, 20, tzinfo=UTC)


class Receiver:
    """A webhook on 127.0.0.1 that answers ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(json.loads(await request.text()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status == 200 else "down")

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/hook"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def test_one_delivery_per_episode_through_a_receiver_that_fails_twice(tmp_path):
    async def main():
        receiver = Receiver([500, 503])
        with Store.open(str(tmp_path / "s.db")) as store:
            pid, _ = create_project(store, "bot")
            async with receiver as url:
                payload = {"rule": "resolution", "estimate": 0.61, "ci": [0.56, 0.66]}
                first = await fire(store, pid, "resolution", T0, payload, url,
                                   base_delay=0.01, seed=0)
                again = await fire(store, pid, "resolution", T0, payload, url,
                                   base_delay=0.01, seed=0)
                later = await fire(store, pid, "resolution", T0 + timedelta(days=5), payload,
                                   url, base_delay=0.01, seed=0)
            rows = {r["id"]: r for r in list_alerts(store, pid)}
        return receiver, first, again, later, rows

    receiver, first, again, later, rows = asyncio.run(main())
    assert first.delivered and first.attempts == 3
    assert again.alert_id is None and again.attempts == 0  # the same episode: not sent again
    assert later.delivered and later.attempts == 1
    # 2 failed + 1 delivered for the first episode, 1 for the second: one success each
    assert len(receiver.bodies) == 4
    assert [b["alert_id"] for b in receiver.bodies] == [first.alert_id] * 3 + [later.alert_id]
    assert rows[first.alert_id]["attempts"] == 3 and rows[first.alert_id]["delivered_at"]


def test_a_refusing_receiver_is_not_retried_and_a_dead_one_is_recorded():
    async def main():
        receiver = Receiver([400])
        async with receiver as url:
            refused = await post_json(url, {"x": 1}, base_delay=0.01)
        dead = await post_json("http://127.0.0.1:9/hook", {"x": 1}, max_attempts=2,
                               base_delay=0.01, timeout=2)
        return refused, dead, receiver

    refused, dead, receiver = asyncio.run(main())
    assert refused[0] is False and refused[1] == 1 and "not retried" in (refused[2] or "")
    assert len(receiver.bodies) == 1
    assert dead[0] is False and dead[1] == 2 and dead[2]
