"""``Node``: one realtime node's shared state, kept out of the handlers (Tornado's chat demo).

It keeps the subscribers of each sprint (the seed chapter's design) and every local peer by
id, owns the broker, the history, the metrics and the configuration, and delivers
envelopes to local connections, each frame framed once for all of them. Handlers receive
the node through ``initialize()`` (``signaling.app`` wires the routes); the node imports no
handler. ``signaling.brokers.create_broker`` picks the broker a ``--broker`` URL names.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from signaling.admission import ConnectionSlots
from signaling.broker import Broker, Envelope, Member, PresencePage
from signaling.brokers import create_broker
from signaling.channel_pairs import ChannelPairs
from signaling.config import Config
from signaling.framing import text_frame
from signaling.history import History
from signaling.join_gate import JoinGate
from signaling.keepalive import Keepalive
from signaling.metrics import Metrics
from signaling.presence import PresenceTicker
from signaling.protocol import (
    VISIBLE_PEERS,
    Close,
    encode,
    peer_joined_frame,
    peer_left_frame,
)
from signaling.ratelimit import LogBudget

__all__ = ["Connection", "Node"]

log = logging.getLogger(__name__)

#: Error-frame log lines per second for the whole node (clients cause them at will).
ERROR_LOG_RATE = 10.0
ERROR_LOG_BURST = 50.0
#: Lines about shed handshakes: one per 10 s, saying how many were shed meanwhile.
SHED_LOG_RATE = 0.1

_PEER_LEFT = b'{"type":"peer_left",'
#: Joins (and leaves) talking to the broker at once; more wait their turn here, holding no
#: Redis connection (a burst of thousands would otherwise exhaust the client's pool).
JOINS_IN_FLIGHT = 64


class Connection(Protocol):
    """A local websocket as the node sees it (``SprintHandler`` is the real one)."""

    peer_id: str
    sprint: int

    def send(self, frame: bytes, wire: bytes | None = None) -> bool:
        """Queue an encoded text frame; False if it was not (closed or too far behind).

        ``wire``, when given, is ``frame`` already framed by ``framing.text_frame``; the
        caller then counts the frame in ``frames_out`` itself.
        """
        ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Node:
    """This node's connections by sprint and by peer, its broker, metrics and configuration."""

    def __init__(self, config: Config, broker: Broker | None = None) -> None:
        self.config = config
        self.metrics = Metrics()
        self.history = History(max_size=config.history_size, max_age=config.history_age,
                               max_sprints=config.history_sprints)
        self.broker = broker or create_broker(
            config.broker, self.deliver, self.history, prefix=config.redis_prefix,
            presence_ttl=config.presence_ttl, metrics=self.metrics,
            replay_cache_size=config.replay_cache_size)
        #: sprint id -> peer id -> connection, for this node's connections only.
        self.subscribers: dict[int, dict[str, Connection]] = {}
        self.peers: dict[str, Connection] = {}
        #: The read-only streams among ``peers`` (``signaling.stream``: SSE, not in presence).
        self.streams: dict[str, Connection] = {}
        self.channels = ChannelPairs()
        self.presence = PresenceTicker(self)
        self._joining = asyncio.Semaphore(JOINS_IN_FLIGHT)
        self.slots = ConnectionSlots(per_address=config.max_connections_per_address,
                                     per_user=config.max_connections_per_user)
        self.error_log = LogBudget(ERROR_LOG_RATE, ERROR_LOG_BURST)
        #: Storm control: joins in progress, bounded (``signaling.join_gate``).
        self.joins = JoinGate(max_pending=config.max_pending_joins,
                              concurrency=config.join_concurrency,
                              retry_after=config.join_retry_after)
        self.shed_log = LogBudget(SHED_LOG_RATE, 1.0)
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        #: One timer pings every connection (Tornado's own pinger is a task per socket).
        self.keepalive = Keepalive(config.ping_interval) if config.ping_interval > 0 else None

    # subscriptions ------------------------------------------------------------------------
    async def join(self, conn: Connection, info: Member) -> tuple[PresencePage, int | None]:
        """Subscribe ``conn`` to its sprint; what its welcome lists (the sprint's first
        ``VISIBLE_PEERS`` peers, ``conn`` among them if it is one) and the latest seq.

        The connection is registered first (frames for it wait until its welcome is sent);
        the caller sends the welcome and tells ``presence.welcomed``, then ``announce``s.
        """
        sprint = conn.sprint
        first = sprint not in self.subscribers
        self.subscribers.setdefault(sprint, {})[conn.peer_id] = conn
        self.peers[conn.peer_id] = conn
        self._count()
        async with self._joining:
            if first:
                await self.broker.subscribe(sprint)
            await self.broker.join(sprint, info)
            page = await self.broker.presence_page(sprint, None, VISIBLE_PEERS)
            latest = await self.broker.latest(sprint)
        return page, latest

    async def announce(self, conn: Connection, info: Member) -> None:
        """Tell every node (this one too) that ``info`` joined: each one's presence tick."""
        frame = encode(peer_joined_frame(info.peer, info.user.to_wire())).encode()
        await self.broker.publish(Envelope(conn.sprint, frame, "presence", exclude=conn.peer_id))

    async def leave(self, conn: Connection) -> None:
        """Unsubscribe ``conn`` and tell the others it left."""
        sprint = conn.sprint
        members = self.subscribers.get(sprint)
        if members is None or members.pop(conn.peer_id, None) is None:
            return
        self.peers.pop(conn.peer_id, None)
        self.presence.forget(sprint, conn.peer_id)
        self.channels.forget(conn.peer_id)
        self.metrics.datachannel_pairs.set(len(self.channels))
        last = not members
        if last:
            del self.subscribers[sprint]
            self.metrics.forget_sprint(sprint)
        self._count()
        async with self._joining:  # thousands leaving at once: as for joins
            await self.broker.leave(sprint, conn.peer_id)
            # Also while shutting down: peers on other nodes must hear of it.
            frame = encode(peer_left_frame(conn.peer_id)).encode()
            await self.broker.publish(Envelope(sprint, frame, "presence",
                                               exclude=conn.peer_id))
            if last:
                await self.broker.unsubscribe(sprint)

    def report_channels(self, conn: Connection, peers: tuple[str, ...]) -> None:
        """``conn`` has data channels with ``peers`` (other peers of its sprint, checked).

        Ignored once ``conn`` has left: a report whose check awaited the broker can finish
        after the leave that forgot the connection's pairs, and must not bring them back.
        """
        if self.peers.get(conn.peer_id) is not conn:
            return
        self.channels.report(conn.peer_id, peers)
        self.metrics.datachannel_pairs.set(len(self.channels))

    def _count(self) -> None:
        metrics = self.metrics
        metrics.connections.set(len(self.peers))
        metrics.sprints.set(len(self.subscribers))
        metrics.transport_connections.labels("websocket").set(len(self.peers) - len(self.streams))
        metrics.transport_connections.labels("sse").set(len(self.streams))

    # read-only streams (signaling.stream) ---------------------------------------------------
    async def watch(self, conn: Connection) -> None:
        """Subscribe a read-only stream to its sprint: it gets the sprint's envelopes and
        presence ticks (from its snapshot) and is closed on shutdown like a websocket, but
        is no peer: not in presence, never a relay's or signal's recipient."""
        sprint = conn.sprint
        first = sprint not in self.subscribers
        self.subscribers.setdefault(sprint, {})[conn.peer_id] = conn
        self.peers[conn.peer_id] = self.streams[conn.peer_id] = conn
        self._count()
        if first:
            await self.broker.subscribe(sprint)

    async def unwatch(self, conn: Connection) -> None:
        """Undo ``watch`` (the stream ended); unsubscribes the sprint if it was the last."""
        if self.streams.pop(conn.peer_id, None) is None:
            return
        self.peers.pop(conn.peer_id, None)
        sprint = conn.sprint
        self.presence.forget(sprint, conn.peer_id)
        members = self.subscribers.get(sprint)
        last = False
        if members is not None and members.pop(conn.peer_id, None) is not None and not members:
            del self.subscribers[sprint]
            self.metrics.forget_sprint(sprint)
            last = True
        self._count()
        if last:
            await self.broker.unsubscribe(sprint)

    # delivery -----------------------------------------------------------------------------
    def deliver(self, envelope: Envelope) -> None:
        """Write an envelope to its recipients on this node (the broker's callback).

        The frame is encoded once (by the publisher) and framed once here; every
        recipient's socket gets the same bytes. A presence envelope (a peer joined or left,
        on any node) goes to no client: the sprint's presence tick tells them.
        """
        if envelope.kind == "presence":
            if envelope.frame.startswith(_PEER_LEFT):
                self._forget_channels(envelope.frame)
            self.presence.mark(envelope.sprint)
            return
        if envelope.to is not None:
            found = (self.peers.get(p) for p in envelope.to if p != envelope.exclude)
            targets = [c for c in found if c is not None and c.sprint == envelope.sprint]
        else:
            members = self.subscribers.get(envelope.sprint)
            if not members:
                return
            exclude = envelope.exclude
            targets = [c for p, c in members.items() if p != exclude]
        frame = envelope.frame
        wire = text_frame(frame)
        sent = 0
        for conn in targets:
            if conn.send(frame, wire):
                sent += 1
        if sent:
            self.metrics.frames_out.inc(sent)  # once per broadcast, not per frame
            if envelope.kind == "relay":
                self.metrics.relay_deliveries.inc(sent)

    def _forget_channels(self, peer_left: bytes) -> None:
        """A peer left (on any node): this node's peers' channels with it are gone too.

        Its own node forgets them on leave; the others learn of it only from this frame.
        """
        peer = json.loads(peer_left).get("peer")
        if isinstance(peer, str):
            self.channels.forget(peer)
            self.metrics.datachannel_pairs.set(len(self.channels))

    # lifecycle ----------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, kept referenced and awaited on shutdown."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def shutdown(self) -> None:
        """Close every socket with 1001 and wait (up to the grace period) for them to go."""
        self.closing = True
        if self.keepalive is not None:
            self.keepalive.stop()
        conns = list(self.peers.values())
        log.info("shutting down: closing %d connections with 1001", len(conns))
        for conn in conns:
            conn.close(Close.GOING_AWAY, "server shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.shutdown_grace
        while (self.peers or self._tasks) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await self.broker.close()
