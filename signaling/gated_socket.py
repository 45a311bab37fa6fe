"""``JoinGatedSocket``: the websocket handshake through the node's join gate (storm control).

The gate itself, and why, is ``signaling.join_gate``; this is where a handler meets it: a
handshake beyond the joins in progress is answered 503 + ``Retry-After`` before the upgrade,
and an admitted one joins when the gate gives it a turn.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from signaling.join_gate import SHED_BODY
from signaling.outbound import OutboundSocket

if TYPE_CHECKING:
    from signaling.node import Node

__all__ = ["JoinGatedSocket"]

log = logging.getLogger(__name__)


class JoinGatedSocket(OutboundSocket):
    """A websocket handler whose handshake passes the node's ``JoinGate`` (``node.joins``).

    ``get`` (the HTTP request of the handshake) is admitted or answered 503; ``open`` waits
    for one of the gate's running places, then calls ``_enter``, the subclass's join, and
    the join counts as in progress until ``_enter`` returns (welcome written) or the
    connection ends, whichever is first.
    """

    __slots__ = ("_pending",)

    def initialize(self, node: Node) -> None:
        super().initialize(node)
        #: Counted in the node's joins in progress until welcomed (or gone).
        self._pending = False

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """The handshake, unless the node has ``--max-pending-joins`` joins in progress:
        then HTTP 503 with a jittered ``Retry-After``, before the upgrade."""
        if not self.node.joins.admit():
            self._shed()
            return
        self._pending = True
        self._count_pending()
        try:
            await super().get(*args, **kwargs)  # returns when the connection closes
        finally:  # refused before the upgrade, or gone while its join waited
            self._join_over()

    async def open(self, *args: str, **kwargs: str) -> None:
        """``_enter`` (ticket, admission, join) when the gate runs it: ``--join-concurrency``
        at once, the others waiting in order."""
        try:
            async with self.node.joins.running():
                if not self.closing:  # the client may have gone while its join waited
                    await self._enter(*args, **kwargs)
        finally:
            self._join_over()

    async def _enter(self, *args: str, **kwargs: str) -> None:
        """The join proper: the subclass's."""
        raise NotImplementedError

    def _shed(self) -> None:
        node = self.node
        node.metrics.joins_shed.inc()
        retry_after = node.joins.retry_after_seconds()
        suppressed = node.shed_log.admit()
        if suppressed is not None:
            log.warning("%s: %d joins in progress, handshake answered 503 (Retry-After %d)%s",
                        self.request.path, node.joins.pending, retry_after,
                        f"; {suppressed} more shed since the last line" if suppressed else "")
        self.set_status(503)
        self.set_header("Retry-After", str(retry_after))
        self.set_header("Content-Type", "application/json")
        self.set_header("Connection", "close")
        self.finish(SHED_BODY)

    def _join_over(self) -> None:
        if self._pending:
            self._pending = False
            self.node.joins.done()
            self._count_pending()

    def _count_pending(self) -> None:
        self.node.metrics.joins_pending.set(self.node.joins.pending)
