"""The realtime server's access log never shows a ticket."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect as ws_connect

from tests.servers import DJANGO_ORIGIN, RealtimeServer, make_token


async def test_access_log_leaves_the_ticket_out(server: RealtimeServer, sprint: int) -> None:
    token = make_token(sprint=sprint)
    async with ws_connect(server.ws_url(sprint, token), origin=DJANGO_ORIGIN) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
    async with asyncio.timeout(10):
        while f"GET /{sprint}/ " not in (log := server.log_path.read_text()):
            await asyncio.sleep(0.05)  # the connection's access line
    assert token not in log and "token=" not in log
