"""``RedisBroker``: the broker of a cluster of realtime nodes, on redis-py's asyncio client.

It implements the ``signaling.broker.Broker`` seam by putting four parts together, one job
each (docs/architecture.md, Scale-out):

* ``redis_connection.RedisLink`` — the clients (one Redis or a Redis Cluster), up or down,
  reconnecting with backoff;
* ``redis_fanout.RedisFanout`` — sprint subscriptions (sharded pub/sub, ``redis_bus``),
  local delivery at once, the bounded queue of bus messages to the other nodes;
* ``redis_presence.RedisPresence`` — who is where, the heartbeat, dead nodes reaped
  (``redis_reaper``);
* ``redis_history.RedisHistory`` — events recorded and published atomically, the replay
  memory of ``POST /events/``, catch-up after an outage.

``direct`` (``signal``) goes to the node holding the peer, on that node's own channel.
Redis lost: the node keeps serving its local connections, reports ``up = False`` (health
check, ``watercooler_broker_up``), refuses ``record_event`` with ``BrokerUnavailable`` (HTTP
503: Django retries), reconnects with backoff and jitter, then re-subscribes, re-registers
its peers and catches its connections up on the events they may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from signaling.auth import NonceClaim
from signaling.broker import Broker, Deliver, Envelope, Member, PresencePage
from signaling.history import EventStatus, History
from signaling.redis_connection import ERRORS, RedisLink, redact
from signaling.redis_fanout import RedisFanout
from signaling.redis_history import RedisHistory
from signaling.redis_presence import RedisPresence
from signaling.redis_scripts import Keys

if TYPE_CHECKING:
    from signaling.metrics import Metrics

__all__ = ["RedisBroker", "redact"]

log = logging.getLogger(__name__)

#: Seconds a clean shutdown may spend sending what is queued, and leaving the cluster.
CLOSE_TIMEOUT = 2.0


class RedisBroker(Broker):
    """Broker shared by every node pointed at the same Redis URL and ``prefix``.

    ``presence_ttl`` [15 s]: a node that stops refreshing its heartbeat for that long is
    dead, and its peers are removed (heartbeat every third of it). ``metrics``, if given,
    gets the broker's counters.
    """

    def __init__(self, url: str, deliver: Deliver, history: History, *,
                 prefix: str = "watercooler:", presence_ttl: float = 15.0,
                 metrics: Metrics | None = None) -> None:
        super().__init__(deliver, history)
        if presence_ttl <= 0:
            raise ValueError("presence_ttl must be positive")
        self.keys = Keys(prefix)
        self.link = RedisLink(url, self.keys, self.node_id, metrics=metrics)
        self.fanout = RedisFanout(self.link, deliver, on_moved=self._moved)
        self.presence = RedisPresence(self.link, self.fanout, presence_ttl=presence_ttl)
        self.redis_history = RedisHistory(self.link, self.fanout, history)
        self._tasks: list[asyncio.Task[None]] = []
        self._moves: set[asyncio.Task[None]] = set()

    # lifecycle --------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self.link.up

    @property
    def last_error(self) -> str | None:
        return self.link.last_error

    @property
    def label(self) -> str:
        return self.link.label

    async def start(self) -> None:
        """Connect (a Redis that is down now is retried in the background, degraded)."""
        try:
            await self._connect()
        except ERRORS as exc:
            self.link.down(exc)
            log.error("broker %s: Redis unavailable at start (%s); serving this node's "
                      "connections only and retrying", self.label, exc)
        self._tasks = [
            asyncio.create_task(self.link.supervise(self._connect), name="broker-supervise"),
            asyncio.create_task(self.presence.heartbeat(), name="broker-heartbeat"),
            asyncio.create_task(self.fanout.pump(), name="broker-publish")]

    async def _connect(self) -> None:
        """Subscribe, register this node and its peers, catch up on missed events."""
        failures = self.link.failures
        await self.link.refresh()
        await self.fanout.listen()
        await self.presence.register()
        await self.redis_history.mark_memory_start()
        self.link.mark_up(failures)
        log.info("broker %s: connected as node %s (%d sprints)", self.label, self.node_id,
                 len(self.fanout.subscribed))
        await self.redis_history.catch_up()

    def _moved(self, sprint: int) -> None:
        """A sprint's slot moved to another shard: catch up on what came meanwhile."""
        async def catch_up() -> None:
            try:
                await self.redis_history.catch_up_sprint(sprint)
            except ERRORS as exc:
                self.link.down(exc)
        task = asyncio.create_task(catch_up(), name="broker-moved")
        self._moves.add(task)
        task.add_done_callback(self._moves.discard)

    async def close(self) -> None:
        """Flush what is queued, leave the cluster (peers left are reaped now), disconnect."""
        self.link.closing = True
        self.link.wake()
        supervise, beat, pump = self._tasks or (None, None, None)
        for task in (supervise, beat, *self._moves):
            if task is not None:
                task.cancel()
        if self.link.up:
            with contextlib.suppress(*ERRORS, TimeoutError):
                await asyncio.wait_for(self.fanout.flush(), CLOSE_TIMEOUT)
                await self.link.redis.delete(self.keys.alive(self.node_id))
                await asyncio.wait_for(self.presence.reaper.reap(self.node_id), CLOSE_TIMEOUT)
        await self.fanout.bus.stop()
        self.fanout.wake()
        if pump is not None:
            pump.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.link.close()

    # fan-out ----------------------------------------------------------------------------------
    async def subscribe(self, sprint: int) -> None:
        await self.fanout.subscribe(sprint)

    async def unsubscribe(self, sprint: int) -> None:
        await self.fanout.unsubscribe(sprint)

    def publish_now(self, envelope: Envelope) -> None:
        self.fanout.publish_now(envelope)

    async def direct(self, envelope: Envelope) -> None:
        """Local recipients now; each remote one on the channel of the node holding it."""
        to = envelope.to or ()
        local = self.presence.local.get(envelope.sprint, {})
        if any(p in local for p in to):
            self.deliver(envelope)
        remote = [p for p in to if p not in local]
        for node, peers in (await self.presence.nodes_of(envelope.sprint, remote)).items():
            part = Envelope(envelope.sprint, envelope.frame, envelope.kind,
                            exclude=envelope.exclude, to=tuple(peers))
            self.fanout.send(self.keys.node_channel(node), part.pack(self.node_id))

    # presence ---------------------------------------------------------------------------------
    async def join(self, sprint: int, peer: Member) -> None:
        await self.presence.join(sprint, peer)

    async def leave(self, sprint: int, peer: str) -> None:
        await self.presence.leave(sprint, peer)

    async def peers(self, sprint: int) -> list[Member]:
        return await self.presence.peers(sprint)

    async def presence_page(self, sprint: int, after: str | None, limit: int) -> PresencePage:
        return await self.presence.presence_page(sprint, after, limit)

    async def missing_peers(self, sprint: int, peers: Iterable[str]) -> list[str]:
        return await self.presence.missing_peers(sprint, peers)

    # history and replay memory ----------------------------------------------------------------
    async def record_event(self, sprint: int, seq: int, frame: bytes, *, epoch: str = "",
                           reset: bool = False) -> EventStatus:
        return await self.redis_history.record_event(sprint, seq, frame, epoch=epoch, reset=reset)

    async def events_since(self, sprint: int, since: int) -> list[bytes] | None:
        return await self.redis_history.events_since(sprint, since)

    async def latest(self, sprint: int) -> int | None:
        return await self.redis_history.latest(sprint)

    async def claim_nonce(self, nonce: str, timestamp: int, ttl: float) -> NonceClaim:
        return await self.redis_history.claim_nonce(nonce, timestamp, ttl)

    async def release_nonce(self, nonce: str) -> None:
        await self.redis_history.release_nonce(nonce)
