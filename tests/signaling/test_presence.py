"""Presence of protocol version 2 on a real server: the version a client states, the bounded
welcome, coalesced presence frames and the ``peers`` pages (docs/protocol.md §2 to §5).

A sprint of 60 connections (over the 50 visible peers) is the largest here: sized for CI.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Client, Connect

VISIBLE = 50


async def _closed(url: str) -> tuple[int | None, str | None]:
    async with ws_connect(url, close_timeout=1) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd is not None else (None, None)


@pytest.mark.parametrize("query", ["", "&protocol=1", "&protocol=3", "&protocol="])
async def test_a_client_that_does_not_say_protocol_2_is_refused_with_4426(
        server: RealtimeServer, sprint: int, query: str) -> None:
    token = make_token(sprint=sprint, secret=server.secret)
    url = f"ws://127.0.0.1:{server.port}/{sprint}/?token={token}{query}"
    assert await _closed(url) == (4426, "protocol version 2 required")
    assert server.metric('watercooler_closes_total{code="4426"}') >= 1


async def test_debug_mode_takes_no_version_as_2_for_the_seed_snippet(sprint: int) -> None:
    with RealtimeServer(debug=True) as srv:
        async with ws_connect(f"ws://127.0.0.1:{srv.port}/{sprint}") as ws:
            import json

            welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert welcome["protocol"] == 2
        assert await _closed(f"ws://127.0.0.1:{srv.port}/{sprint}?protocol=1") == (
            4426, "protocol version 2 required")


async def _crowd(connect: Connect, sprint: int, n: int) -> list[Client]:
    return list(await asyncio.gather(*(connect(sprint) for _ in range(n))))


async def test_the_welcome_lists_the_first_50_peers_and_counts_everyone(
        connect: Connect, sprint: int) -> None:
    crowd = await _crowd(connect, sprint, VISIBLE + 9)
    late = await connect(sprint)
    everyone = sorted(c.peer for c in [*crowd, late])
    assert [p["peer"] for p in late.welcome["peers"]] == everyone[:VISIBLE]
    assert late.welcome["count"] == VISIBLE + 10
    # Every earlier peer ends up seeing the same first 50, by presence frames.
    for client in crowd:
        await client.sees(set(everyone[:VISIBLE]))
        while client.count != VISIBLE + 10:  # a change of the count alone may come later
            await client.recv_type("presence")


async def test_a_burst_of_joins_is_told_once_each_in_coalesced_frames(
        connect: Connect, sprint: int) -> None:
    ana = await connect(sprint)
    crowd = await _crowd(connect, sprint, 30)
    frames = []
    while ana.visible != {ana.peer, *(c.peer for c in crowd)}:
        frames.append(await ana.recv_type("presence"))
    joined = [p["peer"] for f in frames for p in f["joined"]]
    assert sorted(joined) == sorted(c.peer for c in crowd)  # each join told once
    assert all(f["left"] == [] for f in frames)
    assert len(frames) <= len(crowd) and ana.count == 31
    await ana.silent(0.3)


async def test_pages_of_peers_walk_the_whole_sprint_in_id_order(connect: Connect,
                                                                sprint: int) -> None:
    crowd = await _crowd(connect, sprint, 60)
    everyone = sorted(c.peer for c in crowd)
    ana = crowd[0]
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        await ana.send({"type": "peers", "after": after, "limit": 25})
        page = await ana.recv_type("peers")
        assert page["count"] == 60
        assert all(list(p) == ["peer", "user"] for p in page["peers"])
        seen += [p["peer"] for p in page["peers"]]
        pages += 1
        if page["next"] is None:
            break
        assert page["next"] == seen[-1]
        after = page["next"]
    assert seen == everyone and pages == 3
    await ana.send({"type": "peers"})  # defaults: from the first, 100 at most
    page = await ana.recv_type("peers")
    assert [p["peer"] for p in page["peers"]] == everyone and page["next"] is None


@pytest.mark.parametrize(("frame", "field", "message"), [
    ({"type": "peers", "limit": 0}, "limit", "limit: must be an integer from 1 to 100"),
    ({"type": "peers", "limit": 101}, "limit", "limit: must be an integer from 1 to 100"),
    ({"type": "peers", "limit": True}, "limit", "limit: must be an integer from 1 to 100"),
    ({"type": "peers", "after": "no spaces"}, "after",
     "after: must be a peer id (1-64 of A-Z a-z 0-9 _ -)"),
    ({"type": "peers", "after": 7}, "after", "after: must be a peer id (1-64 of A-Z a-z 0-9 _ -)"),
    ({"type": "peers", "page": 2}, "page", "page: unknown field"),
])
async def test_a_bad_peers_request_gets_an_error_and_the_connection_stays(
        connect: Connect, sprint: int, frame: dict[str, object], field: str,
        message: str) -> None:
    ana = await connect(sprint)
    await ana.send(frame)
    assert await ana.recv_type("error") == {"type": "error", "code": "bad_field",
                                            "message": message, "field": field}
    await ana.send({"type": "peers", "after": "zzzz"})  # past everyone: an empty last page
    assert await ana.recv_type("peers") == {"type": "peers", "peers": [], "next": None,
                                            "count": 1}


async def test_peers_requests_over_the_rate_are_refused(connect: Connect, sprint: int) -> None:
    ana = await connect(sprint)
    for _ in range(40):  # a burst of 10, then 10 a second: most of these are refused
        await ana.send({"type": "peers", "limit": 1})
    answers = [await ana.recv() for _ in range(40)]
    pages = [a for a in answers if a["type"] == "peers"]
    refused = [a for a in answers if a["type"] != "peers"]
    assert 10 <= len(pages) < 40
    assert answers[:10] == pages[:10]  # the burst first
    assert set(map(str, refused)) == {str({"type": "error", "code": "rate_limited",
                                           "message": "at most 10 peers requests per second"})}
