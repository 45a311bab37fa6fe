"""`Peer` on protocol version 2: the peers it sees, the sprint's count, the full list page by
page, and drags that reach the peers it does not see. 53 websocket-only peers: sized for CI."""

from __future__ import annotations

import asyncio

import pytest

from peer.client import Peer
from signaling.protocol import VISIBLE_PEERS, ProtocolError
from tests.peer.conftest import PeerFactory, until


async def test_a_crowd_is_seen_by_its_first_50_and_listed_page_by_page(
        peers: PeerFactory, sprint: int) -> None:
    crowd: list[Peer] = list(await asyncio.gather(
        *(peers(sprint, webrtc=False) for _ in range(VISIBLE_PEERS + 3))))
    everyone = sorted(str(p.peer_id) for p in crowd)
    first = set(everyone[:VISIBLE_PEERS])
    for p in crowd:
        await until(lambda p=p: p.count == len(crowd)  # type: ignore[misc]
                    and set(p.peers) == first - {p.peer_id}, what="presence")
    last = next(p for p in crowd if p.peer_id == everyone[-1])
    assert last.peer_id not in last.peers  # never itself, though the server may list it

    listed = await last.all_peers()  # two pages of 100 at most: one here
    assert [p.peer for p in listed] == everyone
    page = await last.request_peers(after=everyone[9], limit=5)
    assert [p.peer for p in page.peers] == everyone[10:15]
    assert page.next == everyone[14] and page.count == len(crowd)
    with pytest.raises(ProtocolError):
        await last.request_peers(limit=0)  # refused before it is sent

    # The last peer is seen by nobody but itself: its drag still reaches everyone (a relay
    # to all, since it does not see them all either), and everyone's reaches it.
    got: list[str] = []
    first_peer = next(p for p in crowd if p.peer_id == everyone[0])
    first_peer.drags.on(lambda d: got.append(d.sender))
    mine: list[str] = []
    last.drags.on(lambda d: mine.append(d.sender))
    await last.send_drag(3, "start", status="testing")
    await first_peer.send_drag(4, "start", status="done")
    await until(lambda: got == [last.peer_id] and mine == [first_peer.peer_id],
                what="drags both ways")
