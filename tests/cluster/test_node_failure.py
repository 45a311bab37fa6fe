"""A node killed with SIGKILL: its clients move to another node and lose no event; the
others see its peers leave within the presence TTL, then come back under new ids."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from tests.cluster.conftest import (
    PRESENCE_TTL,
    Clients,
    Peers,
    StartNodes,
    dumps,
    failover,
    frames_until_quiet,
    until,
)
from tests.signaling.conftest import Client, event, post_events

pytestmark = pytest.mark.redis


async def frames_until(client: Client, cond: Any, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not cond(got):
            got.append(await client.recv(timeout=timeout))
    return got


async def test_killed_nodes_clients_resume_elsewhere_and_others_see_them_leave_and_return(
        start_nodes: StartNodes, clients: Clients, peers: Peers, sprint: int,
        broker: str) -> None:
    node1, node2, node3 = start_nodes(3, broker=broker)
    x = await clients(node1, sprint)
    z = await clients(node3, sprint)
    y = await peers(node2, sprint, webrtc=False, connect=failover([node2, node3]))
    applied: list[int] = []
    y.events.on(lambda frame: applied.append(frame["seq"]) if frame["type"] == "event"
                else None)
    old = y.peer_id
    assert old is not None
    await post_and_check(node1, sprint, range(1, 4))
    await until(lambda: applied == [1, 2, 3], what="y has events 1..3")
    for client in (x, z):
        frames = await frames_until_quiet(client, quiet=0.3)
        assert [f["type"] for f in frames if f["type"] == "event"] == ["event"] * 3

    loop = asyncio.get_running_loop()
    killed = loop.time()
    node2.stop(signal.SIGKILL)
    await post_and_check(node1, sprint, range(4, 7))  # while y is moving to node 3

    await until(lambda: y.connected and y.peer_id != old and applied == [1, 2, 3, 4, 5, 6],
                timeout=15, what="y resumed on node 3 with every event once")
    assert y.signaling.connects == 2
    for client in (x, z):
        frames = await frames_until(client, lambda got: {("left", old), ("joined", y.peer_id)}
                                    <= set(_presence(got)))
        assert loop.time() - killed < PRESENCE_TTL * 2 + 3  # reaped within the TTL (+ slack)
        frames += await frames_until_quiet(client, quiet=0.5)
        # exactly once cluster-wide, whichever survivor reaped node 2
        assert sorted(_presence(frames)) == [("joined", y.peer_id), ("left", old)], dumps(
            frames)
        assert [f["seq"] for f in frames if f["type"] == "event"] == [4, 5, 6]
    newcomer = await clients(node1, sprint)
    peers_seen = [p["peer"] for p in newcomer.welcome["peers"]]
    assert peers_seen == sorted([x.peer, z.peer, str(y.peer_id), newcomer.peer])


def _presence(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the ``presence`` frames among ``frames`` said: ("joined" | "left", peer)."""
    said: list[tuple[str, str]] = []
    for f in frames:
        if f["type"] == "presence":
            said += [("left", p) for p in f["left"]] + [("joined", p["peer"]) for p in f["joined"]]
    return said


async def post_and_check(node: Any, sprint: int, seqs: range) -> None:
    status, body = await asyncio.to_thread(post_events, node,
                                           [event(sprint, s) for s in seqs])
    assert status == 200, body
    assert {r["status"] for r in body["results"]} == {"accepted"}
