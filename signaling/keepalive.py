"""Websocket pings for every connection of a node from one timer (a timing wheel).

Tornado's ``websocket_ping_interval`` runs one asyncio task per connection, each sleeping
between its pings: a task, a coroutine frame, a future and a timer handle per idle socket
(about 1.6 KiB each, measured) and two loop wake-ups per ping. Here one periodic callback
serves them all. The interval is cut into ``slots`` ticks; a connection is placed in the
slot of the tick it joined on and visited once per turn of the wheel, so each connection
is pinged once per interval and the pings of a node are spread evenly over it.

At each visit: if the ping sent at the previous visit has had no pong, the connection is
closed with 4010 (``Close.PING_TIMEOUT``); otherwise it is pinged again. A dead peer is
therefore closed between one and two intervals after its last pong, as with Tornado's
timeout equal to the interval. Per connection this costs one set entry and two
attributes.
"""

from __future__ import annotations

from typing import Protocol

from tornado.ioloop import PeriodicCallback

__all__ = ["Keepalive", "Pingable"]


class Pingable(Protocol):
    """What the wheel needs of a connection (``SprintHandler`` is the real one)."""

    #: The wheel's slot of this connection; -1 when it is not on the wheel.
    ping_slot: int
    #: A ping was sent and its pong has not arrived yet.
    awaiting_pong: bool

    def send_ping(self) -> bool:
        """Write a ping frame; False if the connection is already closed."""
        ...

    def ping_timed_out(self) -> None:
        """Close the connection: its last ping got no pong within an interval."""
        ...


class Keepalive:
    """Ping every registered connection once per ``interval`` seconds from one timer."""

    def __init__(self, interval: float, *, slots: int = 20) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._wheel: list[set[Pingable]] = [set() for _ in range(max(1, slots))]
        self._hand = 0
        self._timer: PeriodicCallback | None = None

    def add(self, conn: Pingable) -> None:
        """Put ``conn`` on the wheel: first ping one interval from now. Starts the timer."""
        conn.awaiting_pong = False
        conn.ping_slot = self._hand
        self._wheel[self._hand].add(conn)
        if self._timer is None:
            tick_ms = self.interval * 1000 / len(self._wheel)
            self._timer = PeriodicCallback(self.tick, tick_ms)
            self._timer.start()

    def discard(self, conn: Pingable) -> None:
        """Take ``conn`` off the wheel (it closed); no-op if it is not on it."""
        if conn.ping_slot >= 0:
            self._wheel[conn.ping_slot].discard(conn)
            conn.ping_slot = -1

    def tick(self) -> None:
        """Advance one slot and visit its connections (called by the timer)."""
        self._hand = (self._hand + 1) % len(self._wheel)
        for conn in list(self._wheel[self._hand]):
            if conn.awaiting_pong:
                self.discard(conn)
                conn.ping_timed_out()
            elif conn.send_ping():
                conn.awaiting_pong = True
            else:
                self.discard(conn)

    def stop(self) -> None:
        """Stop the timer (shutdown); connections stay registered until they close."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
