"""The Watercooler websocket protocol, declared once: message types, codec, error and close codes.

This module is the code form of ``docs/protocol.md``. The server (``signaling``) and the
Python client (``peer``) both import it; the browser mirrors it in ``web/protocol.js``, and
both are checked against the same examples (``docs/protocol/examples.json``). No I/O.

Over 300 lines because the whole wire contract is one module, read top to bottom in the
order of the page it mirrors.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from typing import Any, ClassVar

import orjson  # a C parser and encoder, several times the standard library's speed

__all__ = [
    "DRAG_PHASES",
    "MAX_MESSAGE_BYTES",
    "MAX_PEERS_PAGE",
    "MAX_RELAY_CHARS",
    "NO_ACTOR",
    "PROTOCOL_VERSION",
    "STATUSES",
    "VISIBLE_PEERS",
    "Channels",
    "Close",
    "Drag",
    "ErrorCode",
    "Peers",
    "ProtocolError",
    "Relay",
    "Resume",
    "Signal",
    "decode",
    "decode_drag",
    "deeper_than",
    "encode",
    "encode_bytes",
    "event_frame",
    "loads",
    "peer_joined_frame",
    "peer_left_frame",
    "peers_frame",
    "presence_frame",
    "relay_frame",
    "resync_frame",
    "signal_frame",
    "welcome_frame",
]

PROTOCOL_VERSION = 2
#: ``welcome.peers`` and the ``presence`` frames cover the sprint's first this many peers in
#: peer-id order (everyone a data-channel mesh of up to ``VISIBLE_PEERS - 1`` can need).
VISIBLE_PEERS = 50
#: A ``peers`` request's page holds at most this many peers (``limit``, its default too).
MAX_PEERS_PAGE = 100
#: Frames larger than this close the connection with 1009 (``Close.MESSAGE_TOO_BIG``).
MAX_MESSAGE_BYTES = 64 * 1024
#: Task statuses as the REST API spells them; drag ghosts name their target column with one.
STATUSES = ("not_started", "in_progress", "testing", "done")
DRAG_PHASES = ("start", "move", "end")
#: A relay may name at most this many recipients, a ``channels`` report this many peers
#: (list entries: a peer named twice counts twice, and still gets one frame).
MAX_RECIPIENTS = 64
#: Peer ids are the server's: ``secrets.token_urlsafe`` output, 16 characters today. A
#: client names one only to address it, so anything else cannot be a peer and is refused
#: where it is read (it could otherwise reach Redis or a log line as it is).
_PEER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: A ``relay`` frame is fanned out to every peer of a sprint up to 60 times a second, so it
#: is bounded far below ``MAX_MESSAGE_BYTES``: 64 KiB relays would push 3.8 MB/s at each
#: receiver and cut slow ones with 4009. A drag update is about 150 characters.
MAX_RELAY_CHARS = 4096
#: How deep a relay's or signal's ``data`` may nest (drag state and SDP nest one or two).
MAX_DATA_DEPTH = 32
#: Sequence numbers and the like fit a signed 64-bit integer (Django's BigAutoField).
MAX_INT = 2**63 - 1
#: Half of a surrogate pair as a JSON escape (maybe without its other half), and as a
#: character (only in a ``str`` built in Python: text read off a socket is valid UTF-8).
#: Two patterns: one alternation of both costs a relay 25 times as much as the escape's.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_CHAR = re.compile(r"[\ud800-\udfff]")
#: Unknown field names are echoed in ``error`` frames: at most this many characters.
_ECHO_MAX = 40


class Close(IntEnum):
    """Websocket close codes the server uses. 4xxx are ours (RFC 6455 private range)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down: reconnect elsewhere / later
    MESSAGE_TOO_BIG = 1009  # frame over MAX_MESSAGE_BYTES
    UNAUTHORIZED = 4001  # token missing, malformed, badly signed or expired: get a new one
    FORBIDDEN = 4003  # token valid but for another sprint
    FLOOD = 4008  # far over the frame-rate limit
    SLOW_CONSUMER = 4009  # client did not read its frames; its outbound buffer overflowed
    PING_TIMEOUT = 4010  # no pong to the server's last websocket ping within the interval
    TOO_MANY_CONNECTIONS = 4029  # this address or user already holds its connections here
    PROTOCOL_VERSION = 4426  # the client did not ask for ``protocol=2`` (version 1 or none)


