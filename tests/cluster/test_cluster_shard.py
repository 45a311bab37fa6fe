"""Nodes on a Redis Cluster whose shard holding a sprint crashes and comes back empty: the
nodes say they are degraded and keep serving their own connections, POST /events/ is refused
with 503 (Django retries), and once the shard is back every client gets the new events and a
newcomer sees everyone again. The cluster is this test's own (it kills a master)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import Clients, StartNodes
from tests.cluster.test_redis_outage import accepted, events_of, health_becomes, post
from tests.processes import ROOT
from tests.redis_cluster import LocalRedisCluster

pytestmark = pytest.mark.redis


@pytest.fixture
def own_cluster() -> Iterator[LocalRedisCluster]:
    cluster = LocalRedisCluster(log_dir=ROOT / "test-artifacts")
    try:
        yield cluster.start()
    finally:
        cluster.stop()


async def test_a_shard_lost_and_back_empty_mid_stream(own_cluster: LocalRedisCluster,
                                                       start_nodes: StartNodes, clients: Clients,
                                                       sprint: int, prefix: str) -> None:
    node1, node2 = start_nodes(2, broker=own_cluster.url)
    a1, a2, b = await clients(node1, sprint), await clients(node1, sprint), await clients(
        node2, sprint)
    await accepted(node1, sprint, range(1, 3))
    for client in (a1, a2, b):
        assert await events_of(client, quiet=0.4) == [1, 2]

    shard = own_cluster.owner(f"{prefix}{{s{sprint}}}:bus")
    own_cluster.stop_node(shard)
    for node in (node1, node2):
        await health_becomes(node, 503)
        assert node.metric("watercooler_broker_up") == 0
    status, body = await post(node1, sprint, range(3, 4))
    assert status == 503 and body["error"] == "broker_unavailable", body
    await a1.send({"type": "relay", "data": {"type": "note", "n": 1}})  # local service goes on
    assert await a2.recv_type("relay") == {"type": "relay", "from": a1.peer,
                                           "data": {"type": "note", "n": 1}}

    await asyncio.to_thread(own_cluster.start_node, shard)  # same slots, no data
    await asyncio.to_thread(own_cluster.wait_ok)
    for node in (node1, node2):
        await health_becomes(node, 200, timeout=20)
    await accepted(node1, sprint, range(3, 5))  # Django's retry, then the next one
    for client in (a1, a2, b):
        assert await events_of(client) == [3, 4]
    newcomer = await clients(node2, sprint)
    assert [p["peer"] for p in newcomer.welcome["peers"]] == sorted(
        [a1.peer, a2.peer, b.peer, newcomer.peer])
    assert newcomer.welcome["seq"] == 4
