"""``signaling.presence.PresenceTicker``: one coalesced ``presence`` frame per sprint per tick,
only about the visible peers, count-only changes held back (docs/protocol.md §3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from signaling.auth import User
from signaling.broker import Member
from signaling.history import History
from signaling.memory_broker import MemoryBroker
from signaling.metrics import Metrics
from signaling.presence import PresenceTicker
from signaling.protocol import VISIBLE_PEERS


class Receiver:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send(self, frame: bytes, wire: bytes | None = None) -> bool:
        self.frames.append(json.loads(frame))
        return True


class Host:
    """The parts of a node the ticker uses, with a memory broker and recording receivers."""

    def __init__(self) -> None:
        self.broker = MemoryBroker(lambda envelope: None, History())
        self.metrics = Metrics()
        self.subscribers: dict[int, dict[str, Receiver]] = {}
        self.now = 0.0
        self.ticker = PresenceTicker(self, clock=lambda: self.now)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        coro.close()  # the tests flush by hand, on their own clock

    async def flush(self, sprint: int, after: float = 1.0) -> bool:
        """A tick ``after`` seconds after the last one."""
        self.now += after
        return await self.ticker.flush(sprint)

    async def join(self, sprint: int, peer: str, *, local: bool = True) -> Receiver | None:
        """``peer`` joins (on this node when ``local``: it gets its welcome view)."""
        await self.broker.join(sprint, Member(peer, User(id=1, username=peer)))
        if not local:
            self.ticker.mark(sprint)
            return None
        receiver = Receiver()
        self.subscribers.setdefault(sprint, {})[peer] = receiver
        page = await self.broker.presence_page(sprint, None, VISIBLE_PEERS)
        self.ticker.welcomed(sprint, peer, page)
        return receiver

    async def leave(self, sprint: int, peer: str) -> None:
        await self.broker.leave(sprint, peer)
        self.subscribers.get(sprint, {}).pop(peer, None)
        self.ticker.forget(sprint, peer)
        self.ticker.mark(sprint)


def _entry(peer: str) -> dict[str, Any]:
    return {"peer": peer, "user": {"id": 1, "username": peer}}


async def test_joins_within_a_tick_are_one_frame_to_each_peer() -> None:
    host = Host()
    ana = await host.join(7, "q-ana")
    assert await host.flush(7)
    assert ana is not None and ana.frames == []  # its welcome said it all
    for i in range(300):  # 300 joins on other nodes within one tick
        await host.join(7, f"p{i:03d}", local=False)
    assert await host.flush(7)
    first = sorted([*(f"p{i:03d}" for i in range(300)), "q-ana"])[:VISIBLE_PEERS]
    assert ana.frames == [{"type": "presence", "joined": [_entry(p) for p in first
                                                          if p != "q-ana"],
                           "left": ["q-ana"], "count": 301}]  # pushed out of the first 50


async def test_joiners_start_from_their_welcome_and_share_a_frame() -> None:
    host = Host()
    ana = await host.join(7, "b")
    await host.flush(7)
    ben = await host.join(7, "c")
    cid = await host.join(7, "d")
    await host.join(7, "a", local=False)  # joins after both welcomes
    assert await host.flush(7)
    assert ana is not None and ben is not None and cid is not None
    assert ana.frames == [{"type": "presence", "joined": [_entry("a"), _entry("c"), _entry("d")],
                           "left": [], "count": 4}]
    assert ben.frames == [{"type": "presence", "joined": [_entry("a"), _entry("d")], "left": [],
                           "count": 4}]
    assert cid.frames == [{"type": "presence", "joined": [_entry("a")], "left": [],
                           "count": 4}]


async def test_changes_past_the_visible_peers_are_only_the_count_and_held_back() -> None:
    host = Host()
    ana = await host.join(7, "a")
    for i in range(VISIBLE_PEERS):
        await host.join(7, f"b{i:02d}", local=False)
    await host.flush(7)
    assert ana is not None
    ana.frames.clear()
    await host.join(7, "z1", local=False)  # past the first 50: the count only
    assert await host.flush(7)
    assert ana.frames == [{"type": "presence", "joined": [], "left": [], "count": 52}]
    await host.join(7, "z2", local=False)
    assert not await host.flush(7, after=0.5)  # within a second of the last count: held
    assert len(ana.frames) == 1
    assert await host.flush(7, after=0.5)
    assert ana.frames[-1] == {"type": "presence", "joined": [], "left": [], "count": 53}


async def test_a_leave_from_the_visible_peers_brings_the_next_one_in() -> None:
    host = Host()
    ana = await host.join(7, "a")
    for i in range(VISIBLE_PEERS + 5):
        await host.join(7, f"b{i:02d}", local=False)
    await host.flush(7)
    assert ana is not None
    ana.frames.clear()
    await host.broker.leave(7, "b00")
    host.ticker.mark(7)
    await host.flush(7)
    assert ana.frames == [{"type": "presence", "joined": [_entry(f"b{VISIBLE_PEERS - 1:02d}")],
                           "left": ["b00"], "count": VISIBLE_PEERS + 5}]


async def test_a_peer_that_left_gets_nothing_and_the_sprint_is_forgotten() -> None:
    host = Host()
    ana = await host.join(7, "a")
    ben = await host.join(7, "b")
    await host.flush(7)
    await host.leave(7, "a")
    await host.flush(7)
    assert ana is not None and ben is not None
    assert ana.frames == [{"type": "presence", "joined": [_entry("b")], "left": [], "count": 2}]
    assert ben.frames == [{"type": "presence", "joined": [], "left": ["a"], "count": 1}]
    await host.leave(7, "b")
    assert host.ticker.sprints == {}


async def test_a_large_sprint_is_told_less_often() -> None:
    host = Host()
    ana = await host.join(7, "a")
    for i in range(3999):
        await host.join(7, f"b{i:04d}", local=False)
    assert await host.flush(7)
    assert ana is not None and len(ana.frames) == 1
    await host.join(7, "a0", local=False)  # into the first 50
    assert not await host.flush(7, after=1.0)  # 4,000 peers: at most every 2 s
    assert len(ana.frames) == 1
    assert await host.flush(7, after=1.0)
    assert ana.frames[-1]["joined"] == [_entry("a0")] and ana.frames[-1]["count"] == 4001


async def test_a_mark_schedules_one_tick_for_every_sprint() -> None:
    host = Host()
    host.ticker.tick = 0.01
    host.ticker.clock = asyncio.get_running_loop().time
    spawned: list[asyncio.Task[Any]] = []
    host.spawn = lambda coro: spawned.append(asyncio.ensure_future(coro))  # type: ignore[method-assign]
    ana = await host.join(7, "a")
    ben = await host.join(8, "b")
    await host.join(7, "c", local=False)
    await host.join(8, "d", local=False)
    await asyncio.sleep(0.05)
    await asyncio.gather(*spawned)
    assert len(spawned) == 1  # both sprints in one tick
    assert ana is not None and ben is not None
    assert [f["joined"] for f in ana.frames] == [[_entry("c")]]
    assert [f["joined"] for f in ben.frames] == [[_entry("d")]]
