"""The Server-Sent Events wire format of a sprint's stream (docs/protocol.md §10).

Which websocket frames a stream passes on and under which event name (``classify``), the
bytes of one SSE message (``sse_message``), and the presence a stream shows: the snapshot
that opens it and the frame types that update it; and why a request is refused
(``StreamRefused``). Kept apart from the handler (``signaling.stream``) so presence can
change shape in one place.
"""

from __future__ import annotations

import json
from typing import Any

from signaling.auth import AuthError
from signaling.protocol import MAX_INT, Close, encode

__all__ = ["HEARTBEAT", "OPENED", "PRESENCE_TYPES", "Message", "StreamRefused", "auth_refusal",
           "classify", "http_chunk", "message", "parse_since", "presence_snapshot",
           "sse_message"]

#: Frame types a stream passes on as ``event: presence``: the ``presence`` frames of protocol
#: version 2 (§3), which the node's presence tick sends a stream as it does a websocket.
#: Relays, signals and debug text never go to a stream.
PRESENCE_TYPES = frozenset({"presence"})
#: Frame types passed on under their own name.
_NAMED = {"event": "event", "resync": "resync"}
HEARTBEAT = b": heartbeat\n\n"
OPENED = b": stream open\n\n"


#: One SSE message ready to write: its bytes, its seq (an event's ``id:``, else None), its
#: event name (for the metrics) and the same bytes as an HTTP/1.1 chunk (``http_chunk``).
Message = tuple[bytes, int | None, str, bytes]


def sse_message(name: str, data: bytes, seq: int | None = None) -> bytes:
    """The bytes of one SSE message (HTML standard, "server-sent events"): an ``id:`` line
    for an event, ``event:``, one ``data:`` line per line of ``data``, a blank line."""
    head = b"id: %d\n" % seq if seq is not None else b""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return head + b"event: " + name.encode() + b"\n" + b"".join(
        b"data: " + line + b"\n" for line in lines) + b"\n"


def http_chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body (RFC 9112 §7.1), as Tornado frames
    it: a broadcast is framed once and every stream writes the same bytes."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


def message(name: str, data: bytes, seq: int | None = None) -> Message:
    """A ``Message`` of event ``name`` carrying ``data``."""
    encoded = sse_message(name, data, seq)
    return encoded, seq, name, http_chunk(encoded)


def classify(frame: bytes) -> tuple[str, int | None] | None:
    """The event name (and seq) a frame goes out under on a stream; None: not for streams."""
    try:
        obj = json.loads(frame)
    except ValueError:  # debug mode's raw text
        return None
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind in PRESENCE_TYPES:
        return "presence", None
    name = _NAMED.get(kind) if isinstance(kind, str) else None
    if name == "event":
        seq = obj.get("seq")
        return (name, seq) if isinstance(seq, int) else None
    return (name, None) if name is not None else None


def presence_snapshot(members: list[dict[str, Any]], count: int) -> bytes:
    """The first ``event: presence`` of a stream: the sprint's first peers and how many
    there are (the websocket's ``welcome.peers`` and ``count``); ``presence`` frames with
    ``joined``, ``left`` and ``count`` follow."""
    return encode({"type": "presence", "peers": members, "count": count}).encode()


class StreamRefused(Exception):
    """The request may not open a stream: the HTTP status and the JSON error body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def auth_refusal(exc: AuthError) -> StreamRefused:
    reason = exc.reason
    if exc.code is Close.FORBIDDEN:
        return StreamRefused(403, "wrong_sprint", reason)
    error = {"token missing": "token_missing", "token expired": "token_expired"}.get(
        reason, "token_invalid")
    return StreamRefused(401, error, reason)


def parse_since(header: str | None, query: str | None) -> int | None:
    """Where to resume: ``Last-Event-ID`` if sent (a browser's reconnect), else ``since``."""
    for name, value in (("Last-Event-ID", header), ("since", query)):
        if value is None or value == "":
            continue
        value = value.strip()
        if not value.isdigit() or len(value) > 19 or int(value) > MAX_INT:
            raise StreamRefused(400, "bad_since", f"{name} must be an event seq (digits)")
        return int(value)
    return None
