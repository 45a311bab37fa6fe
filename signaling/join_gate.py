"""Storm control: how many websocket joins a node works on at once, and who is told to come back.

A node that restarts under N connections sees all N come back within the clients' backoff
window. Each join costs the ticket's check, the broker's registration (Redis round trips)
and the welcome; taken all at once they queue without bound in the event loop and in the
Redis pool, every join slows every other, and clients time out and retry on top. The gate
bounds both: at most ``max_pending`` joins are in progress (from the HTTP request of the
handshake until the welcome is written, or the connection ends), and of those at most
``concurrency`` run their expensive part at once while the others wait their turn, in
order. One more handshake beyond ``max_pending`` is answered **HTTP 503** with a jittered
``Retry-After`` before the upgrade: cheap for the node, and a client that reads it
(``peer/``) waits at least that long (docs/protocol.md §2 and §5). The handler side is
``signaling.gated_socket``. Established
connections, events and relays are never held up by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random as _random
from collections.abc import AsyncIterator, Callable

__all__ = ["SHED_BODY", "JoinGate"]

#: The body of a shed handshake (clients that cannot read it lose nothing).
SHED_BODY = b'{"error":"busy","message":"too many joins in progress; retry after Retry-After"}'


class JoinGate:
    """Joins in progress on one node: ``admit`` at the handshake, ``done`` once it is over.

    ``max_pending`` 0 admits every handshake; ``concurrency`` 0 runs every admitted join at
    once. ``retry_after`` is the shortest ``Retry-After`` (seconds, a whole number); each
    shed handshake is told a value drawn uniformly from [retry_after, 2·retry_after], so
    a crowd shed in the same instant comes back spread out, not in one wave.
    """

    def __init__(self, *, max_pending: int, concurrency: int, retry_after: float,
                 random: Callable[[], float] | None = None) -> None:
        self.max_pending = max_pending
        self.concurrency = concurrency
        self.retry_after = retry_after
        self.pending = 0
        self._random = random or _random.random
        self._running = asyncio.Semaphore(concurrency) if concurrency > 0 else None

    def admit(self) -> bool:
        """Count one more join in progress; False (nothing counted) if the node is full."""
        if self.max_pending and self.pending >= self.max_pending:
            return False
        self.pending += 1
        return True

    def done(self) -> None:
        """One join that ``admit`` counted is over (welcomed, refused or gone)."""
        self.pending = max(0, self.pending - 1)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Hold one of the ``concurrency`` places while a join's expensive part runs."""
        if self._running is None:
            yield
            return
        async with self._running:
            yield

    def retry_after_seconds(self) -> int:
        """A ``Retry-After`` for one shed handshake: whole seconds in [base, 2·base], at least 1."""
        base = max(1.0, self.retry_after)
        r = min(max(self._random(), 0.0), 1.0)
        return math.ceil(base + base * r - 1e-9)

