"""Reconnecting after the realtime server restarts, and catching up with `resume` (protocol §6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from peer.client import Peer, ReceivedDrag
from peer.websocket import Transport, default_connect
from tests.peer.conftest import PeerFactory, all_see, peer_factory, post_events, until
from tests.servers import RealtimeServer


def task_event(sprint: int, seq: int) -> dict[str, Any]:
    return {"sprint": sprint, "seq": seq, "action": "updated", "model": "task", "id": 12,
            "data": {"id": 12, "name": f"rev {seq}", "sprint": sprint, "status": "testing"}}


@pytest.fixture
async def own_server() -> AsyncIterator[list[RealtimeServer]]:
    """A server of this test alone (it gets restarted); the list holds the current one."""
    current = [RealtimeServer().start()]
    try:
        yield current
    finally:
        current[-1].stop()


async def test_reconnect_after_restart_resumes_and_meshes_again(
        own_server: list[RealtimeServer]) -> None:
    made: list[Peer] = []
    peers: PeerFactory = peer_factory(lambda: own_server[-1], made)
    gate = asyncio.Event()
    gate.set()

    async def gated(url: str) -> Transport:
        await gate.wait()
        return await default_connect(url)

    try:
        a = await peers(1, connect=gated)
        b = await peers(1)
        await all_see([a, b])
        await until(lambda: a.channel_peers() == {b.peer_id})
        await asyncio.to_thread(post_events, own_server[-1], [task_event(1, 1), task_event(1, 2)])
        await until(lambda: a.stream.last == 2 and b.stream.last == 2)
        old_a, old_b = a.peer_id, b.peer_id

        gate.clear()  # A stays away until the new server has news for it
        old = own_server[-1]
        old.stop()
        own_server.append(RealtimeServer(port=old.port).start())
        await asyncio.to_thread(post_events, own_server[-1], [task_event(1, 3), task_event(1, 4)])
        gate.set()

        await until(lambda: a.connected and b.connected and a.peer_id != old_a
                    and b.peer_id != old_b, timeout=15, what="both reconnect")
        await until(lambda: a.stream.last == 4, what="A catches up")
        assert a.board.tasks[12]["name"] == "rev 4"
        assert a.signaling.connects == 2
        await all_see([a, b])
        assert a.peers.keys() == {b.peer_id}  # the old ids are gone from presence
        await until(lambda: a.channel_peers() == {b.peer_id}, what="mesh again")
        assert a.mesh is not None and old_b not in a.mesh.peers
        got: list[ReceivedDrag] = []
        b.drags.on(got.append)
        await a.send_drag(12, "start")
        await until(lambda: [r.via for r in got] == ["datachannel"])
    finally:
        await asyncio.gather(*(p.close() for p in made), return_exceptions=True)