class ErrorCode(StrEnum):
    """``code`` of an ``error`` frame. The connection stays open after every one of them."""

    BAD_JSON = "bad_json"  # text frame is not JSON
    BAD_MESSAGE = "bad_message"  # JSON but not an object with a string ``type``
    UNKNOWN_TYPE = "unknown_type"  # ``type`` is not a client message type
    BAD_FIELD = "bad_field"  # a field is missing, of the wrong type or out of range
    UNKNOWN_PEER = "unknown_peer"  # ``to`` names no peer of this sprint
    RATE_LIMITED = "rate_limited"  # relay/signal over the per-connection rate; frame dropped
    BINARY_UNSUPPORTED = "binary_unsupported"  # binary frames carry nothing in this protocol


class ProtocolError(ValueError):
    """A client frame that cannot be accepted. Becomes an ``error`` frame."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_wire(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": str(self.code), "message": self.message}
        if self.field is not None:
            frame["field"] = self.field
        return frame


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_bytes(frame: dict[str, Any]) -> bytes:
    """``encode(frame)`` as the UTF-8 bytes that go on the wire (what the server writes).

    orjson writes the same compact text as the standard library for every frame the
    protocol builds. What it refuses (an integer beyond 64 bits, a lone surrogate, a
    non-string key, nesting past 254) goes to the standard library, which encodes the
    first three as before (a lone surrogate then fails ``.encode()`` with
    ``UnicodeEncodeError``, as it always did) and the last up to the interpreter's limit.
    One difference is left: orjson writes a NaN or an infinity as ``null`` where the
    standard library raises; no frame carries one (``loads`` refuses them from clients and
    Django alike, and the server's own numbers are finite).
    """
    try:
        return orjson.dumps(frame)
    except orjson.JSONEncodeError:
        return _dumps(frame).encode()


def encode(frame: dict[str, Any]) -> str:
    """Serialize one frame: compact, UTF-8 safe, key order as built (deterministic)."""
    try:
        return orjson.dumps(frame).decode()
    except orjson.JSONEncodeError:
        return _dumps(frame)


# --- field checks ---------------------------------------------------------------------------


def _bad(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FIELD, f"{name}: {why}", field=name)


def _peer_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or _PEER_ID.fullmatch(value) is None:
        raise _bad(name, "must be a peer id (1-64 of A-Z a-z 0-9 _ -)")
    return value


def _peer_ids(value: Any, name: str, *, empty: bool) -> tuple[str, ...]:
    """A list of at most ``MAX_RECIPIENTS`` peer ids, as a tuple naming each peer once, in
    first-seen order: ``["p", "p"]`` is one peer, so one frame, never two."""
    if (not isinstance(value, list) or len(value) > MAX_RECIPIENTS
            or (not empty and not value)):
        raise _bad(name, f"must be a {'' if empty else 'non-empty '}list of at most "
                         f"{MAX_RECIPIENTS} peer ids")
    return tuple(dict.fromkeys(_peer_id(p, name) for p in value))


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(name, "must be an object")
    return value


def _int(value: Any, name: str, minimum: int = 0) -> int:
    # bool is an int subclass in Python; JSON true is not a number.
    if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
            or value > MAX_INT):
        raise _bad(name, f"must be an integer >= {minimum}")
    return value


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, "must be a number between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise _bad(name, "must be a number between 0 and 1")
    return float(value)


def _only(obj: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _bad(_echo(unknown[0]), "unknown field")


def _echo(text: str) -> str:
    """Client text fit to send back: shortened, and a lone surrogate spelled ``\\ud800``
    (UTF-8 cannot carry it, so the error frame itself could not be sent)."""
    short = text[:_ECHO_MAX]
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


# --- client -> server messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relay:
    """Ephemeral state for other peers of the sprint (``to`` omitted: all others)."""

    type: ClassVar[str] = "relay"
    data: dict[str, Any]
    to: tuple[str, ...] | None = None

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Relay:
        _only(obj, {"type", "data", "to"})
        data = _object(obj.get("data"), "data")
        to = obj.get("to")
        if to is None:
            return cls(data=data)
        return cls(data=data, to=_peer_ids(to, "to", empty=False))

    def to_wire(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.type}
        if self.to is not None:
            frame["to"] = list(self.to)
        frame["data"] = self.data
        return frame


@dataclass(frozen=True, slots=True)
class Signal:
    """WebRTC negotiation (SDP description or ICE candidate) for one peer of the sprint."""

    type: ClassVar[str] = "signal"
    to: str
    data: dict[str, Any]

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Signal:
        _only(obj, {"type", "to", "data"})
        return cls(to=_peer_id(obj.get("to"), "to"), data=_object(obj.get("data"), "data"))

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "to": self.to, "data": self.data}


@dataclass(frozen=True, slots=True)
class Resume:
    """Ask for every event of the sprint with ``seq > since``."""

    type: ClassVar[str] = "resume"
    since: int

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Resume:
        _only(obj, {"type", "since"})
        return cls(since=_int(obj.get("since"), "since"))

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "since": self.since}


@dataclass(frozen=True, slots=True)
class Channels:
    """The peers this client currently has an open data channel with (for metrics)."""

    type: ClassVar[str] = "channels"
    peers: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Channels:
        _only(obj, {"type", "peers"})
        return cls(peers=_peer_ids(obj.get("peers"), "peers", empty=True))

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "peers": list(self.peers)}


@dataclass(frozen=True, slots=True)
class Peers:
    """Ask for a page of the sprint's peers in peer-id order, after ``after`` (None: from
    the first), at most ``limit`` of them (1 to ``MAX_PEERS_PAGE``)."""

    type: ClassVar[str] = "peers"
    after: str | None = None
    limit: int = MAX_PEERS_PAGE

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Peers:
        _only(obj, {"type", "after", "limit"})
        after = obj.get("after")
        limit = obj.get("limit", MAX_PEERS_PAGE)
        if (isinstance(limit, bool) or not isinstance(limit, int)
                or not 1 <= limit <= MAX_PEERS_PAGE):
            raise _bad("limit", f"must be an integer from 1 to {MAX_PEERS_PAGE}")
        return cls(after=None if after is None else _peer_id(after, "after"), limit=limit)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "after": self.after, "limit": self.limit}


ClientMessage = Relay | Signal | Resume | Channels | Peers
CLIENT_MESSAGES: dict[str, type[Relay] | type[Signal] | type[Resume] | type[Channels]
                      | type[Peers]] = {m.type: m for m in (Relay, Signal, Resume, Channels, Peers)}


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's parser accepts them by default)."""
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """1e999 parses as infinity, which is not JSON either (and cannot be sent on)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


#: An integer literal orjson would turn into a float (beyond 64 bits) has at least 19 digits.
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")


def loads(text: str | bytes) -> Any:
    """Parse JSON by the protocol's number rules: client frames and ``POST /events/`` alike.

    Raises ``ValueError`` for what is not JSON, ``NaN``, ``Infinity`` and numbers beyond a
    double such as ``1e999`` included (an integer of more than 4300 digits too), and
    ``RecursionError`` for nesting the parser itself cannot follow.

    orjson parses what it can: it accepts exactly what the standard library accepts under
    these rules, except two things it refuses (a lone surrogate escape such as ``"\\ud800"``,
    nesting deeper than 1024) and one it reads differently (an integer beyond 64 bits
    becomes a float). Whatever orjson refuses, and any text with a run of 19 digits, is
    parsed by the standard library instead, so every answer, and every error, is the
    standard library's.
    """
    long_digits = (_LONG_DIGITS_BYTES.search(text) if isinstance(text, bytes)
                   else _LONG_DIGITS.search(text))
    if long_digits is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # refused: the standard library decides, and says why
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest in ``value`` more than ``limit`` deep (``{}`` is 1 deep).

    Iterative, one level at a time, and it stops at the first level past ``limit``: the
    parser accepts nesting close to the interpreter's recursion limit, so a recursive walk
    here would not survive what it is meant to refuse.
    """
    level: list[Any] = [value]
    depth = 0
    while True:
        containers = [node for node in level if isinstance(node, dict | list)]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = [child for node in containers
                 for child in (node.values() if isinstance(node, dict) else node)]


