"""Connecting: tickets, origins, the welcome frame, presence across peers and sprints."""

from __future__ import annotations

from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Connect


async def test_welcome_describes_the_connection(connect: Connect, sprint: int,
                                                server: RealtimeServer) -> None:
    token = make_token(user_id=3, username="ana", sprint=sprint, secret=server.secret)
    ana = await connect(sprint, token=token)
    w = ana.welcome
    assert list(w) == ["type", "protocol", "peer", "sprint", "user", "peers", "ice_servers",
                       "seq", "limits"]
    assert w["protocol"] == 1
    assert w["sprint"] == sprint
    assert w["user"] == {"id": 3, "username": "ana"}
    assert w["peers"] == []
    assert w["ice_servers"] == []
    assert w["seq"] is None
    assert w["limits"] == {"relay_per_second": 60, "max_message_bytes": 65536}
    assert isinstance(w["peer"], str) and len(w["peer"]) >= 16


async def test_peer_ids_are_unique_even_for_the_same_user(connect: Connect, sprint: int,
                                                          server: RealtimeServer) -> None:
    token = make_token(user_id=3, username="ana", sprint=sprint, secret=server.secret)
    tabs = [await connect(sprint, token=token) for _ in range(5)]
    assert len({t.peer for t in tabs}) == 5


async def test_presence_join_and_leave_go_to_the_others_only(connect: Connect,
                                                             sprint: int) -> None:
    ana = await connect(sprint)
    ben = await connect(sprint)
    assert ben.welcome["peers"] == [{"peer": ana.peer, "user": ana.welcome["user"]}]
    assert await ana.recv() == {"type": "peer_joined", "peer": ben.peer,
                                "user": ben.welcome["user"]}
    cid = await connect(sprint)
    assert [p["peer"] for p in cid.welcome["peers"]] == [ana.peer, ben.peer]
    for other in (ana, ben):
        assert await other.recv() == {"type": "peer_joined", "peer": cid.peer,
                                      "user": cid.welcome["user"]}
    await ben.close()
    for other in (ana, cid):
        assert await other.recv() == {"type": "peer_left", "peer": ben.peer}
    await ana.silent()
    await cid.silent()


async def test_no_presence_leaks_across_sprints(connect: Connect, sprint: int) -> None:
    other_sprint = sprint + 100_000
    ana = await connect(sprint)
    zed = await connect(other_sprint)
    assert zed.welcome["peers"] == []
    ben = await connect(sprint)
    assert [p["peer"] for p in ben.welcome["peers"]] == [ana.peer]
    assert (await ana.recv())["peer"] == ben.peer
    await ben.close()
    assert await ana.recv() == {"type": "peer_left", "peer": ben.peer}
    await zed.silent()


async def test_ice_servers_come_from_the_command_line(sprint: int) -> None:
    with RealtimeServer("--ice-server=stun:stun.example.org:3478",
                        "--ice-server", "turn:turn.example.org:3478") as srv:
        from websockets.asyncio.client import connect

        token = make_token(sprint=sprint, secret=srv.secret)
        async with connect(srv.ws_url(sprint, token)) as ws:
            import json

            welcome = json.loads(await ws.recv())
    assert welcome["ice_servers"] == [
        {"urls": ["stun:stun.example.org:3478", "turn:turn.example.org:3478"]}]
