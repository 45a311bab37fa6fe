"""What one connection may send, and how fast: the flood limit, relay and signal rates.

A client's frames pass ``admit`` (the flood limit: far over the relay rate, the connection
is closed with 4008). A ``relay`` over its rate is dropped with ``error rate_limited``,
unless it is a drag ``move``: then the latest move per task is held (``MoveCoalescer``)
and sent when the rate allows, and any newer relay about the same task replaces it. A
``signal`` has a rate of its own (docs/protocol.md §5).

The policy of a connection is made when its client sends its first frame, so the idle
connections a node holds most of carry none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signaling.config import Config
from signaling.metrics import Metrics
from signaling.protocol import ErrorCode, ProtocolError, Relay
from signaling.ratelimit import MoveCoalescer, TokenBucket

__all__ = ["RelayPolicy", "drag_task"]


def drag_task(data: dict[str, Any]) -> int | None:
    """The task of a drag update (relay ``data``), or None if it is not one."""
    task = data.get("task")
    if data.get("type") != "drag" or isinstance(task, bool) or not isinstance(task, int):
        return None
    return task


class RelayPolicy:
    """The rate limits of one connection; ``forward`` sends a relay that may go now."""

    __slots__ = ("_coalesce_tasks", "_flood", "_forward", "_metrics", "_moves", "_relays",
                 "_signals")

    def __init__(self, config: Config, metrics: Metrics, forward: Callable[[Relay], None]
                 ) -> None:
        self._flood = TokenBucket(config.flood_rate, config.flood_rate)
        self._relays = TokenBucket(config.relay_rate, config.relay_rate)
        self._signals = TokenBucket(config.signal_rate, config.signal_burst)
        self._coalesce_tasks = config.coalesce_tasks
        self._metrics = metrics
        self._forward = forward
        #: Made on the first move over the rate (most connections never drag that fast).
        self._moves: MoveCoalescer[Relay] | None = None

    def admit(self) -> bool:
        """Any frame: False if the client is flooding (the caller closes with 4008)."""
        return self._flood.take()

    def relay(self, msg: Relay) -> ProtocolError | None:
        """Forward, hold (a drag move over the rate) or drop a relay whose recipients are
        known to be here; the error to send the client if it was dropped.

        Encoded only when it is sent (``decode`` guarantees it can be): moves replaced
        while held over the rate cost nothing.
        """
        task = drag_task(msg.data)
        if task is not None and self._moves is not None and self._moves.discard(task):
            self._metrics.coalesced.inc()  # superseded by this newer update
        if self._relays.take():
            self._forward(msg)
            return None
        if task is not None and msg.data.get("phase") == "move":
            self._hold_move(task, msg)
            return None
        return self._limited("relay", self._relays)

    def signal(self) -> ProtocolError | None:
        """None if a signal may go now; else it is dropped, and the error to send."""
        return None if self._signals.take() else self._limited("signal", self._signals)

    def _limited(self, kind: str, bucket: TokenBucket) -> ProtocolError:
        self._metrics.dropped.labels("rate_limited").inc()
        return ProtocolError(ErrorCode.RATE_LIMITED,
                             f"{kind} over {bucket.rate:g} frames/s dropped")

    def _hold_move(self, task: int, msg: Relay) -> None:
        if self._moves is None:
            self._moves = MoveCoalescer(self._relays, self._forward,
                                        max_tasks=self._coalesce_tasks)
        held = self._moves.hold(task, msg)
        if held is None:
            self._metrics.dropped.labels("coalesce_full").inc()
        elif held:
            self._metrics.coalesced.inc()

    def cancel(self) -> None:
        """The connection is closing: held moves are dropped, their timer stopped."""
        if self._moves is not None:
            self._moves.cancel()