def _check_forwardable(text: str, data: dict[str, Any]) -> None:
    """``data`` that the server will encode again and forward must encode.

    Two things parse but do not: nesting near the interpreter's recursion limit, and a
    lone surrogate from a JSON escape (``"\ud800"``), which is no character UTF-8 can
    carry. Both are cheap to rule out first from the raw text (few brackets, no such
    escape), so the common frame pays for two string scans only.
    """
    if (text.count("{") + text.count("[") > MAX_DATA_DEPTH
            and deeper_than(data, MAX_DATA_DEPTH)):
        raise _bad("data", f"nested deeper than {MAX_DATA_DEPTH}")
    if _SURROGATE_ESCAPE.search(text) is not None or (
            not text.isascii() and _SURROGATE_CHAR.search(text) is not None):
        try:
            encode(data).encode()
        except UnicodeEncodeError:
            raise _bad("data", "cannot be forwarded (not valid Unicode)") from None


def decode(text: str | bytes) -> ClientMessage:
    """Parse one client text frame. Raises ``ProtocolError`` with the matching code.

    What it returns can be encoded again as it is: the server forwards relays and
    signals without re-checking them.
    """
    if isinstance(text, bytes):
        raise ProtocolError(ErrorCode.BINARY_UNSUPPORTED, "binary frames are not accepted")
    try:
        obj = loads(text)
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    except RecursionError:  # the parser's own bound, near the interpreter's recursion limit
        raise ProtocolError(ErrorCode.BAD_JSON, "frame nests too deep to parse") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "frame must be a JSON object with a 'type'")
    kind = CLIENT_MESSAGES.get(obj["type"])
    if kind is None:
        known = ", ".join(sorted(CLIENT_MESSAGES))
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown type {obj['type'][:40]!r}; expected one of {known}"
        )
    message = kind.from_wire(obj)
    if isinstance(message, Relay) and len(text) > MAX_RELAY_CHARS:
        raise _bad("data", f"a relay frame is at most {MAX_RELAY_CHARS} characters")
    if isinstance(message, Relay | Signal):
        _check_forwardable(text, message.data)
    return message


