"""Relay fallback per remote peer: websocket-only peers, impossible ICE, broken channels."""

from __future__ import annotations

import asyncio

from peer.client import Peer, ReceivedDrag
from peer.ice import block_all
from peer.remote import Link
from tests.peer.conftest import PeerFactory, all_see, until
from tests.servers import RealtimeServer


def collect(peer: Peer) -> list[ReceivedDrag]:
    got: list[ReceivedDrag] = []
    peer.drags.on(got.append)
    return got


def tasks_by_via(got: list[ReceivedDrag]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for r in got:
        out.setdefault(r.drag.task, set()).add(r.via)
    return out


async def test_websocket_only_peer_gets_relay_while_others_stay_peer_to_peer(
        server: RealtimeServer, peers: PeerFactory, sprint: int) -> None:
    a, b, c = [await peers(sprint, negotiation_timeout=2.0) for _ in range(3)]
    d = await peers(sprint, webrtc=False)
    assert d.mesh is None
    await all_see([a, b, c, d])
    await until(lambda: all(p.channel_peers() == {q.peer_id for q in (a, b, c) if q is not p}
                            for p in (a, b, c)), what="A, B, C mesh")
    got = {p.peer_id: collect(p) for p in (a, b, c, d)}
    relayed = server.sprint_metric("watercooler_relayed_total", sprint)

    await a.send_drag(1, "start", status="in_progress")
    await a.send_drag(1, "end", status="done")
    await d.send_drag(2, "start", status="testing")
    await d.send_drag(2, "end", status="testing")
    await until(lambda: all(len(g) == (2 if pid in (a.peer_id, d.peer_id) else 4)
                            for pid, g in got.items()), what="every drag everywhere")

    assert tasks_by_via(got[d.peer_id]) == {1: {"relay"}}
    assert tasks_by_via(got[a.peer_id]) == {2: {"relay"}}
    for p in (b, c):
        assert tasks_by_via(got[p.peer_id]) == {1: {"datachannel"}, 2: {"relay"}}
    assert server.sprint_metric("watercooler_relayed_total", sprint) > relayed
    # D never answered: A, B and C gave the pair up and use relay for good.
    await until(lambda: all(p.mesh is not None and p.mesh.peers[str(d.peer_id)].link
                            is Link.FAILED for p in (a, b, c)), timeout=6)
    assert all(p.channel_peers() == {q.peer_id for q in (a, b, c) if q is not p}
               for p in (a, b, c))


async def test_impossible_ice_falls_back_to_relay(peers: PeerFactory, sprint: int) -> None:
    a = await peers(sprint, ice_filter=block_all, negotiation_timeout=2.0)
    b = await peers(sprint, negotiation_timeout=2.0)
    got = collect(b)
    await all_see([a, b])
    await a.send_drag(4, "start", status="not_started")  # negotiating: goes by relay
    await until(lambda: a.mesh is not None and b.peer_id in a.mesh.peers
                and a.mesh.peers[str(b.peer_id)].link is Link.FAILED, timeout=8,
                what="the pair is given up")
    await a.send_drag(4, "move", x=0.5, y=0.5)
    await a.send_drag(4, "end", status="done")
    await until(lambda: [r.drag.phase for r in got] == ["start", "move", "end"])
    assert {r.via for r in got} == {"relay"}
    assert a.channel_peers() == frozenset() and b.channel_peers() == frozenset()


async def test_broken_channel_resends_start_by_relay(server: RealtimeServer,
                                                     peers: PeerFactory, sprint: int) -> None:
    a = await peers(sprint)
    b = await peers(sprint)
    await until(lambda: a.channel_peers() == {b.peer_id} and b.channel_peers() == {a.peer_id})
    got = collect(b)
    await a.send_drag(8, "start", status="testing")
    await until(lambda: len(got) == 1)
    relayed = server.sprint_metric("watercooler_relayed_total", sprint)

    assert b.mesh is not None
    await b.mesh.peers[str(a.peer_id)].pc.close()  # B's side of the pair dies
    await until(lambda: a.channel_peers() == frozenset(), what="A notices")
    await until(lambda: server.sprint_metric("watercooler_relayed_total", sprint) > relayed,
                what="A re-sends its start by relay")
    await a.send_drag(8, "end", status="done")
    await until(lambda: [r.drag.phase for r in got] == ["start", "end"])
    assert got[-1].via == "relay"  # the duplicate start was dropped by seq


async def test_other_sprint_can_neither_receive_drags_nor_signal_in(
        peers: PeerFactory, sprint: int) -> None:
    a = await peers(sprint)
    b = await peers(sprint)
    x = await peers(sprint + 1000)
    got_x, got_a = collect(x), collect(a)
    await until(lambda: a.channel_peers() == {b.peer_id})
    await a.send_drag(1, "start")

    assert await x.signaling.send({"type": "signal", "to": a.peer_id,
                                   "data": {"description": {"type": "offer", "sdp": "v=0"}}})
    assert await x.signaling.send({"type": "relay", "to": [a.peer_id],
                                   "data": {"type": "drag", "seq": 99, "task": 1,
                                            "phase": "start"}})
    await until(lambda: [e.get("code") for e in x.errors] == ["unknown_peer", "unknown_peer"])
    await asyncio.sleep(0.3)
    assert got_x == [] and got_a == []
    assert x.peers == {} and a.peers.keys() == {b.peer_id}
    assert a.mesh is not None and x.peer_id not in a.mesh.peers
