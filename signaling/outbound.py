"""The way out of one websocket: every frame and ping a client receives goes through here.

``OutboundSocket`` is the part of ``SprintHandler`` that writes. Frames that arrive before
the client's ``welcome`` is written wait in a short list (counted against the budget) and
follow it in order. A frame is written pre-framed (``signaling.framing``: a broadcast is
framed once for all its recipients) with one ``send()`` when nothing is queued before it,
else into Tornado's IOStream buffer; over TLS or compression Tornado frames it itself.

The slow-consumer rule: the bytes a client has not taken yet (Tornado's buffer, read
through ``framing.queued_bytes``) plus the new frame may not pass ``--max-buffer``; past
it the connection is closed with 4009 instead of growing memory or slowing its sprint.
Pings (``signaling.keepalive``) take the same way out, behind whatever is queued.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import tornado.websocket
from tornado.iostream import StreamClosedError

from signaling.framing import PING_FRAME, framed_stream, queued_bytes, text_frame, write_framed
from signaling.protocol import Close

if TYPE_CHECKING:
    from signaling.node import Node

__all__ = ["OutboundSocket"]

log = logging.getLogger(__name__)

_CLOSED = (tornado.websocket.WebSocketClosedError, StreamClosedError)


def _retrieve(written: asyncio.Future[None]) -> None:
    """Mark a write's outcome retrieved: a closed stream is not an error here."""
    if not written.cancelled():
        written.exception()


class OutboundSocket(tornado.websocket.WebSocketHandler):
    """A websocket handler whose writes are bounded: ``send``, ``drain`` and ``send_ping``.

    ``node`` gives the budget (``config.max_buffer``) and the counters (``metrics``).
    Subclasses set ``closing`` when the connection starts closing (either side) and say how
    their log lines read (``log_line``).
    """

    # In slots, not in the instance dict Tornado's own attributes already fill: idle
    # connections are what a node holds most of (docs/architecture.md).
    __slots__ = ("_early", "_early_bytes", "_last_write", "_precounted", "awaiting_pong",
                 "closing", "node", "ping_slot")

    def initialize(self, node: Node) -> None:
        self.node = node
        #: The connection started closing: nothing more is written.
        self.closing = False
        #: Frames for this client that arrived before its welcome was written.
        self._early: list[bytes] | None = []
        self._early_bytes = 0
        #: Early frames a broadcaster already counted in ``frames_out`` (see ``send``).
        self._precounted = 0
        #: The latest write the IOStream queued (``drain`` waits on it).
        self._last_write: asyncio.Future[None] | None = None
        #: The keepalive wheel's slot of this connection (-1: not on it), and whether a
        #: ping is unanswered (``signaling.keepalive``).
        self.ping_slot = -1
        self.awaiting_pong = False

    def log_line(self, level: int, message: str, *args: object) -> None:
        """One log line about this connection (subclasses add who it is)."""
        log.log(level, message, *args)

    # frames -----------------------------------------------------------------------------------
    def send(self, frame: bytes, wire: bytes | None = None) -> bool:
        """Queue one encoded text frame for this client; False if it was not sent.

        ``wire`` is the same frame already framed by ``framing.text_frame``: a broadcast
        frames once for all its recipients and each connection writes those bytes as-is.
        A caller passing ``wire`` counts ``frames_out`` itself, once for the whole
        broadcast; a frame without it is counted here.
        """
        if self.closing:
            return False
        if self._early is not None:
            self._early.append(frame)
            self._early_bytes += len(frame)
            if self._early_bytes > self.node.config.max_buffer:
                self._overflow(self._early_bytes)
                return False
            if wire is not None:
                self._precounted += 1  # the welcome's flush must not count it again
            return True
        return self._write(frame, wire)

    def send_first(self, first: bytes) -> None:
        """Write ``first`` (the welcome), then the frames that waited for it, in order."""
        early, self._early = self._early or [], None
        for frame in [first, *early]:
            self._write(frame)

    def _write(self, frame: bytes, wire: bytes | None = None) -> bool:
        """Write one frame now, pre-framed where the connection allows; counted unless ``wire``."""
        conn = self.ws_connection
        unsent = queued_bytes(conn)
        if unsent + len(frame) > self.node.config.max_buffer:
            self._overflow(unsent)
            return False
        stream = framed_stream(conn)
        try:
            if stream is not None:
                written = write_framed(stream, text_frame(frame) if wire is None else wire,
                                       queued=unsent > 0)
            else:  # TLS or compression: Tornado frames it for this connection
                written = self.write_message(frame)  # bytes + binary=False: a text frame
                written.add_done_callback(_retrieve)
        except _CLOSED:
            return False
        if written is not None:  # None: the kernel took it all, nothing left to wait for
            self._last_write = written
        if wire is None:
            if self._precounted:
                self._precounted -= 1
            else:
                self.node.metrics.frames_out.inc()
        return True

    async def drain(self) -> None:
        """Wait while more than half the outbound budget is unsent (paces ``resume``).

        Bytes are unsent only behind a write the IOStream queued, and the latest such
        write is ``_last_write``: its future resolves when the socket has taken them all.
        """
        half = self.node.config.max_buffer // 2
        while queued_bytes(self.ws_connection) > half and not self.closing:
            last = self._last_write
            if last is None or last.done():
                return
            await asyncio.wait([last])

    def _overflow(self, unsent: int) -> None:
        self.log_line(logging.WARNING, "slow consumer, %d bytes unsent; closing", unsent)
        self.node.metrics.dropped.labels("slow_consumer").inc()
        self.close(Close.SLOW_CONSUMER, "slow consumer")

    # keepalive (signaling.keepalive) ----------------------------------------------------------
    def send_ping(self) -> bool:
        """Write a websocket ping behind whatever is queued; False if closed."""
        if self.closing:
            return False
        conn = self.ws_connection
        stream = framed_stream(conn)
        try:
            if stream is None:  # TLS or compression: Tornado writes it
                self.ping()
                return True
            written = write_framed(stream, PING_FRAME, queued=queued_bytes(conn) > 0)
        except _CLOSED:
            return False
        if written is not None:
            self._last_write = written
        return True

    def on_pong(self, data: bytes) -> None:
        self.awaiting_pong = False

    def ping_timed_out(self) -> None:
        self.log_line(logging.INFO, "no pong to the last ping; closing")
        self.close(Close.PING_TIMEOUT, "ping timed out")
