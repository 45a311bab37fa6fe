"""The ``Broker`` contract, run against ``MemoryBroker`` and ``RedisBroker`` on one real
Redis and on a real three-master Redis Cluster.

Then what only a shared broker does: several brokers on one Redis prefix (one Redis, or a
Redis Cluster) behave as the nodes of one cluster (fan-out, direct routing, presence, dead
nodes reaped once).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from signaling.auth import NonceClaim, User
from signaling.broker import BrokerError, Envelope, reset_envelope
from signaling.brokers import create_broker
from signaling.history import EventStatus, History
from signaling.memory_broker import MemoryBroker
from signaling.redis_broker import RedisBroker, redact
from tests.redis_util import delete_prefix, require_redis
from tests.signaling.conftest import BrokerNode, NodeFactory, ana, until

pytestmark = pytest.mark.redis


@pytest.fixture(params=["memory", "redis", "cluster"])
async def node(request: pytest.FixtureRequest, nodes: NodeFactory) -> BrokerNode:
    return await nodes(request.param)


def event(sprint: int, seq: int) -> bytes:
    return json.dumps({"type": "event", "sprint": sprint, "seq": seq, "action": "updated",
                       "model": "task", "id": 7, "data": None}).encode()


# the contract ---------------------------------------------------------------------------------
async def test_publish_delivers_on_this_node_at_once(node: BrokerNode) -> None:
    await node.broker.subscribe(1)
    envelope = Envelope(1, b'{"type":"relay"}', "relay", exclude="p1")
    await node.broker.publish(envelope)
    assert node.delivered == [envelope]  # before publish returned, whatever the transport


async def test_direct_delivers_to_a_local_peer(node: BrokerNode) -> None:
    await node.broker.subscribe(1)
    await node.broker.join(1, ana("p2"))
    envelope = Envelope(1, b'{"type":"signal"}', "signal", exclude="p1", to=("p2",))
    await node.broker.direct(envelope)
    assert node.delivered == [envelope]


async def test_presence_lists_peers_in_join_order_until_they_leave(node: BrokerNode) -> None:
    broker = node.broker
    assert await broker.peers(1) == []
    for peer in ("pc", "pa", "pb"):
        await broker.join(1, ana(peer))
    assert [p.peer for p in await broker.peers(1)] == ["pc", "pa", "pb"]
    assert (await broker.peers(1))[0].user == User(id=1, username="ana")
    assert await broker.missing_peers(1, ["pa", "zz", "pb"]) == ["zz"]
    assert await broker.missing_peers(2, ["pa"]) == ["pa"]
    await broker.leave(1, "pa")
    await broker.leave(1, "nobody")
    assert [p.peer for p in await broker.peers(1)] == ["pc", "pb"]
    await broker.leave(1, "pc")
    await broker.leave(1, "pb")
    assert await broker.peers(1) == []


async def test_presence_pages_come_in_peer_id_order_from_a_cursor(node: BrokerNode) -> None:
    broker = node.broker
    empty = await broker.presence_page(1, None, 50)
    assert (empty.members, empty.count, empty.more) == ([], 0, False)
    ids = [f"p{n:03d}" for n in range(120)]
    for peer in reversed(ids):  # joined in the reverse of id order
        await broker.join(1, ana(peer))
    await broker.join(1, ana("p005"))  # joining again changes nothing
    first = await broker.presence_page(1, None, 50)
    assert (list(first.ids), first.count, first.more) == (ids[:50], 120, True)
    assert first.members[0].user == User(id=1, username="ana")
    after = await broker.presence_page(1, "p049", 50)
    assert (list(after.ids), after.more) == (ids[50:100], True)
    last = await broker.presence_page(1, "p099", 50)
    assert (list(last.ids), last.more) == (ids[100:], False)
    gone = await broker.presence_page(1, "p0495", 3)  # a cursor need not be a peer
    assert list(gone.ids) == ["p050", "p051", "p052"]
    await broker.leave(1, "p000")
    await broker.leave(1, "p050")
    page = await broker.presence_page(1, None, 50)
    assert (list(page.ids), page.count) == ([*ids[1:50], "p051"], 118)
    for peer in ids:
        await broker.leave(1, peer)
    assert (await broker.presence_page(1, None, 50)).count == 0


async def test_record_event_accepts_the_next_seq_only(node: BrokerNode) -> None:
    broker = node.broker
    assert await broker.latest(3) is None
    assert await broker.record_event(3, 40, event(3, 40)) is EventStatus.ACCEPTED
    assert await broker.record_event(3, 40, event(3, 40)) is EventStatus.DUPLICATE
    assert await broker.record_event(3, 12, event(3, 12)) is EventStatus.DUPLICATE
    assert await broker.record_event(3, 42, event(3, 42)) is EventStatus.GAP
    assert await broker.record_event(3, 41, event(3, 41)) is EventStatus.ACCEPTED
    assert await broker.latest(3) == 41
    assert await broker.latest(4) is None


async def test_record_event_restarts_the_history_on_reset_or_another_epoch(
        node: BrokerNode) -> None:
    broker = node.broker
    for seq in (1, 2):
        assert await broker.record_event(3, seq, event(3, seq), epoch="a") is EventStatus.ACCEPTED
    assert await broker.record_event(3, 3, event(3, 3), epoch="a",
                                     reset=True) is EventStatus.ACCEPTED  # the next: no reset
    assert await broker.record_event(3, 9, event(3, 9), epoch="a") is EventStatus.GAP
    assert await broker.record_event(3, 9, event(3, 9), epoch="a",
                                     reset=True) is EventStatus.RESET
    assert await broker.events_since(3, 3) is None  # the older history is gone
    assert await broker.events_since(3, 8) == [event(3, 9)]
    assert await broker.record_event(3, 9, event(3, 9), epoch="a",
                                     reset=True) is EventStatus.DUPLICATE
    # A restored database numbers from lower down, in a new epoch: a new history.
    assert await broker.record_event(3, 4, event(3, 4), epoch="b") is EventStatus.RESET
    assert await broker.latest(3) == 4
    assert await broker.record_event(3, 5, event(3, 5), epoch="b") is EventStatus.ACCEPTED
    assert await broker.events_since(3, 3) == [event(3, 4), event(3, 5)]
    assert await broker.record_event(4, 1, event(4, 1), reset=True) is EventStatus.RESET


async def test_nonces_are_claimed_once_and_can_be_given_back(node: BrokerNode) -> None:
    broker = node.broker
    now = int(time.time())
    assert await broker.claim_nonce("nonce-0123456789ab", now, 5) is NonceClaim.FRESH
    assert await broker.claim_nonce("nonce-0123456789ab", now, 5) is NonceClaim.REPLAYED
    await broker.release_nonce("nonce-0123456789ab")
    assert await broker.claim_nonce("nonce-0123456789ab", now, 5) is NonceClaim.FRESH
    # Signed before the broker's replay memory began (its start): maybe seen already.
    assert await broker.claim_nonce("nonce-fedcba987654", now - 60,
                                    5) is NonceClaim.BEFORE_MEMORY


async def test_events_since_replays_what_the_history_covers(node: BrokerNode) -> None:
    broker = node.broker  # history of 5 events
    assert await broker.events_since(5, 0) is None  # nothing known: resync
    for seq in range(1, 9):
        assert await broker.record_event(5, seq, event(5, seq)) is EventStatus.ACCEPTED
    assert await broker.events_since(5, 5) == [event(5, s) for s in (6, 7, 8)]
    assert await broker.events_since(5, 3) == [event(5, s) for s in range(4, 9)]
    assert await broker.events_since(5, 2) is None  # seq 3 was dropped by the count cap
    assert await broker.events_since(5, 8) == []
    assert await broker.events_since(5, 99) == []


async def test_events_past_the_age_limit_are_not_replayed(nodes: NodeFactory) -> None:
    for kind in ("memory", "redis", "cluster"):
        node = await nodes(kind, history=History(max_size=10, max_age=0.3))
        await node.broker.record_event(6, 1, event(6, 1))
        await asyncio.sleep(0.4)
        await node.broker.record_event(6, 2, event(6, 2))
        assert await node.broker.events_since(6, 1) == [event(6, 2)], kind
        assert await node.broker.events_since(6, 0) is None, kind
        assert await node.broker.latest(6) == 2, kind


def test_create_broker_by_url() -> None:
    history = History()
    assert isinstance(create_broker("memory://", print, history), MemoryBroker)
    broker = create_broker("redis://:hunter2@127.0.0.1:6379/0", print, history)
    assert isinstance(broker, RedisBroker)
    assert broker.label == "redis://***@127.0.0.1:6379/0"
    assert redact("rediss://u:p@h:1/2") == "rediss://u:***@h:1/2"
    with pytest.raises(BrokerError, match="unknown scheme"):
        create_broker("kafka://x", print, history)
    with pytest.raises(BrokerError, match="redis://"):
        create_broker("redis://127.0.0.1:6379/notadb", print, history)
    cluster = create_broker("rediss+cluster://u:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002", print,
                            history)
    assert isinstance(cluster, RedisBroker)
    assert cluster.label == "rediss+cluster://u:***@10.0.0.1:7000,10.0.0.2,[::1]:7002"
    target = cluster.link.target
    assert (target.cluster, target.seeds, target.username, target.password, target.tls) == (
        True, (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)), "u", "pw", True)
    for bad, why in [("redis+cluster://", "host"), ("redis+cluster://h:1/2", "database"),
                     ("redis+cluster://h:1?x=1", "options"), ("redis+cluster://h:99999", "h:99999"),
                     ("redis+cluster://h:1,,k:x", "k:x")]:
        with pytest.raises(BrokerError, match=why):
            create_broker(bad, print, history)
    with pytest.raises(BrokerError, match="must not contain"):  # a brace would be the hash tag
        create_broker("redis://127.0.0.1:6379/0", print, history, prefix="wc{x}:")


# several nodes on one Redis -------------------------------------------------------------------
async def test_an_envelope_reaches_every_subscribed_node_once(nodes: NodeFactory,
                                                             shared: str) -> None:
    a, b, c = await nodes(shared), await nodes(shared), await nodes(shared)
    for n in (a, b):
        await n.broker.subscribe(1)
    envelope = Envelope(1, b'{"type":"relay","from":"p1","data":{}}', "relay", exclude="p1")
    await a.broker.publish(envelope)
    await until(lambda: len(b.delivered) == 1)
    await asyncio.sleep(0.2)
    assert a.delivered == [envelope]  # its own copy from the bus is ignored
    assert b.delivered == [envelope]
    assert c.delivered == []  # not subscribed to the sprint


async def test_events_are_recorded_once_cluster_wide_and_reach_every_node(
        nodes: NodeFactory, shared: str) -> None:
    a, b = await nodes(shared), await nodes(shared)
    for n in (a, b):
        await n.broker.subscribe(2)
    for seq in (1, 2, 3):
        assert await a.broker.record_event(2, seq, event(2, seq)) is EventStatus.ACCEPTED
        await a.broker.publish(Envelope(2, event(2, seq), "event"))
    assert await b.broker.record_event(2, 3, event(2, 3)) is EventStatus.DUPLICATE
    assert await b.broker.record_event(2, 5, event(2, 5)) is EventStatus.GAP
    await until(lambda: len(b.delivered) == 3)
    await asyncio.sleep(0.2)
    assert [f["seq"] for f in a.frames("event")] == [1, 2, 3]
    assert [f["seq"] for f in b.frames("event")] == [1, 2, 3]
    assert await b.broker.events_since(2, 1) == [event(2, 2), event(2, 3)]


async def test_direct_goes_to_the_node_holding_the_peer_only(nodes: NodeFactory,
                                                            shared: str) -> None:
    a, b, c = await nodes(shared), await nodes(shared), await nodes(shared)
    for n in (a, b, c):
        await n.broker.subscribe(3)
    await a.broker.join(3, ana("pa"))
    await b.broker.join(3, ana("pb"))
    await c.broker.join(3, ana("pc"))
    assert [p.peer for p in await c.broker.peers(3)] == ["pa", "pb", "pc"]
    assert await a.broker.missing_peers(3, ["pb", "pc", "gone"]) == ["gone"]
    envelope = Envelope(3, b'{"type":"signal","from":"pa","data":{}}', "signal",
                        exclude="pa", to=("pb",))
    await a.broker.direct(envelope)
    await until(lambda: len(b.delivered) == 1)
    await asyncio.sleep(0.2)
    assert b.delivered == [envelope]
    assert a.delivered == c.delivered == []


async def test_a_dead_nodes_peers_are_reaped_once_with_peer_left(nodes: NodeFactory,
                                                                shared: str) -> None:
    a, b, c = [await nodes(shared, presence_ttl=0.6) for _ in range(3)]
    for n in (a, b, c):
        await n.broker.subscribe(4)
    await b.broker.join(4, ana("pb1"))
    await b.broker.join(4, ana("pb2"))
    await a.broker.join(4, ana("pa"))
    assert len(await a.broker.peers(4)) == 3
    dead = b.broker
    assert isinstance(dead, RedisBroker)
    for task in dead._tasks:  # the node stops dead: no heartbeat, no goodbye
        task.cancel()
    await until(lambda: len(a.frames("presence")) == 2 and len(c.frames("presence")) == 2,
                timeout=5)
    await asyncio.sleep(0.5)
    for n in (a, c):
        frames = n.frames("presence")
        assert sorted(f["peer"] for f in frames) == ["pb1", "pb2"]
        assert {f["type"] for f in frames} == {"peer_left"}
    assert [p.peer for p in await c.broker.peers(4)] == ["pa"]
    page = await c.broker.presence_page(4, None, 50)
    assert (list(page.ids), page.count) == (["pa"], 1)


async def test_a_reset_reaches_every_node_as_resync_then_the_event(nodes: NodeFactory,
                                                                  shared: str) -> None:
    """Also at a lower seq (a new epoch): the nodes' dedupe by seq must let it through."""
    a, b = await nodes(shared), await nodes(shared)
    for n in (a, b):
        await n.broker.subscribe(5)
    for seq in (1, 2, 3):
        assert await a.broker.record_event(5, seq, event(5, seq), epoch="a") is EventStatus.ACCEPTED
        await a.broker.publish(Envelope(5, event(5, seq), "event"))
    await until(lambda: len(b.delivered) == 3)
    assert await a.broker.record_event(5, 2, event(5, 2), epoch="b") is EventStatus.RESET
    await a.broker.publish(reset_envelope(5, 2))
    await a.broker.publish(Envelope(5, event(5, 2), "event"))
    await until(lambda: len(b.delivered) == 5)
    await asyncio.sleep(0.2)
    for n in (a, b):
        assert [(f["type"], f.get("seq", f.get("latest"))) for f in n.frames()] == [
            ("event", 1), ("event", 2), ("event", 3), ("resync", 2), ("event", 2)]


async def test_nonces_are_shared_by_every_node_and_outlive_them(
        nodes: NodeFactory, prefix: str, shared: str, request: pytest.FixtureRequest) -> None:
    a, b = await nodes(shared), await nodes(shared)
    now = int(time.time())
    assert await a.broker.claim_nonce("shared-nonce-0123", now, 5) is NonceClaim.FRESH
    assert await b.broker.claim_nonce("shared-nonce-0123", now, 5) is NonceClaim.REPLAYED
    await a.broker.close()
    c = await nodes(shared)  # a node started later (a restart) remembers it too
    assert await c.broker.claim_nonce("shared-nonce-0123", now, 5) is NonceClaim.REPLAYED
    # Redis lost its keys (restarted empty, flushed): what was signed before is refused.
    client = (require_redis() if shared == "redis"
              else request.getfixturevalue("redis_cluster").client())
    delete_prefix(client, prefix)
    client.close()
    assert await c.broker.claim_nonce("shared-nonce-0123", now - 1,
                                      5) is NonceClaim.BEFORE_MEMORY
    assert await c.broker.claim_nonce("fresh-nonce-01234", int(time.time()) + 1,
                                      5) is NonceClaim.FRESH