# --- drag state (inside relay.data and on data channels) -------------------------------------


@dataclass(frozen=True, slots=True)
class Drag:
    """One drag update: enough for a receiver to draw a ghost of the card.

    ``seq`` increases per sender (across tasks); a receiver drops any update whose
    ``seq`` is not above the last one it showed from that sender, which removes the
    duplicates of an update that came both by data channel and by relay, and stale
    ``move``s that arrive after their ``end``.
    """

    type: ClassVar[str] = "drag"
    seq: int
    task: int
    phase: str
    status: str | None = None  # target column
    index: int | None = None  # target position in that column
    x: float | None = None  # pointer position as fractions of the board
    y: float | None = None

    def __post_init__(self) -> None:
        _int(self.seq, "seq", minimum=1)
        _int(self.task, "task", minimum=1)
        if self.phase not in DRAG_PHASES:
            raise _bad("phase", f"must be one of {', '.join(DRAG_PHASES)}")
        if self.status is not None and self.status not in STATUSES:
            raise _bad("status", f"must be one of {', '.join(STATUSES)}")
        if self.index is not None:
            _int(self.index, "index")
        for name in ("x", "y"):
            value = getattr(self, name)
            if value is not None:
                _fraction(value, name)

    def to_wire(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.type, "seq": self.seq, "task": self.task,
                                 "phase": self.phase}
        for name in ("status", "index", "x", "y"):
            value = getattr(self, name)
            if value is not None:
                frame[name] = value
        return frame


