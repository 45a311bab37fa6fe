"""`peer.client.Peer` against the real realtime server: data channels between real aiortc peers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from peer.client import Peer, ReceivedDrag
from peer.mesh import Mesh
from peer.remote import Link
from tests.peer.conftest import PeerFactory, all_see, until
from tests.servers import RealtimeServer, make_token


def collect(peer: Peer) -> list[ReceivedDrag]:
    got: list[ReceivedDrag] = []
    peer.drags.on(got.append)
    return got


def full_mesh(group: list[Peer]) -> bool:
    return all(p.channel_peers() == {q.peer_id for q in group if q is not p} for p in group)


async def test_three_peers_drag_peer_to_peer_without_the_server(
        server: RealtimeServer, peers: PeerFactory, sprint: int) -> None:
    a, b, c = [await peers(sprint) for _ in range(3)]
    await until(lambda: full_mesh([a, b, c]), what="every pair has a data channel")
    got_b, got_c = collect(b), collect(c)
    relayed = server.sprint_metric("watercooler_relayed_total", sprint)

    await a.send_drag(7, "start", status="not_started", index=0, x=0.1, y=0.5)
    for i in range(1, 6):
        await a.send_drag(7, "move", status="in_progress", index=1, x=0.1 + i / 10, y=0.5)
    await a.send_drag(7, "end", status="testing", index=2)

    await until(lambda: any(r.drag.phase == "end" for r in got_b)
                and any(r.drag.phase == "end" for r in got_c), what="end reaches B and C")
    for got in (got_b, got_c):
        assert {r.via for r in got} == {"datachannel"}
        assert {r.sender for r in got} == {a.peer_id}
        assert got[0].user == {"id": a.user["id"], "username": a.user["username"]}  # type: ignore[index]
        seqs = [r.drag.seq for r in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # shown once, never back
    assert server.sprint_metric("watercooler_relayed_total", sprint) == relayed
    assert b.ghosts() == []  # the end removed the ghost
    assert a.channel_reports[-1] == {b.peer_id, c.peer_id}


async def test_a_peer_leaving_is_cleaned_up_everywhere(peers: PeerFactory, sprint: int) -> None:
    a, b, c = [await peers(sprint) for _ in range(3)]
    await until(lambda: full_mesh([a, b, c]))
    assert a.mesh is not None and b.mesh is not None
    links = [a.mesh.peers[c.peer_id], b.mesh.peers[c.peer_id]]  # type: ignore[index]
    await c.send_drag(9, "start", status="done")
    await until(lambda: len(a.ghosts()) == 1)

    await c.close()
    await until(lambda: c.peer_id not in a.peers and c.peer_id not in b.peers)
    for peer in (a, b):
        assert peer.mesh is not None and c.peer_id not in peer.mesh.peers
        assert peer.channel_peers() == {q.peer_id for q in (a, b) if q is not peer}
    for link in links:
        assert link.link is Link.CLOSED
        assert link.pc.connectionState == "closed"
    assert a.ghosts() == []
    assert c.mesh is None or not c.mesh.peers


async def test_simultaneous_offers_resolve(monkeypatch: pytest.MonkeyPatch,
                                           peers: PeerFactory, sprint: int) -> None:
    """Both sides offer, and neither offer leaves before the other exists: glare for sure."""
    both_offered = asyncio.Event()
    offers: list[str] = []
    send_signal = Peer._send_signal
    update = Mesh.update

    async def held(self: Peer, to: str, data: dict[str, Any]) -> None:
        if data.get("description", {}).get("type") == "offer":
            offers.append(str(self.peer_id))
            if len(offers) >= 2:
                both_offered.set()
            await both_offered.wait()
        await send_signal(self, to, data)

    async def eager(self: Mesh, present: Any, initiate: Any = None) -> None:
        await update(self, present, initiate=lambda _: True)  # offer on join too

    monkeypatch.setattr(Peer, "_send_signal", held)
    monkeypatch.setattr(Mesh, "update", eager)
    a = await peers(sprint)
    b = await peers(sprint)
    await until(lambda: full_mesh([a, b]), what="channel after glare")
    assert sorted(offers) == sorted([str(a.peer_id), str(b.peer_id)])
    assert a.mesh is not None and b.mesh is not None
    polite, impolite = sorted([a, b], key=lambda p: str(p.peer_id))
    assert polite.mesh is not None and impolite.mesh is not None
    assert polite.mesh.peers[str(impolite.peer_id)].rollbacks == 1
    assert impolite.mesh.peers[str(polite.peer_id)].rollbacks == 0
    got = collect(b)
    await a.send_drag(3, "start")
    await until(lambda: [r.via for r in got] == ["datachannel"])


async def test_mesh_limit_is_respected(peers: PeerFactory, sprint: int) -> None:
    group = [await peers(sprint, mesh_limit=2, negotiation_timeout=2.0) for _ in range(4)]
    ordered = sorted(group, key=lambda p: str(p.peer_id))
    meshed, outsider = ordered[:3], ordered[3]
    await all_see(group)
    await until(lambda: full_mesh(meshed), what="the first three in id order mesh")
    await asyncio.sleep(0.3)  # would a fourth link appear? (none should)
    assert all(len(p.channel_peers()) <= 2 for p in group)
    assert outsider.channel_peers() == frozenset()
    assert outsider.mesh is not None and outsider.mesh.peers == {}

    got = {p.peer_id: collect(p) for p in group}
    await meshed[0].send_drag(5, "start")
    await outsider.send_drag(6, "start")
    await until(lambda: all(len(g) == (2 if pid != meshed[0].peer_id else 1)
                            for pid, g in got.items() if pid != outsider.peer_id)
                and len(got[outsider.peer_id]) == 1, what="both drags reach everyone")
    assert got[outsider.peer_id][0].via == "relay"
    for p in meshed[1:]:
        vias = {r.drag.task: r.via for r in got[p.peer_id]}
        assert vias == {5: "datachannel", 6: "relay"}


async def test_async_with_closes_everything(server: RealtimeServer, sprint: int) -> None:
    token = make_token(sprint=sprint, secret=server.secret)
    async with Peer(server.ws_url(sprint), token) as a, Peer(server.ws_url(sprint), token) as b:
        await until(lambda: a.channel_peers() == {b.peer_id})
        assert a.mesh is not None
        link = a.mesh.peers[str(b.peer_id)]
    assert link.pc.connectionState == "closed"
    assert not a.connected and not b.connected
