"""Pre-framed websocket writes: frame a broadcast once, write the same bytes to every socket.

``WebSocketHandler.write_message`` builds the frame header, copies the payload into a new
frame and wraps the IOStream's future in a task, once per connection. For a broadcast that
is the same work S times over. Here a server-to-client text frame (RFC 6455 §5.2: FIN +
text opcode, unmasked, no extension bits) is built once per envelope by ``text_frame`` and
``write_framed`` hands those bytes to each connection: straight to the kernel with one
``send`` when nothing is queued before them, else to Tornado's IOStream buffer, so order
and the IOStream's write indexes (which the caller's backpressure reads) stay exact.

Only plain (non-TLS) IOStreams without permessage-deflate can take pre-framed bytes;
``framed_stream`` says so, and the caller falls back to ``write_message`` otherwise.
"""

from __future__ import annotations

import asyncio
import struct

from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketProtocol13

__all__ = ["PING_FRAME", "framed_stream", "queued_bytes", "text_frame", "write_framed"]

_FIN_TEXT = 0x81
_HEAD_SHORT = struct.Struct("!BB")
_HEAD_16 = struct.Struct("!BBH")
_HEAD_64 = struct.Struct("!BBQ")

#: A server-to-client ping with no payload (FIN + opcode 0x9, length 0).
PING_FRAME = b"\x89\x00"


def text_frame(payload: bytes) -> bytes:
    """The complete unmasked server-to-client text frame carrying ``payload`` (UTF-8)."""
    size = len(payload)
    if size < 126:
        head = _HEAD_SHORT.pack(_FIN_TEXT, size)
    elif size <= 0xFFFF:
        head = _HEAD_16.pack(_FIN_TEXT, 126, size)
    else:
        head = _HEAD_64.pack(_FIN_TEXT, 127, size)
    return head + payload


def queued_bytes(protocol: object) -> int:
    """Bytes written to this connection that its socket has not taken yet (0 if closed).

    Read from Tornado's IOStream write indexes (private, so read here only): exact at
    every moment, where the futures of ``write_message`` resolve on a later turn of the
    loop. The outbound budget (close 4009) and the pacing of ``resume`` read this.
    """
    try:
        stream = protocol.stream  # type: ignore[attr-defined]
        return stream._total_write_index - stream._total_write_done_index
    except AttributeError:
        return 0


def framed_stream(protocol: object) -> IOStream | None:
    """The IOStream to write pre-framed bytes to, or None if this connection cannot take them.

    It can when the connection is an open RFC 6455 server connection on a plain socket:
    unmasked frames, no compression negotiated (our application never offers it, but a
    subclass overriding ``get_compression_options`` would), not TLS (an ``SSLIOStream``
    must do its own writes).
    """
    if (type(protocol) is not WebSocketProtocol13
            or protocol.mask_outgoing
            or protocol._compressor is not None
            or protocol.is_closing()):
        return None
    stream = protocol.stream
    return stream if type(stream) is IOStream else None


def write_framed(stream: IOStream, frame: bytes, *, queued: bool) -> asyncio.Future[None] | None:
    """Write a frame made by ``text_frame``; None if the kernel took it all at once.

    ``queued`` says the IOStream still holds unsent bytes (its write indexes differ): then
    the frame must go behind them. Otherwise it is sent straight away with one ``send``;
    whatever the kernel does not take goes to the IOStream's buffer, and its future is
    returned (it fails with ``StreamClosedError`` if the stream closes first). Raises
    ``StreamClosedError`` if the stream is already closed.
    """
    sent = 0
    if not queued:
        try:
            sent = stream.socket.send(frame)  # type: ignore[union-attr]
        except OSError:
            # EAGAIN, or a reset/broken pipe: the IOStream meets it again and handles it
            # its own way (waits for the socket, or closes the stream).
            sent = 0
        if sent == len(frame):
            return None
    if stream.closed():
        raise StreamClosedError()
    return stream.write(memoryview(frame)[sent:] if sent else frame)
