"""A node's SSE streams as one: each broadcast made into its SSE message once, one heartbeat
timer for every stream (``signaling.stream`` is the handler of one stream)."""

from __future__ import annotations

from typing import Protocol

from tornado.http1connection import HTTP1Connection
from tornado.ioloop import PeriodicCallback
from tornado.iostream import IOStream

from signaling import sse
from signaling.node import Node
from signaling.sse import Message

__all__ = ["Stream", "StreamHub", "chunked_stream"]

_HEARTBEAT: Message = (sse.HEARTBEAT, None, "heartbeat", sse.http_chunk(sse.HEARTBEAT))
_NAMES = ("event", "presence", "resync", "close", "heartbeat")


class Stream(Protocol):
    """What the hub needs of a stream (``StreamHandler`` is the real one)."""

    def write_message(self, message: Message) -> bool: ...


class StreamHub:
    """A node's SSE streams: one message per broadcast, one heartbeat timer for them all."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.streams: set[Stream] = set()
        self._timer: PeriodicCallback | None = None
        # The last broadcast: ``deliver`` hands every stream the same frame object.
        self._frame: bytes | None = None
        self._message: Message | None = None
        #: ``watercooler_sse_messages_total`` by event name, resolved once.
        self.counted = {name: node.metrics.sse_messages.labels(name) for name in _NAMES}

    def message(self, frame: bytes) -> Message | None:
        """``frame`` as SSE bytes, its seq and event name; None if streams do not get it.

        Computed once per broadcast: ``Node.deliver`` passes every recipient the same
        ``bytes`` object, so the result of the last frame is kept by identity.
        """
        if frame is self._frame:
            return self._message
        found = sse.classify(frame)
        result = None if found is None else sse.message(found[0], frame, found[1])
        self._frame, self._message = frame, result
        return result

    def add(self, stream: Stream) -> None:
        self.streams.add(stream)
        if self._timer is None:
            self._timer = PeriodicCallback(self.beat, self.node.config.sse_heartbeat * 1000)
            self._timer.start()

    def discard(self, stream: Stream) -> None:
        self.streams.discard(stream)
        if not self.streams and self._timer is not None:
            self._timer.stop()
            self._timer = None

    def beat(self) -> None:
        """A comment line on every stream: proxies see traffic, a dead client is noticed."""
        for stream in list(self.streams):
            stream.write_message(_HEARTBEAT)


def chunked_stream(conn: object) -> IOStream | None:
    """The plain-socket IOStream of a chunked HTTP/1.1 response, else None.

    Tornado decides on chunking when it writes the headers (HTTP/1.1, no Content-Length);
    its flag is private, so it is read here only.
    """
    stream = getattr(conn, "stream", None)
    if (isinstance(conn, HTTP1Connection) and getattr(conn, "_chunking_output", False)
            and type(stream) is IOStream):
        return stream
    return None
