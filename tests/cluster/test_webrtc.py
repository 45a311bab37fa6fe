"""WebRTC between peers on different nodes: signaling through Redis, relay across nodes."""

from __future__ import annotations

import pytest

from peer.client import Peer, ReceivedDrag
from tests.cluster.conftest import Peers, StartNodes, until
from tests.peer.conftest import all_see

pytestmark = pytest.mark.redis


def collect(peer: Peer) -> list[ReceivedDrag]:
    got: list[ReceivedDrag] = []
    peer.drags.on(got.append)
    return got


async def test_peers_on_different_nodes_open_a_data_channel_and_relay_reaches_the_third(
        start_nodes: StartNodes, peers: Peers, sprint: int, broker: str) -> None:
    node1, node2, node3 = start_nodes(3, broker=broker)
    a = await peers(node1, sprint, negotiation_timeout=3.0)
    b = await peers(node2, sprint, negotiation_timeout=3.0)
    await until(lambda: a.channel_peers() == {b.peer_id} and b.channel_peers() == {a.peer_id},
                timeout=20, what="a data channel between node 1 and node 2")
    c = await peers(node3, sprint, webrtc=False)  # websocket-only
    await all_see([a, b, c])
    got = {p.peer_id: collect(p) for p in (a, b, c)}

    await a.send_drag(1, "start", status="testing")
    await c.send_drag(2, "start", status="done")
    await until(lambda: len(got[a.peer_id]) == 1 and len(got[b.peer_id]) == 2
                and len(got[c.peer_id]) == 1, what="every drag everywhere")

    assert sorted((r.sender, r.drag.task, r.via) for r in got[b.peer_id]) == sorted(
        [(a.peer_id, 1, "datachannel"), (c.peer_id, 2, "relay")])
    assert [(r.sender, r.drag.task, r.via) for r in got[c.peer_id]] == [
        (a.peer_id, 1, "relay")]
    assert [(r.sender, r.drag.task, r.via) for r in got[a.peer_id]] == [
        (c.peer_id, 2, "relay")]