def decode_drag(obj: Any) -> Drag:
    """Validate a drag object received from another peer (never trust a peer)."""
    obj = _object(obj, "data")
    if obj.get("type") != Drag.type:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "not a drag update")
    _only(obj, {"type", "seq", "task", "phase", "status", "index", "x", "y"})
    return Drag(
        seq=obj.get("seq"),  # type: ignore[arg-type]  # checked in __post_init__
        task=obj.get("task"),  # type: ignore[arg-type]
        phase=obj.get("phase"),  # type: ignore[arg-type]
        status=obj.get("status"),
        index=obj.get("index"),
        x=obj.get("x"),
        y=obj.get("y"),
    )


# --- server -> client frames -----------------------------------------------------------------
# Builders for the frames of §3, keys in the documented order. The server encodes each once.

EVENT_ACTIONS = ("created", "updated", "deleted", "added", "removed")
EVENT_MODELS = ("task", "sprint")


def welcome_frame(*, peer: str, sprint: int, user: dict[str, Any], peers: list[dict[str, Any]],
                  count: int, ice_servers: list[dict[str, Any]], seq: int | None,
                  limits: dict[str, Any]) -> dict[str, Any]:
    """``peers``: the sprint's first ``VISIBLE_PEERS`` in peer-id order (maybe this one);
    ``count``: every peer of the sprint, this one included."""
    return {"type": "welcome", "protocol": PROTOCOL_VERSION, "peer": peer, "sprint": sprint,
            "user": user, "peers": peers, "count": count, "ice_servers": ice_servers,
            "seq": seq, "limits": limits}


def presence_frame(joined: list[dict[str, Any]], left: list[str], count: int) -> dict[str, Any]:
    """Changes to the peers a client sees (``welcome.peers``), and the sprint's count."""
    return {"type": "presence", "joined": joined, "left": left, "count": count}


def peers_frame(peers: list[dict[str, Any]], next_after: str | None, count: int
                ) -> dict[str, Any]:
    """The answer to a ``peers`` request: a page, where the next one starts, the count."""
    return {"type": "peers", "peers": peers, "next": next_after, "count": count}


# Between nodes only (bus envelopes of kind "presence", never sent to a client in version
# 2): one peer joined or left the sprint, so each node's presence tick looks again.
def peer_joined_frame(peer: str, user: dict[str, Any]) -> dict[str, Any]:
    return {"type": "peer_joined", "peer": peer, "user": user}


def peer_left_frame(peer: str) -> dict[str, Any]:
    return {"type": "peer_left", "peer": peer}


def relay_frame(sender: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "relay", "from": sender, "data": data}


def signal_frame(sender: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "signal", "from": sender, "data": data}


def resync_frame(latest: int | None) -> dict[str, Any]:
    return {"type": "resync", "latest": latest}


class _NoActor(Enum):
    NO_ACTOR = "no actor"


#: `event_frame`'s ``actor`` when the sender gave none: the frame has no ``actor`` key.
NO_ACTOR = _NoActor.NO_ACTOR


def event_frame(*, sprint: int, seq: int, action: str, model: str, id: int,
                data: dict[str, Any] | None,
                actor: dict[str, Any] | _NoActor | None = NO_ACTOR) -> dict[str, Any]:
    """``actor``: who made the change, ``{"id", "username"}``, or None for the system."""
    frame = {"type": "event", "sprint": sprint, "seq": seq, "action": action, "model": model,
             "id": id, "data": data}
    if actor is not NO_ACTOR:
        frame["actor"] = actor
    return frame
