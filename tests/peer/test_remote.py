"""`peer.remote.RemotePeer`: two real aiortc connections in one process, wired directly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from peer.ice import IceFilter, block_all
from peer.remote import Link, RemotePeer
from signaling.protocol import Drag


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Pair:
    """RemotePeers ``a`` → ``b`` and ``b`` → ``a`` whose signals go straight to each other."""

    def __init__(self, ice_filter: IceFilter | None = None, timeout: float = 5.0) -> None:
        self.received: dict[str, list[str]] = {"a": [], "b": []}
        self.links: list[tuple[str, Link]] = []
        self.signals: list[tuple[str, dict[str, Any]]] = []
        self.peers: dict[str, RemotePeer] = {}
        for local, remote in (("a", "b"), ("b", "a")):
            self.peers[local] = RemotePeer(
                local, remote, signal=self._signal,
                on_message=self._receiver(local),
                on_link=lambda rp, _old, new: self.links.append((rp.local_id, new)),
                ice_filter=ice_filter, timeout=timeout)

    def _receiver(self, me: str) -> Callable[[str, str], None]:
        return lambda _sender, text: self.received[me].append(text)

    async def _signal(self, to: str, data: dict[str, Any]) -> None:
        self.signals.append((to, data))
        self.peers[to].handle_signal(data)

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.peers.values()))


@pytest.fixture
async def pairs() -> AsyncIterator[Callable[..., Pair]]:
    made: list[Pair] = []

    def make(**kwargs: Any) -> Pair:
        made.append(Pair(**kwargs))
        return made[-1]

    yield make
    for pair in made:
        await pair.close()


async def test_channels_open_and_carry_both_kinds_of_update(pairs: Callable[..., Pair]) -> None:
    pair = pairs()
    a, b = pair.peers["a"], pair.peers["b"]
    assert a.polite and not b.polite
    b.offer()
    await until(lambda: a.is_open and b.is_open)
    assert a.pc.sctp is not None
    assert {c.label: (c.id, c.ordered, c.maxRetransmits) for c in (a._drag, a._reliable)} == {
        "drag": (0, False, 0), "drag-reliable": (1, True, None)}
    assert a.send(Drag(seq=1, task=7, phase="start"))
    assert a.send(Drag(seq=2, task=7, phase="move", x=0.5, y=0.5))
    await until(lambda: len(pair.received["b"]) == 2)
    assert sorted(pair.received["b"]) == [
        '{"type":"drag","seq":1,"task":7,"phase":"start"}',
        '{"type":"drag","seq":2,"task":7,"phase":"move","x":0.5,"y":0.5}']
    # Every description is followed by an end-of-candidates for trickling peers.
    kinds = [next(iter(d)) for _, d in pair.signals]
    assert kinds == ["description", "candidate", "description", "candidate"]


async def test_glare_resolves_with_the_polite_side_rolling_back(
        pairs: Callable[..., Pair]) -> None:
    pair = pairs()
    a, b = pair.peers["a"], pair.peers["b"]
    a.offer()
    b.offer()
    await until(lambda: a.is_open and b.is_open)
    assert a.rollbacks == 1 and b.rollbacks == 0


async def test_impossible_ice_fails_the_link(pairs: Callable[..., Pair]) -> None:
    pair = pairs(ice_filter=block_all, timeout=3.0)
    a, b = pair.peers["a"], pair.peers["b"]
    b.offer()
    await until(lambda: a.link is Link.FAILED and b.link is Link.FAILED, timeout=8)
    assert not a.send(Drag(seq=1, task=7, phase="start"))
    for _, data in pair.signals:
        assert "a=candidate" not in data.get("description", {}).get("sdp", "")


async def test_no_answer_times_out(pairs: Callable[..., Pair]) -> None:
    pair = pairs(timeout=0.3)
    await until(lambda: all(p.link is Link.FAILED for p in pair.peers.values()), timeout=3)
    assert pair.peers["a"].pc.connectionState in ("new", "closed")


async def test_closing_one_side_fails_the_other(pairs: Callable[..., Pair]) -> None:
    pair = pairs()
    a, b = pair.peers["a"], pair.peers["b"]
    b.offer()
    await until(lambda: a.is_open and b.is_open)
    await a.close()
    assert a.link is Link.CLOSED and a.pc.connectionState == "closed"
    await until(lambda: b.link is Link.FAILED, timeout=10)
    assert ("b", Link.FAILED) in pair.links
