"""No client-supplied list makes the server do (or keep) more than one entry per real peer.

A ``relay`` naming the same peer many times is one frame; a ``channels`` report counts only
peers that are really in the sender's sprint, each once, and none of it outlives the
connections (docs/protocol.md §4, §5).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest

from tests.redis_util import REDIS_URL
from tests.servers import RealtimeServer
from tests.signaling.conftest import Client, Connect, settle

DRAG = {"type": "drag", "seq": 1, "task": 7, "phase": "start"}


async def _settle(*clients: Client) -> None:
    """Wait until every client sees the others (their presence frames read)."""
    await settle(*clients)


async def _count_relays(client: Client) -> int:
    count = 0
    while True:
        try:
            frame = await client.recv(timeout=0.5)
        except TimeoutError:
            return count
        assert frame["type"] == "relay", frame
        count += 1


def _invented(n: int) -> list[str]:
    return [secrets.token_urlsafe(12) for _ in range(n)]


async def test_a_relay_naming_a_peer_64_times_is_delivered_once(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    ana, ben, cid = await connect(sprint), await connect(sprint), await connect(sprint)
    await _settle(ana, ben, cid)
    deliveries = server.metric("watercooler_relay_deliveries_total")
    await ana.send({"type": "relay", "to": [ben.peer] * 64, "data": DRAG})
    await ana.send({"type": "relay", "to": [cid.peer, ben.peer, cid.peer], "data": DRAG})
    assert await _count_relays(ben) == 2
    assert await _count_relays(cid) == 1
    await ana.silent()
    assert server.metric("watercooler_relay_deliveries_total") == deliveries + 3


async def test_more_than_64_names_are_refused_even_when_they_repeat(connect: Connect,
                                                                    sprint: int) -> None:
    ana, ben = await connect(sprint), await connect(sprint)
    await _settle(ana, ben)
    await ana.send({"type": "relay", "to": [ben.peer] * 65, "data": DRAG})
    assert await ana.recv() == {"type": "error", "code": "bad_field", "field": "to",
                                "message": "to: must be a non-empty list of at most 64 peer ids"}
    await ana.send({"type": "channels", "peers": [ben.peer] * 65})
    assert await ana.recv() == {"type": "error", "code": "bad_field", "field": "peers",
                                "message": "peers: must be a list of at most 64 peer ids"}
    await ben.silent()


async def _pairs(server: RealtimeServer, expected: float) -> float:
    """The ``datachannel_pairs`` gauge once it reads ``expected`` (or after a few seconds)."""
    value = server.metric("watercooler_datachannel_pairs")
    for _ in range(50):
        if value == expected:
            break
        await asyncio.sleep(0.1)
        value = server.metric("watercooler_datachannel_pairs")
    return value


async def test_channels_naming_invented_peers_count_nothing_and_hold_nothing(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    assert await _pairs(server, 0) == 0
    clients = [await connect(sprint) for _ in range(20)]
    for client in clients:
        await client.send({"type": "channels", "peers": _invented(64)})
    for client in clients:  # each report has been handled once its next frame is
        await client.send({"type": "resume", "since": 0})
        assert (await client.recv_type("resync"))["type"] == "resync"
    assert await _pairs(server, 0) == 0
    await asyncio.gather(*(c.close() for c in clients))
    assert await _pairs(server, 0) == 0


async def test_channels_count_real_pairs_once_and_forget_them_when_peers_leave(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    ana, ben, cid = await connect(sprint), await connect(sprint), await connect(sprint)
    zed = await connect(sprint + 100_000)  # a real peer, but of another sprint
    await _settle(ana, ben, cid)
    await ana.send({"type": "channels", "peers": [ben.peer, ben.peer, cid.peer, ana.peer,
                                                  zed.peer, *_invented(10)]})
    await ben.send({"type": "channels", "peers": [ana.peer]})
    assert await _pairs(server, 2) == 2  # {ana, ben} and {ana, cid}
    await ana.silent()  # a report is never answered, not even for the ids it left out
    await ana.send({"type": "channels", "peers": [cid.peer]})  # ana's channel to ben closed
    assert await _pairs(server, 2) == 2  # ben still reports {ana, ben}
    await ben.close()
    assert await _pairs(server, 1) == 1
    await ana.close()
    assert await _pairs(server, 0) == 0


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[RealtimeServer, RealtimeServer]]:
    prefix = f"wctest:{secrets.token_hex(6)}:"
    args = (f"--broker={REDIS_URL}", f"--redis-prefix={prefix}")
    with RealtimeServer(*args) as one, RealtimeServer(*args) as two:
        yield one, two
    from tests.redis_util import delete_prefix, require_redis

    client = require_redis()
    delete_prefix(client, prefix)
    client.close()


async def test_channels_with_a_peer_on_another_node_count_until_it_leaves(
        connect: Connect, sprint: int, two_nodes: tuple[RealtimeServer, RealtimeServer]
) -> None:
    one, two = two_nodes
    ana = await connect(sprint, server=one)
    ben = await connect(sprint, server=two)
    cid = await connect(sprint, server=two)
    await ana.joined()
    await ana.send({"type": "channels", "peers": [ben.peer, cid.peer, *_invented(5)]})
    assert await _pairs(one, 2) == 2
    await ben.close()  # leaves on node two: node one hears it as peer_left
    assert await ana.left(ben.peer) == ben.peer
    assert await _pairs(one, 1) == 1
    await ana.close()
    assert await _pairs(one, 0) == 0
