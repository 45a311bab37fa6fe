"""Connecting: tickets, origins, the welcome frame, presence across peers and sprints."""

from __future__ import annotations

from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Client, Connect


async def test_welcome_describes_the_connection(connect: Connect, sprint: int,
                                                server: RealtimeServer) -> None:
    token = make_token(user_id=3, username="ana", sprint=sprint, secret=server.secret)
    ana = await connect(sprint, token=token)
    w = ana.welcome
    assert list(w) == ["type", "protocol", "peer", "sprint", "user", "peers", "count",
                       "ice_servers", "seq", "limits"]
    assert w["protocol"] == 2
    assert w["sprint"] == sprint
    assert w["user"] == {"id": 3, "username": "ana"}
    assert w["peers"] == [{"peer": w["peer"], "user": {"id": 3, "username": "ana"}}]  # itself
    assert w["count"] == 1
    assert w["ice_servers"] == []
    assert w["seq"] is None
    assert w["limits"] == {"relay_per_second": 60, "max_message_bytes": 65536,
                           "visible_peers": 50, "peers_page": 100}
    assert isinstance(w["peer"], str) and len(w["peer"]) >= 16


async def test_peer_ids_are_unique_even_for_the_same_user(connect: Connect, sprint: int,
                                                          server: RealtimeServer) -> None:
    token = make_token(user_id=3, username="ana", sprint=sprint, secret=server.secret)
    tabs = [await connect(sprint, token=token) for _ in range(5)]
    assert len({t.peer for t in tabs}) == 5


def _entry(client: Client) -> dict[str, object]:
    return {"peer": client.peer, "user": client.welcome["user"]}


async def test_presence_join_and_leave_go_to_the_others_only(connect: Connect,
                                                             sprint: int) -> None:
    ana = await connect(sprint)
    ben = await connect(sprint)
    assert ben.welcome["peers"] == sorted([_entry(ana), _entry(ben)], key=lambda p: p["peer"])
    assert ben.welcome["count"] == 2
    assert await ana.recv() == {"type": "presence", "joined": [_entry(ben)], "left": [],
                                "count": 2}
    cid = await connect(sprint)
    assert [p["peer"] for p in cid.welcome["peers"]] == sorted([ana.peer, ben.peer, cid.peer])
    for other in (ana, ben):
        assert await other.recv() == {"type": "presence", "joined": [_entry(cid)], "left": [],
                                      "count": 3}
    await ben.close()
    for other in (ana, cid):
        assert await other.recv() == {"type": "presence", "joined": [], "left": [ben.peer],
                                      "count": 2}
    await ana.silent()
    await cid.silent()


async def test_no_presence_leaks_across_sprints(connect: Connect, sprint: int) -> None:
    other_sprint = sprint + 100_000
    ana = await connect(sprint)
    zed = await connect(other_sprint)
    assert [p["peer"] for p in zed.welcome["peers"]] == [zed.peer]
    ben = await connect(sprint)
    assert sorted(p["peer"] for p in ben.welcome["peers"]) == sorted([ana.peer, ben.peer])
    await ana.joined(ben.peer)
    await ben.close()
    assert await ana.left() == ben.peer
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
