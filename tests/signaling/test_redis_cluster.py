"""What Redis Cluster adds to the Redis broker: a sprint's keys and channel on one shard, its
broadcasts on that shard only, subscriptions that follow a slot moved to another shard, and
the reap of a dead node in one-slot steps that another survivor can finish."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from signaling.broker import Envelope
from signaling.history import EventStatus, History
from signaling.redis_broker import RedisBroker
from tests.redis_cluster import LocalRedisCluster
from tests.signaling.conftest import BrokerNode, NodeFactory, ana, until

pytestmark = pytest.mark.redis


def redis_of(node: BrokerNode) -> RedisBroker:
    assert isinstance(node.broker, RedisBroker)
    return node.broker


def event(sprint: int, seq: int) -> bytes:
    return json.dumps({"type": "event", "sprint": sprint, "seq": seq}).encode()


def seqs(node: BrokerNode) -> list[Any]:
    return [f["seq"] for f in node.frames("event")]


def sprints_on_two_shards(cluster: LocalRedisCluster, broker: RedisBroker) -> tuple[int, int]:
    """Two sprint ids whose slots two different masters own."""
    first = 100
    owner = cluster.owner(broker.keys.sprint_channel(first))
    other = next(s for s in range(101, 200)
                 if cluster.owner(broker.keys.sprint_channel(s)) != owner)
    return first, other


def publishes_received(cluster: LocalRedisCluster) -> dict[int, int]:
    """Per master: classic PUBLISH messages it got over the cluster bus (every master gets
    every one), and sharded ones (only the shard's replicas would)."""
    out = {}
    for port in cluster.ports:
        info = cluster.node(port).cluster("info")
        out[port] = sum(int(info.get(f"cluster_stats_messages_{kind}_received", 0))
                        for kind in ("publish", "publishshard"))
    return out


async def test_a_sprints_keys_share_its_channels_slot_and_a_nodes_keys_its_own(
        nodes: NodeFactory, redis_cluster: LocalRedisCluster, prefix: str) -> None:
    node = await nodes("cluster")
    broker = redis_of(node)
    await broker.subscribe(7)
    await broker.join(7, ana("p1"))
    assert await broker.record_event(7, 1, event(7, 1), epoch="e") is EventStatus.ACCEPTED
    client = redis_cluster.client()
    keys = {k.decode() for k in client.scan_iter(match=prefix + "*", count=1000)}

    sprint = sorted(k for k in keys if "{s7}" in k)
    assert sprint == [f"{prefix}{{s7}}:{name}" for name in ("epoch", "events", "latest", "peers",
                                                            "presence")]
    slot = client.keyslot(broker.keys.sprint_channel(7))
    assert {client.keyslot(k) for k in sprint} == {slot}
    owner = redis_cluster.node(redis_cluster.owner(sprint[0]))  # no redirect: they are here
    assert owner.exists(*sprint) == 5

    node_keys = sorted(k for k in keys if f"{{n{broker.node_id}}}" in k)
    assert node_keys == [f"{prefix}{{n{broker.node_id}}}:{name}"
                         for name in ("alive", "gen", "sprints")]
    assert {client.keyslot(k) for k in [*node_keys, broker.keys.node_channel(broker.node_id)]
            } == {client.keyslot(node_keys[0])}
    # The rest is global, each in a slot of its own: the registry and the replay memory.
    assert keys - set(sprint) - set(node_keys) == {f"{prefix}nodes", f"{prefix}{{nonces}}:since"}


async def test_a_sprints_broadcast_stays_on_the_shard_that_owns_it(
        nodes: NodeFactory, redis_cluster: LocalRedisCluster) -> None:
    a, b, x = [await nodes("cluster") for _ in range(3)]
    here, elsewhere = sprints_on_two_shards(redis_cluster, redis_of(a))
    for n in (a, b):
        await n.broker.subscribe(here)
    await x.broker.subscribe(elsewhere)  # x listens only to another shard's sprint
    before = publishes_received(redis_cluster)

    for i in range(20):
        a.broker.publish_now(json_envelope(here, i))
    await until(lambda: len(b.delivered) == 20)
    await asyncio.sleep(0.3)
    assert [json.loads(e.frame)["n"] for e in b.delivered] == list(range(20))
    assert x.delivered == []
    channel = redis_of(a).keys.sprint_channel(here)
    owner = redis_cluster.node(redis_cluster.owner(channel))
    assert owner.execute_command("PUBSUB", "SHARDNUMSUB", channel) == [channel.encode(), 2]
    # No other master carried any of it (classic pub/sub sends each message to all).
    assert publishes_received(redis_cluster) == before
    redis_cluster.client().publish("classic", "x")  # what the counters would have shown
    await until(lambda: all(n == before[p] + 1 for p, n in publishes_received(
        redis_cluster).items() if p != redis_cluster.owner("classic")))


def json_envelope(sprint: int, n: int) -> Envelope:
    return Envelope(sprint, json.dumps({"type": "relay", "n": n}).encode(), "relay",
                    exclude="p0")


async def test_subscribers_follow_a_sprint_whose_slot_moves_and_miss_no_event(
        nodes: NodeFactory, redis_cluster: LocalRedisCluster) -> None:
    a, b = await nodes("cluster"), await nodes("cluster")
    sprint = 300
    for n in (a, b):
        await n.broker.subscribe(sprint)
    for seq in (1, 2):
        assert await a.broker.record_event(sprint, seq, event(sprint, seq)) is EventStatus.ACCEPTED
    await until(lambda: seqs(b) == [1, 2])

    channel = redis_of(a).keys.sprint_channel(sprint)
    to = next(p for p in redis_cluster.ports if p != redis_cluster.owner(channel))
    await asyncio.to_thread(redis_cluster.move_slot, channel, to)
    assert redis_cluster.owner(channel) == to
    # At once: b may not listen on the new shard yet; it catches up from the history.
    assert await a.broker.record_event(sprint, 3, event(sprint, 3)) is EventStatus.ACCEPTED
    await until(lambda: seqs(b) == [1, 2, 3], timeout=10)
    assert await a.broker.record_event(sprint, 4, event(sprint, 4)) is EventStatus.ACCEPTED
    a.broker.publish_now(json_envelope(sprint, 1))
    await until(lambda: len(b.frames("relay")) == 1, timeout=10)
    await asyncio.sleep(0.3)
    assert seqs(b) == [1, 2, 3, 4]  # once each
    assert a.broker.up and b.broker.up  # followed, never degraded


async def test_a_reap_left_midway_is_finished_by_another_survivor_once(
        nodes: NodeFactory, shared: str) -> None:
    a, b, c = [await nodes(shared) for _ in range(3)]
    dead = redis_of(b)
    for sprint, peer in [(1, "b1"), (1, "b2"), (2, "b3"), (3, "b4")]:
        for n in (a, c):
            await n.broker.subscribe(sprint)
        await dead.join(sprint, ana(peer))
    await c.broker.join(2, ana("c1"))
    for task in dead._tasks:  # b stops dead, and its heartbeat runs out
        task.cancel()
    await dead.fanout.bus.stop()
    await dead.link.redis.delete(dead.keys.alive(dead.node_id))

    first = redis_of(a).presence.reaper
    first.lease_ms = 300
    claim = await first.claim(dead.node_id)
    assert claim is not None and claim.sprints == (1, 2, 3)
    assert await first.sweep(claim, 1) == 2
    assert await first.advance(claim, 1) == "ok"
    # a dies here. Its lease holds for a while; then c takes over and finishes.
    second = redis_of(c).presence.reaper
    assert await second.claim(dead.node_id) is None
    await asyncio.sleep(0.4)
    assert await second.reap(dead.node_id) == 2

    for n in (a, c):
        await until(lambda n=n: len(n.frames("presence")) == 4)
    await asyncio.sleep(0.3)
    for n in (a, c):
        assert sorted((f["type"], f["peer"]) for f in n.frames("presence")) == [
            ("peer_left", p) for p in ("b1", "b2", "b3", "b4")]
    assert [p.peer for s in (1, 2, 3) for p in await c.broker.peers(s)] == ["c1"]
    client = dead.link.redis
    assert not await client.sismember(dead.keys.nodes, dead.node_id)
    assert not await client.exists(dead.keys.node_sprints(dead.node_id),
                                   dead.keys.generation(dead.node_id),
                                   dead.keys.reaper(dead.node_id))


async def test_a_node_back_during_its_reap_keeps_its_peers(nodes: NodeFactory,
                                                           shared: str) -> None:
    a, b = await nodes(shared), await nodes(shared)
    slow = redis_of(b)
    for sprint, peer in [(1, "b1"), (2, "b2")]:
        await a.broker.subscribe(sprint)
        await slow.join(sprint, ana(peer))
    await slow.link.redis.delete(slow.keys.alive(slow.node_id))  # b was too slow a while

    reaper = redis_of(a).presence.reaper
    claim = await reaper.claim(slow.node_id)
    assert claim is not None and claim.sprints == (1, 2)
    assert await reaper.sweep(claim, 1) == 1
    # b beats again: its heartbeat had lapsed, so it registers its peers anew.
    assert await slow.presence.beat() is True
    await slow.presence.register()
    assert await reaper.advance(claim, 1) == "revived"
    assert await reaper.sweep(claim, 2) == 0  # b2 is under b's new generation

    await until(lambda: len(a.frames("presence")) == 2)
    await asyncio.sleep(0.3)
    assert [(f["type"], f["peer"]) for f in a.frames("presence")] == [
        ("peer_left", "b1"), ("peer_joined", "b1")]
    assert [p.peer for s in (1, 2) for p in await a.broker.peers(s)] == ["b1", "b2"]
    assert await slow.link.redis.sismember(slow.keys.nodes, slow.node_id)


async def test_a_url_of_the_wrong_kind_keeps_the_node_degraded_saying_which_to_use(
        redis_cluster: LocalRedisCluster, prefix: str) -> None:
    one_node_of_the_cluster = f"redis://127.0.0.1:{redis_cluster.ports[0]}/0"
    for url, why in [(one_node_of_the_cluster, "use --broker redis+cluster://"),
                     ("redis+cluster://127.0.0.1:6379", "Cluster mode is not enabled")]:
        broker = RedisBroker(url, print, History(), prefix=prefix)
        await broker.start()
        try:
            assert not broker.up
            assert broker.last_error is not None and why in broker.last_error, url
        finally:
            await broker.close()
