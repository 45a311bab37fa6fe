"""``MemoryBroker``: everything in this process, the default for a single realtime node.

Fan-out is a direct call of ``deliver``, presence a dict per sprint, the event history
``signaling.history.History`` and the replay memory of ``POST /events/`` a bounded
``ReplayCache``. It implements the whole ``signaling.broker.Broker`` seam; the contract
suite (tests/signaling/test_broker_contract.py) runs on it and on ``RedisBroker`` alike.
"""

from __future__ import annotations

import time
from bisect import bisect_right, insort
from collections.abc import Iterable

from signaling.auth import NonceClaim, ReplayCache
from signaling.broker import Broker, Deliver, Envelope, Member, PresencePage
from signaling.history import EventStatus, History

__all__ = ["MemoryBroker"]


class MemoryBroker(Broker):
    """Everything in this process: the default for a single realtime node.

    Its replay memory begins at its start: ``POST /events/`` signed before is refused.
    """

    def __init__(self, deliver: Deliver, history: History, *,
                 replay_cache_size: int = 100_000) -> None:
        super().__init__(deliver, history)
        self._presence: dict[int, dict[str, Member]] = {}
        #: Each sprint's peer ids, sorted: the first K and a page after a cursor by bisection.
        self._order: dict[int, list[str]] = {}
        self.replay = ReplayCache(max_size=replay_cache_size, clock=time.time)

    async def subscribe(self, sprint: int) -> None:
        pass  # every envelope is already local

    async def unsubscribe(self, sprint: int) -> None:
        pass

    def publish_now(self, envelope: Envelope) -> None:
        self.deliver(envelope)

    async def join(self, sprint: int, peer: Member) -> None:
        members = self._presence.setdefault(sprint, {})
        if peer.peer not in members:
            insort(self._order.setdefault(sprint, []), peer.peer)
        members[peer.peer] = peer

    async def leave(self, sprint: int, peer: str) -> None:
        members = self._presence.get(sprint)
        if members is not None and members.pop(peer, None) is not None:
            order = self._order[sprint]
            del order[bisect_right(order, peer) - 1]
            if not members:
                del self._presence[sprint], self._order[sprint]

    async def presence_page(self, sprint: int, after: str | None, limit: int) -> PresencePage:
        order = self._order.get(sprint, [])
        start = 0 if after is None else bisect_right(order, after)
        members = self._presence.get(sprint, {})
        page = [members[p] for p in order[start:start + limit]]
        return PresencePage(page, len(order), start + limit < len(order))

    async def peers(self, sprint: int) -> list[Member]:
        return list(self._presence.get(sprint, {}).values())

    async def missing_peers(self, sprint: int, peers: Iterable[str]) -> list[str]:
        members = self._presence.get(sprint, {})
        return [p for p in peers if p not in members]

    async def record_event(self, sprint: int, seq: int, frame: bytes, *, epoch: str = "",
                           reset: bool = False) -> EventStatus:
        return self.history.append(sprint, seq, frame, epoch=epoch, reset=reset)

    async def events_since(self, sprint: int, since: int) -> list[bytes] | None:
        return self.history.since(sprint, since)

    async def latest(self, sprint: int) -> int | None:
        return self.history.latest(sprint)

    async def claim_nonce(self, nonce: str, timestamp: int, ttl: float) -> NonceClaim:
        return self.replay.claim(nonce, timestamp, ttl)

    async def release_nonce(self, nonce: str) -> None:
        self.replay.release(nonce)
