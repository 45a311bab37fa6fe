"""``PresenceTicker``: presence of protocol version 2, told per sprint once per tick.

A client sees a bounded part of its sprint: the first ``VISIBLE_PEERS`` peers in peer-id
order (its own data-channel mesh needs only the first few: docs/protocol.md §8) and the
count of everyone. Joins and leaves mark their sprint; every ``TICK`` seconds the node
reads each marked sprint's first peers and count from the broker once
(``Broker.presence_page``: never the whole sprint) and tells its own connections what
changed, in one ``presence`` frame encoded once for all who hold the same view. So joining
S subscribers costs O(S) frames instead of O(S²).

What a connection holds is known exactly: connections that were here at the previous tick
hold the sprint's last view; one welcomed since holds what its ``welcome`` said, and gets
its own difference (joiners with the same welcome view share a frame). The sprint stays
marked until what it holds back is sent. What a sprint costs is bounded by its size: its
frames go out at most every ``max(TICK, count / FRAME_RATE)`` seconds (a sprint of 5,000
is told every 2.5 s, at most ``FRAME_RATE`` frames a second however many join), and a
change of the count alone at most every ``max(COUNT_INTERVAL, count / COUNT_RATE)``.
With Redis, other nodes' joins and leaves arrive as bus envelopes and mark the sprint the
same way; each node reads and tells its own connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from signaling.broker import Broker, Member, PresencePage
from signaling.framing import text_frame
from signaling.metrics import Metrics
from signaling.protocol import VISIBLE_PEERS, encode, presence_frame

__all__ = ["COUNT_INTERVAL", "COUNT_RATE", "FRAME_RATE", "TICK", "PresenceTicker"]

log = logging.getLogger(__name__)

#: Seconds between two presence frames of a sprint (the coalescing window).
TICK = 0.1
#: Seconds between two frames that change only the count.
COUNT_INTERVAL = 1.0
#: A sprint's presence frames per second (one per connection per frame) above which its
#: tick stretches: large sprints are told less often, never more than this.
FRAME_RATE = 2000.0
#: The same for frames that change only the count.
COUNT_RATE = 500.0

#: What a group of connections holds: the visible peer ids (in order) and the count.
View = tuple[tuple[str, ...], int]


class Receiver(Protocol):
    def send(self, frame: bytes, wire: bytes | None = None) -> bool: ...


class Host(Protocol):
    """What the ticker needs of its node (``signaling.node.Node``)."""

    @property
    def broker(self) -> Broker: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def subscribers(self) -> Mapping[int, Mapping[str, Receiver]]: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...


@dataclass(slots=True)
class _Sprint:
    """One sprint's presence as this node's connections hold it."""

    view: View = ((), 0)
    #: When a frame last changed the count of ``settled`` connections, and when the
    #: sprint's connections were last sent anything.
    count_at: float = float("-inf")
    sent_at: float = float("-inf")
    #: Connections that hold ``view`` (peer ids).
    settled: set[str] = field(default_factory=set)
    #: Connections welcomed since the last tick, and the view their welcome gave.
    welcomed: dict[str, View] = field(default_factory=dict)


class PresenceTicker:
    """Coalesces the presence of each sprint with connections on this node."""

    def __init__(self, node: Host, *, tick: float = TICK, count_interval: float = COUNT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node = node
        self.tick = tick
        self.count_interval = count_interval
        self.clock = clock
        self.sprints: dict[int, _Sprint] = {}
        self._marked: set[int] = set()
        self._scheduled = False

    def welcomed(self, sprint: int, peer: str, page: PresencePage) -> None:
        """``peer``'s welcome listed ``page`` (its first presence frame starts from it)."""
        self.sprints.setdefault(sprint, _Sprint()).welcomed[peer] = (page.ids, page.count)
        self.mark(sprint)

    def forget(self, sprint: int, peer: str) -> None:
        """``peer`` left this node: it gets nothing more."""
        state = self.sprints.get(sprint)
        if state is None:
            return
        state.settled.discard(peer)
        state.welcomed.pop(peer, None)
        if not state.settled and not state.welcomed:
            del self.sprints[sprint]
            self._marked.discard(sprint)

    def mark(self, sprint: int) -> None:
        """A peer of ``sprint`` joined or left (anywhere): look again at the next tick."""
        if sprint not in self.sprints:
            return
        self._marked.add(sprint)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.tick, self._start)

    def _start(self) -> None:
        self.node.spawn(self._run())

    async def _run(self) -> None:
        try:
            marked, self._marked = self._marked, set()
            for sprint in sorted(marked):
                try:
                    done = await self.flush(sprint)
                except Exception:  # one sprint's failure must not stop the others' presence
                    log.exception("sprint %s: presence tick failed; trying again", sprint)
                    done = False
                if not done:
                    self._marked.add(sprint)  # something held back: look again
        finally:
            self._scheduled = False
            if self._marked:
                self._scheduled = True
                asyncio.get_running_loop().call_later(self.tick, self._start)

    async def flush(self, sprint: int) -> bool:
        """Tell ``sprint``'s connections what changed; False if a count change waits."""
        state = self.sprints.get(sprint)
        if state is None:
            return True
        if self.clock() - state.sent_at < max(self.tick, state.view[1] / FRAME_RATE):
            return False  # a large sprint: its next frames wait for its longer tick
        # Only those welcomed before this read: a welcome read meanwhile may be newer.
        welcomed = dict(state.welcomed)
        page = await self.node.broker.presence_page(sprint, None, VISIBLE_PEERS)
        conns = self.node.subscribers.get(sprint)
        if state is not self.sprints.get(sprint) or not conns:
            return True
        now: View = (page.ids, page.count)
        members = {m.peer: m for m in page.members}
        groups: dict[View, list[str]] = {}
        for peer, view in welcomed.items():
            if peer in state.welcomed:
                groups.setdefault(view, []).append(peer)
        old, held_back = state.view, False
        if state.settled and old != now:
            count_interval = max(self.count_interval, now[1] / COUNT_RATE)
            if old[0] == now[0] and self.clock() - state.count_at < count_interval:
                held_back = True  # the count alone changed, too soon after the last
            else:
                groups.setdefault(old, []).extend(state.settled)
        if not held_back:
            if old[1] != now[1]:
                state.count_at = self.clock()
            state.view = now
        for view, peers in groups.items():
            if view != now:
                self._send(conns, peers, _changes(view, now, members))
                state.sent_at = self.clock()
        # The welcomed now hold ``now``; if the settled's count was held back, they are
        # counted with them and get the count again with them (ids are the same).
        for peer in welcomed:
            if state.welcomed.pop(peer, None) is not None:
                state.settled.add(peer)
        return not held_back

    def _send(self, conns: Mapping[str, Receiver], peers: list[str], frame: bytes) -> None:
        wire = text_frame(frame)
        sent = 0
        for peer in peers:
            conn = conns.get(peer)
            if conn is not None and conn.send(frame, wire):
                sent += 1
        if sent:
            self.node.metrics.frames_out.inc(sent)


def _changes(held: View, now: View, members: dict[str, Member]) -> bytes:
    """The ``presence`` frame that takes a client from ``held`` to ``now``."""
    before, after = set(held[0]), set(now[0])
    joined = [members[p].to_wire() for p in now[0] if p not in before]
    left = [p for p in held[0] if p not in after]
    return encode(presence_frame(joined, left, now[1])).encode()
