"""The broker seam: fan-out, presence and event history, local or shared between nodes.

Two calls are kept apart, as in python-socketio's pub/sub manager: ``publish`` hands an
``Envelope`` (the frame already encoded, plus who gets it) to every node subscribed to the
sprint, and each node's ``deliver`` callback writes it to its own local connections.
``MemoryBroker`` (``signaling.memory_broker``: one process, the default) calls ``deliver``
directly. ``RedisBroker`` (``signaling.redis_broker``, for several nodes) implements the
same methods with ``Envelope.pack()`` bytes published on a per-sprint channel, a listener
calling ``deliver`` with ``Envelope.unpack()``, presence in a hash with a heartbeat TTL per
node, and ``record_event`` as one atomic script over a capped list. The broker also keeps
the replay memory of ``POST /events/`` (``claim_nonce``), shared by every node with Redis.
``signaling.brokers.create_broker`` picks one from the ``--broker`` URL.
"""

from __future__ import annotations

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from signaling.auth import NonceClaim, User
from signaling.history import EventStatus, History
from signaling.protocol import encode, resync_frame

__all__ = ["RECORDED_KINDS", "Broker", "BrokerError", "BrokerUnavailable", "Deliver",
           "Envelope", "Member", "PresencePage", "reset_envelope"]


class BrokerError(Exception):
    """The broker URL names something this server cannot use."""


class BrokerUnavailable(Exception):
    """The broker's transport is unreachable now: retry later (``POST /events/`` answers 503)."""


@dataclass(frozen=True, slots=True)
class Member:
    """A peer of a sprint as presence lists it: its id and its user (``welcome.peers``)."""

    peer: str
    user: User

    def to_wire(self) -> dict[str, Any]:
        return {"peer": self.peer, "user": self.user.to_wire()}


@dataclass(frozen=True, slots=True)
class PresencePage:
    """Peers of a sprint in peer-id order (byte-wise), from a cursor: ``Broker.presence_page``.

    ``count`` is every peer of the sprint; ``more`` says whether peers follow the last one.
    """

    members: list[Member]
    count: int
    more: bool

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(m.peer for m in self.members)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One frame for a sprint's connections, encoded once for all of them.

    ``to`` names the recipients (None: everyone); ``exclude`` is the sender, who never gets
    its own frame. ``kind`` is for metrics: event, presence, relay, signal or raw.
    """

    sprint: int
    frame: bytes
    kind: str
    exclude: str | None = None
    to: tuple[str, ...] | None = None

    def pack(self, origin: str) -> bytes:
        """Bus bytes: a JSON header line, then the frame verbatim (never re-encoded)."""
        header = {"o": origin, "s": self.sprint, "k": self.kind, "x": self.exclude,
                  "t": list(self.to) if self.to is not None else None}
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + self.frame

    @classmethod
    def unpack(cls, data: bytes) -> tuple[str, Envelope]:
        """The origin node id and the envelope of bus bytes made by ``pack``."""
        line, _, frame = data.partition(b"\n")
        header = json.loads(line)
        to = tuple(header["t"]) if header["t"] is not None else None
        return header["o"], cls(sprint=header["s"], frame=frame, kind=header["k"],
                                exclude=header["x"], to=to)


Deliver = Callable[[Envelope], None]

#: Envelope kinds that follow a ``record_event`` (the event, and the ``resync`` before an
#: event that reset the history): a shared transport published them while recording.
RECORDED_KINDS = frozenset({"event", "reset"})


def reset_envelope(sprint: int, seq: int) -> Envelope:
    """The ``resync`` a sprint's clients get when event ``seq`` restarts its history."""
    return Envelope(sprint, encode(resync_frame(seq)).encode(), "reset")


