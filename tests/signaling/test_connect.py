"""The handshake: the seed walkthrough in debug mode, tickets and their close codes, origins."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.servers import DJANGO_ORIGIN, RealtimeServer, make_token
from tests.signaling.conftest import Client, Connect


@pytest.fixture(scope="module")
def debug_server() -> Iterator[RealtimeServer]:
    with RealtimeServer(debug=True) as srv:
        yield srv


# --- the seed chapter's walkthrough -----------------------------------------------------------


async def test_seed_walkthrough_ping_pong_between_anonymous_clients(
        debug_server: RealtimeServer) -> None:
    url = f"ws://localhost:{debug_server.port}/123"  # as printed: no slash, no token
    async with ws_connect(url, origin="http://localhost:8080") as first, \
            ws_connect(url, origin="http://evil.example") as second:
        welcome = json.loads(await first.recv())
        assert welcome["user"] == {"id": None, "username": "anonymous"}
        assert json.loads(await second.recv())["type"] == "welcome"
        assert json.loads(await first.recv())["type"] == "presence"
        await first.send("ping")
        assert await second.recv() == "ping"
        await second.send("pong")
        assert await first.recv() == "pong"


async def test_debug_index_page_is_served(debug_server: RealtimeServer) -> None:
    with urllib.request.urlopen(debug_server.http_url + "/", timeout=5) as resp:
        page = resp.read().decode()
    assert "new WebSocket(" in page and "socket.send('ping')" in page


def test_index_page_is_debug_only(server: RealtimeServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.http_url + "/", timeout=5)
    assert info.value.code == 404


async def test_debug_still_checks_a_token_that_is_given(debug_server: RealtimeServer) -> None:
    async with ws_connect(debug_server.ws_url(5, "not-a-token")) as ws:
        client = Client(ws)
        assert await client.closed() == 4001


def test_healthz(server: RealtimeServer) -> None:
    with urllib.request.urlopen(server.http_url + "/healthz", timeout=5) as resp:
        body = json.loads(resp.read())
    assert resp.status == 200
    assert body["status"] == "ok"


# --- tickets ----------------------------------------------------------------------------------


async def test_no_token_closes_4001(connect: Connect, sprint: int) -> None:
    client = await connect(sprint, token=None, welcome=False)
    assert await client.closed() == 4001


async def test_non_json_without_debug_is_bad_json(connect: Connect, sprint: int) -> None:
    client = await connect(sprint)
    await client.send("ping")
    assert await client.recv() == {"type": "error", "code": "bad_json",
                                   "message": "frame is not valid JSON"}


@pytest.mark.parametrize("claims", [
    pytest.param({"ttl": -10}, id="expired"),
    pytest.param({"secret": "some-other-secret-long-enough-for-hs256!"}, id="bad-signature"),
    pytest.param({"aud": "someone-else"}, id="bad-audience"),
])
async def test_bad_token_closes_4001(connect: Connect, sprint: int,
                                     claims: dict[str, object]) -> None:
    client = await connect(sprint, token=make_token(sprint=sprint, **claims),  # type: ignore[arg-type]
                           welcome=False)
    assert await client.closed() == 4001


async def test_garbage_token_closes_4001(connect: Connect, sprint: int) -> None:
    client = await connect(sprint, token="eyJhbGciOiJub25lIn0.e30.", welcome=False)
    assert await client.closed() == 4001


async def test_token_for_another_sprint_closes_4003(connect: Connect, sprint: int) -> None:
    client = await connect(sprint, token=make_token(sprint=sprint + 1), welcome=False)
    assert await client.closed() == 4003


async def test_refused_connection_is_not_announced(connect: Connect, sprint: int) -> None:
    ana = await connect(sprint)
    intruder = await connect(sprint, token=make_token(sprint=sprint + 1), welcome=False)
    assert await intruder.closed() == 4003
    await ana.silent()


async def test_open_connection_outlives_its_token(connect: Connect, sprint: int) -> None:
    import asyncio

    ana = await connect(sprint, token=make_token(sprint=sprint, ttl=2))
    await asyncio.sleep(3)
    ben = await connect(sprint)
    await ana.joined(ben.peer)


# --- origins ----------------------------------------------------------------------------------


async def test_allowed_origin_connects(connect: Connect, sprint: int) -> None:
    client = await connect(sprint, origin=DJANGO_ORIGIN)
    assert client.welcome["type"] == "welcome"


async def test_other_origin_is_refused_with_403(connect: Connect, sprint: int) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(sprint, origin="http://evil.example")
    assert info.value.response.status_code == 403


async def test_several_allowed_origins(sprint: int) -> None:
    origins = ("http://a.example", "http://b.example:8000")
    with RealtimeServer(origins=origins) as srv:
        for origin in origins:
            async with ws_connect(srv.ws_url(sprint, make_token(sprint=sprint)),
                                  origin=origin) as ws:  # type: ignore[arg-type]
                assert json.loads(await ws.recv())["type"] == "welcome"
        with pytest.raises(InvalidStatus):
            await ws_connect(srv.ws_url(sprint, make_token(sprint=sprint)),
                             origin=DJANGO_ORIGIN)  # type: ignore[arg-type]


async def test_absurd_sprint_id_closes_4003(connect: Connect) -> None:
    client = await connect(int("9" * 40), token=make_token(sprint=1), welcome=False)
    assert await client.closed() == 4003
