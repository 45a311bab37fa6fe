"""Redis lost, restarted, or out of reach of one node: local service goes on, the node says
it is degraded, POST /events/ is refused with 503 (Django retries), and after reconnecting
every client has every event: live, caught up from Redis's history, or told to resync."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.cluster.conftest import (
    Clients,
    StartNodes,
    dumps,
    frames_until_quiet,
    healthz,
    until_async,
)
from tests.redis_util import RedisServer
from tests.servers import RealtimeServer
from tests.signaling.conftest import Client, event, post_events

pytestmark = pytest.mark.redis


async def post(node: RealtimeServer, sprint: int, seqs: range) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(post_events, node, [event(sprint, s) for s in seqs])


async def accepted(node: RealtimeServer, sprint: int, seqs: range) -> None:
    status, body = await post(node, sprint, seqs)
    assert status == 200, body
    assert {r["status"] for r in body["results"]} == {"accepted"}, body


async def health_becomes(node: RealtimeServer, status: int, timeout: float = 10) -> None:
    async def check() -> bool:
        return (await healthz(node))[0] == status
    await until_async(check, timeout, f"/healthz {status} on node {node.port}")


async def events_of(client: Client, quiet: float = 0.7) -> list[Any]:
    """The seqs of the event frames (and resync latests) ``client`` got until quiet."""
    frames = await frames_until_quiet(client, quiet=quiet)
    return [f["seq"] if f["type"] == "event" else ("resync", f["latest"])
            for f in frames if f["type"] in ("event", "resync")]


async def test_redis_restarted_mid_stream(redis_server: RedisServer, start_nodes: StartNodes,
                                          clients: Clients, sprint: int) -> None:
    node1, node2 = start_nodes(2, broker=redis_server.url)
    a1, a2, b = await clients(node1, sprint), await clients(node1, sprint), await clients(
        node2, sprint)
    await accepted(node1, sprint, range(1, 3))
    for client in (a1, a2, b):
        assert await events_of(client, quiet=0.4) == [1, 2]

    redis_server.stop()
    for node in (node1, node2):
        await health_becomes(node, 503)
        status, body = await healthz(node)
        assert body["status"] == "degraded" and body["error"] == "broker_unavailable", body
        assert node.metric("watercooler_broker_up") == 0
    status, body = await post(node1, sprint, range(3, 4))
    assert status == 503 and body["error"] == "broker_unavailable", body
    # This node's own connections are still served.
    await a1.send({"type": "relay", "data": {"type": "note", "n": 1}})
    assert await a2.recv_type("relay") == {"type": "relay", "from": a1.peer,
                                           "data": {"type": "note", "n": 1}}

    redis_server.start()  # same port, empty: no history, no presence
    for node in (node1, node2):
        await health_becomes(node, 200)
        assert node.metric("watercooler_broker_up") == 1
        assert node.metric("watercooler_broker_reconnects_total") >= 1
    await accepted(node1, sprint, range(3, 5))  # Django's retry, then the next one
    for client in (a1, a2, b):
        assert await events_of(client) == [3, 4]
    # Presence was registered again: a newcomer on node 2 sees everyone.
    newcomer = await clients(node2, sprint)
    assert [p["peer"] for p in newcomer.welcome["peers"]] == sorted(
        [a1.peer, a2.peer, b.peer, newcomer.peer])
    assert newcomer.welcome["seq"] == 4


async def test_a_node_cut_off_from_redis_catches_up_or_resyncs_its_clients(
        redis_server: RedisServer, start_nodes: StartNodes, clients: Clients,
        sprint: int) -> None:
    admin = redis_server.client()
    admin.acl_setuser("node2", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                      commands=["+@all"])
    (node1,) = start_nodes(1, "--history-size=3", broker=redis_server.url)
    (node2,) = start_nodes(1, "--history-size=3",
                           broker=f"redis://node2:pw@127.0.0.1:{redis_server.port}/0")
    a, b = await clients(node1, sprint), await clients(node2, sprint)
    await accepted(node1, sprint, range(1, 2))
    for client in (a, b):
        assert await events_of(client, quiet=0.4) == [1]

    async def cut_off_node2() -> None:  # its credentials revoked, its connections dropped
        admin.acl_setuser("node2", enabled=False)
        admin.execute_command("CLIENT", "KILL", "USER", "node2")
        await health_becomes(node2, 503)

    async def restore_node2() -> None:
        admin.acl_setuser("node2", enabled=True)
        await health_becomes(node2, 200)

    # Missed events still in Redis's history: delivered on reconnect, in order.
    await cut_off_node2()
    await accepted(node1, sprint, range(2, 4))
    await restore_node2()
    assert await events_of(a) == [2, 3]
    assert await events_of(b) == [2, 3]

    # Missed more than the history keeps (3): its clients are told to resync.
    await cut_off_node2()
    await accepted(node1, sprint, range(4, 9))
    await restore_node2()
    assert await events_of(a) == [4, 5, 6, 7, 8]
    got = await events_of(b)
    assert got == [("resync", 8)], dumps(got)
    assert node2.metric("watercooler_broker_resyncs_total") == 1

    await accepted(node1, sprint, range(9, 10))
    for client in (a, b):
        assert await events_of(client) == [9]
    admin.close()