class Broker(ABC):
    """What the server needs from its broker. Every method may be network I/O, so async."""

    def __init__(self, deliver: Deliver, history: History) -> None:
        #: Writes an envelope to this node's local connections (``ScrumApplication.deliver``).
        self.deliver = deliver
        self.history = history
        #: Tells this node's own bus messages from other nodes'.
        self.node_id = secrets.token_hex(8)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect to the transport. Called once before the server listens."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect. Called once on shutdown."""

    @property
    def up(self) -> bool:
        """False while the transport is unreachable (the node is degraded). Default True."""
        return True

    @property
    def last_error(self) -> str | None:
        """Why the broker is not up (None when it is)."""
        return None

    @property
    def label(self) -> str:
        """The broker's URL without credentials, for logs and ``/healthz``."""
        return "memory://"

    # fan-out ---------------------------------------------------------------------------------
    @abstractmethod
    async def subscribe(self, sprint: int) -> None:
        """This node has a connection of ``sprint``: receive the sprint's envelopes."""

    @abstractmethod
    async def unsubscribe(self, sprint: int) -> None:
        """This node's last connection of ``sprint`` left."""

    async def publish(self, envelope: Envelope) -> None:
        """Deliver ``envelope`` on every node subscribed to its sprint, this one included.

        This node's connections get it before the call returns, whatever the transport's
        state. An ``event`` envelope must follow an accepted ``record_event`` of the same
        frame (and a ``reset`` one, from ``reset_envelope``, a ``record_event`` answered
        ``RESET``, before the event): a shared transport may have sent it to the other
        nodes already, atomically with recording it, and then only delivers it here.
        """
        self.publish_now(envelope)

    @abstractmethod
    def publish_now(self, envelope: Envelope) -> None:
        """``publish`` without waiting: this node's connections get it now, other nodes'
        are queued for the transport (bounded; dropped and counted when full or down).

        The hot path of relays, which need no answer from the transport.
        """

    async def direct(self, envelope: Envelope) -> None:
        """Deliver to the peers named in ``envelope.to`` wherever they are connected.

        Defaults to ``publish``: recipients are filtered where they are delivered. A
        transport with per-peer channels can override it.
        """
        await self.publish(envelope)

    # presence --------------------------------------------------------------------------------
    @abstractmethod
    async def join(self, sprint: int, peer: Member) -> None: ...

    @abstractmethod
    async def leave(self, sprint: int, peer: str) -> None: ...

    @abstractmethod
    async def peers(self, sprint: int) -> list[Member]:
        """Every peer of the sprint, on every node, in join order."""

    @abstractmethod
    async def presence_page(self, sprint: int, after: str | None, limit: int) -> PresencePage:
        """At most ``limit`` peers of ``sprint`` with ids above ``after`` (None: from the
        first), in peer-id order, and the sprint's count: O(log N + limit), never the whole
        sprint (welcome, every presence tick and ``peers`` requests read it)."""

    async def missing_peers(self, sprint: int, peers: Iterable[str]) -> list[str]:
        """Those of ``peers`` that are not peers of ``sprint``."""
        present = {p.peer for p in await self.peers(sprint)}
        return [p for p in peers if p not in present]

    # history ---------------------------------------------------------------------------------
    @abstractmethod
    async def record_event(self, sprint: int, seq: int, frame: bytes, *, epoch: str = "",
                           reset: bool = False) -> EventStatus:
        """Append the event if it is the sprint's next, or restart the sprint's history
        with it (``history.classify``'s rule), atomically across nodes.

        Raises ``BrokerUnavailable`` when the shared history cannot be reached.
        """

    @abstractmethod
    async def events_since(self, sprint: int, since: int) -> list[bytes] | None:
        """Encoded events with seq > since, or None if the history does not cover them."""

    @abstractmethod
    async def latest(self, sprint: int) -> int | None: ...

    # replay memory of POST /events/ ------------------------------------------------------------
    @abstractmethod
    async def claim_nonce(self, nonce: str, timestamp: int, ttl: float) -> NonceClaim:
        """Take a request's nonce for ``ttl`` seconds (while its timestamp is acceptable).

        ``BEFORE_MEMORY`` when ``timestamp`` is older than what the replay memory covers
        (it began after a restart). Raises ``BrokerUnavailable`` like ``record_event``.
        """

    async def release_nonce(self, nonce: str) -> None:  # noqa: B027 - optional hook
        """Give back a nonce whose request failed, so that the same request may be retried.

        Best effort: a nonce that cannot be given back only makes its request's exact
        retry refused (the sender signs a new attempt anyway).
        """
