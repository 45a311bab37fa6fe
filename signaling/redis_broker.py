"""``RedisBroker``: the broker of a cluster of realtime nodes, on redis-py's asyncio client.

Fan-out: one pub/sub channel per sprint; a node subscribes to the sprints it has connections
of. Local delivery never waits for Redis: ``publish`` writes to this node's connections at
once and queues the bus bytes for the other nodes (a bounded queue, sent by one task in
pipelined batches); a node ignores its own messages. Events are the exception that makes
them reliable: ``record_event`` records *and* publishes an accepted event in one Lua
script, so it is never recorded without reaching the other nodes, and every node sees a
sprint's events in seq order. The nonces of ``POST /events/`` are kept in Redis too, so a
request accepted by one node is a replay on every node, also after the node restarts.

``direct`` (``signal``) goes to the node holding the peer, on that node's own channel.
Presence is a hash per sprint (peer -> node, user); each node refreshes a heartbeat key with
a TTL, and the survivors reap a node whose heartbeat expired: one of them wins an atomic
claim, removes its peers and publishes ``peer_left`` for each, once cluster-wide.

Redis lost: the node keeps serving its local connections, reports ``up = False`` (health
check, ``watercooler_broker_up``), refuses ``record_event`` with ``BrokerUnavailable`` (HTTP
503: Django retries), reconnects with backoff and jitter, then re-subscribes, re-registers
its peers and catches its connections up on the events they may have missed (from Redis's
history, or a ``resync`` frame where the history does not reach back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from signaling.auth import NonceClaim, User
from signaling.backoff import backoff_delay
from signaling.broker import (
    RECORDED_KINDS,
    Broker,
    BrokerUnavailable,
    Deliver,
    Envelope,
    PeerInfo,
    reset_envelope,
)
from signaling.history import EventStatus, History
from signaling.protocol import encode, peer_joined_frame, peer_left_frame, resync_frame
from signaling.redis_scripts import CLAIM_NONCE, REAP_NODE, RECORD_EVENT, Keys

if TYPE_CHECKING:
    from signaling.metrics import Metrics

__all__ = ["RedisBroker"]

log = logging.getLogger(__name__)

#: How long a sprint's latest seq outlives its last event (duplicate detection).
LATEST_TTL = 7 * 24 * 3600.0
#: Envelopes waiting to go to the other nodes; past it new ones are dropped (counted).
PUBLISH_QUEUE = 10_000
#: Envelopes sent to Redis in one pipelined round trip.
PUBLISH_BATCH = 500
#: Reconnect delay: full jitter over base * 2^attempt, capped.
BACKOFF_BASE, BACKOFF_CAP = 0.2, 5.0
_ERRORS = (RedisError, OSError)


def redact(url: str) -> str:
    """``url`` without its password (for logs and ``/healthz``)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}" if user else f"{scheme}{sep}***@{host}"


def _check_url(url: str) -> None:
    """Refuse what redis-py would take silently: no host, a database that is not a number."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError("expected redis[s]://[[user]:password@]host[:port][/db]")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number")
    parts.port  # noqa: B018 - raises ValueError for a port that is not one


def _backoff(attempt: int) -> float:
    return backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)


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
        _check_url(url)
        self.url = url
        self.keys = Keys(prefix)
        self.presence_ttl = presence_ttl
        self.metrics = metrics
        self.last_error: str | None = "not connected yet"
        self._up = False
        self._closing = False
        kw: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_keepalive": True}
        # One reconnect on a stale pooled connection (after a Redis restart), no retry loop:
        # the broker does its own backoff and must not hold a request for seconds.
        self._redis = aioredis.Redis.from_url(url, socket_timeout=5.0,
                                              retry=Retry(NoBackoff(), 1), **kw)
        self._bus = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **kw)
        self._pubsub: Any = None
        self._record = self._redis.register_script(RECORD_EVENT)
        self._claim = self._redis.register_script(CLAIM_NONCE)
        self._reap = self._redis.register_script(REAP_NODE)
        #: This node's own peers per sprint: the truth re-registered after an outage.
        self._local: dict[int, dict[str, PeerInfo]] = {}
        #: Sprints this node is subscribed to, and the last event seq delivered in each.
        self._subscribed: set[int] = set()
        self._delivered: dict[int, int] = {}
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._outbox_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        if metrics is not None:
            metrics.broker_up.set(0)

    # lifecycle --------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self._up

    @property
    def label(self) -> str:
        return redact(self.url)

    async def start(self) -> None:
        """Connect (a Redis that is down now is retried in the background, degraded)."""
        try:
            await self._connect()
        except _ERRORS as exc:
            self._down(exc)
            log.error("broker %s: Redis unavailable at start (%s); serving this node's "
                      "connections only and retrying", self.label, exc)
        self._tasks = [asyncio.create_task(self._supervise(), name="broker-listen"),
                       asyncio.create_task(self._heartbeat(), name="broker-heartbeat"),
                       asyncio.create_task(self._pump(), name="broker-publish")]

    async def close(self) -> None:
        """Flush what is queued, leave the cluster (peers left are reaped now), disconnect."""
        self._closing = True
        listen, beat, pump = self._tasks or (None, None, None)
        for task in (listen, beat):
            if task is not None:
                task.cancel()
        if self._up:
            with contextlib.suppress(*_ERRORS, TimeoutError):
                await asyncio.wait_for(self._flush(), 2.0)
                await self._redis.delete(self.keys.alive(self.node_id))
                await asyncio.wait_for(self._reap_node(self.node_id), 2.0)
        self._outbox_ready.set()
        if pump is not None:
            pump.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(*_ERRORS):
            if self._pubsub is not None:
                await self._pubsub.aclose()
        await self._redis.aclose()
        await self._bus.aclose()

    def _down(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._up:
            log.error("broker %s: lost Redis (%s); serving this node's connections only",
                      self.label, self.last_error)
        self._up = False
        if self.metrics is not None:
            self.metrics.broker_up.set(0)

    async def _connect(self) -> None:
        """Subscribe, register this node and its peers, catch up on missed events."""
        await self._redis.ping()
        if self._pubsub is not None:
            with contextlib.suppress(*_ERRORS):
                await self._pubsub.aclose()
        self._pubsub = self._bus.pubsub(ignore_subscribe_messages=True)
        channels = [self.keys.node_channel(self.node_id),
                    *(self.keys.sprint_channel(s) for s in self._subscribed)]
        await self._pubsub.subscribe(*channels)
        await self._register()
        # The replay memory is complete from now on if Redis has just lost it (restarted
        # empty): requests signed from this second on are judged by their nonce.
        secs, _ = await self._redis.time()
        await self._redis.set(self.keys.nonces_since, secs, nx=True)
        self._up = True
        self.last_error = None
        if self.metrics is not None:
            self.metrics.broker_up.set(1)
        log.info("broker %s: connected as node %s (%d sprints)", self.label, self.node_id,
                 len(self._subscribed))
        await self._catch_up()

    async def _supervise(self) -> None:
        """Read the bus while connected; reconnect with backoff and jitter when not."""
        attempt = 0
        while not self._closing:
            if not self._up:
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                try:
                    await self._connect()
                except _ERRORS as exc:
                    self._down(exc)
                    continue
                attempt = 0
                if self.metrics is not None:
                    self.metrics.broker_reconnects.inc()
            try:
                while self._up:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._on_bus(message["data"])
            except _ERRORS as exc:
                self._down(exc)
            except Exception:  # a bug in one message must not end the listener
                log.exception("broker %s: bad bus message", self.label)

    def _on_bus(self, data: bytes) -> None:
        try:
            origin, envelope = Envelope.unpack(data)
        except (ValueError, KeyError, TypeError):
            log.warning("broker %s: dropping an unreadable bus message", self.label)
            return
        if origin != self.node_id:
            self._deliver_local(envelope)

    # fan-out ---------------------------------------------------------------------------------
    def _deliver_local(self, envelope: Envelope) -> None:
        """Deliver on this node; an event at or below the last one delivered is dropped.

        A ``reset`` (the sprint's history restarted, maybe at a lower seq) forgets the
        last one delivered, so that the event that follows it passes.
        """
        if envelope.kind == "reset":
            self._delivered.pop(envelope.sprint, None)
        elif envelope.kind == "event" and envelope.sprint in self._subscribed:
            seq = _seq_of(envelope.frame)
            if seq is not None:
                if seq <= self._delivered.get(envelope.sprint, 0):
                    return
                self._delivered[envelope.sprint] = seq
        self.deliver(envelope)

    def _send(self, channel: str, data: bytes) -> None:
        """Queue bus bytes for the other nodes; dropped (and counted) while down or full."""
        if not self._up or len(self._outbox) >= PUBLISH_QUEUE:
            if self.metrics is not None:
                self.metrics.broker_dropped.labels("down" if not self._up else "full").inc()
            return
        self._outbox.append((channel, data))
        self._outbox_ready.set()

    async def _pump(self) -> None:
        while not self._closing:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox and not self._closing:
                try:
                    await self._flush_batch()
                except _ERRORS as exc:
                    self._down(exc)

    async def _flush_batch(self) -> None:
        batch = [self._outbox.popleft() for _ in range(min(PUBLISH_BATCH, len(self._outbox)))]
        if not self._up:
            if self.metrics is not None:
                self.metrics.broker_dropped.labels("down").inc(len(batch))
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, data in batch:
                pipe.publish(channel, data)
            await pipe.execute()

    async def _flush(self) -> None:
        while self._outbox and self._up:
            await self._flush_batch()

    async def subscribe(self, sprint: int) -> None:
        if sprint in self._subscribed:
            return
        self._subscribed.add(sprint)
        if not self._up:
            return  # subscribed on reconnect
        try:
            # latest first, then subscribe: whatever comes on the channel is newer.
            latest = await self._redis.get(self.keys.latest(sprint))
            if latest is not None:
                self._delivered[sprint] = int(latest)
            await self._pubsub.subscribe(self.keys.sprint_channel(sprint))
        except _ERRORS as exc:
            self._down(exc)

    async def unsubscribe(self, sprint: int) -> None:
        self._subscribed.discard(sprint)
        self._delivered.pop(sprint, None)
        if self._up:
            try:
                await self._pubsub.unsubscribe(self.keys.sprint_channel(sprint))
            except _ERRORS as exc:
                self._down(exc)

    def publish_now(self, envelope: Envelope) -> None:
        """Deliver here now; other nodes get it through Redis (events: ``record_event``)."""
        self._deliver_local(envelope)
        if envelope.kind not in RECORDED_KINDS:
            self._send(self.keys.sprint_channel(envelope.sprint), envelope.pack(self.node_id))

    async def direct(self, envelope: Envelope) -> None:
        """Local recipients now; each remote one on the channel of the node holding it."""
        to = envelope.to or ()
        local = self._local.get(envelope.sprint, {})
        if any(p in local for p in to):
            self.deliver(envelope)
        remote = [p for p in to if p not in local]
        if not remote or not self._up:
            return
        try:
            entries = await self._redis.hmget(self.keys.presence(envelope.sprint), remote)
        except _ERRORS as exc:
            self._down(exc)
            return
        by_node: dict[str, list[str]] = {}
        for peer, raw in zip(remote, entries, strict=True):
            if raw is not None:
                by_node.setdefault(json.loads(raw)["n"], []).append(peer)
        for node, peers in by_node.items():
            part = Envelope(envelope.sprint, envelope.frame, envelope.kind,
                            exclude=envelope.exclude, to=tuple(peers))
            self._send(self.keys.node_channel(node), part.pack(self.node_id))

    # presence --------------------------------------------------------------------------------
    def _entry(self, peer: PeerInfo) -> str:
        return json.dumps({"n": self.node_id, "u": peer.user.to_wire(), "t": time.time()},
                          separators=(",", ":"))

    async def join(self, sprint: int, peer: PeerInfo) -> None:
        self._local.setdefault(sprint, {})[peer.peer] = peer
        if not self._up:
            return  # registered on reconnect
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.presence(sprint), peer.peer, self._entry(peer))
                pipe.sadd(self.keys.node_sprints(self.node_id), sprint)
                await pipe.execute()
        except _ERRORS as exc:
            self._down(exc)

    async def leave(self, sprint: int, peer: str) -> None:
        members = self._local.get(sprint)
        if members is not None:
            members.pop(peer, None)
            if not members:
                del self._local[sprint]
        if not self._up:
            return  # unregistered on reconnect
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.keys.presence(sprint), peer)
                if sprint not in self._local:
                    pipe.srem(self.keys.node_sprints(self.node_id), sprint)
                await pipe.execute()
        except _ERRORS as exc:
            self._down(exc)

    async def peers(self, sprint: int) -> list[PeerInfo]:
        """Every node's peers in join order; only this node's while Redis is down."""
        local = list(self._local.get(sprint, {}).values())
        if not self._up:
            return local
        try:
            entries = await self._redis.hgetall(self.keys.presence(sprint))
        except _ERRORS as exc:
            self._down(exc)
            return local
        found: list[tuple[float, str, PeerInfo]] = []
        for raw_peer, raw in entries.items():
            peer = raw_peer.decode() if isinstance(raw_peer, bytes) else str(raw_peer)
            try:
                entry = json.loads(raw)
                user = User(id=entry["u"].get("id"), username=str(entry["u"]["username"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            found.append((float(entry.get("t", 0)), peer, PeerInfo(peer, user)))
        return [info for _, _, info in sorted(found, key=lambda f: (f[0], f[1]))]

    async def missing_peers(self, sprint: int, peers: Iterable[str]) -> list[str]:
        peers = list(peers)
        local = self._local.get(sprint, {})
        others = [p for p in peers if p not in local]
        if not others:
            return []
        if not self._up:
            return others
        try:
            entries = await self._redis.hmget(self.keys.presence(sprint), others)
        except _ERRORS as exc:
            self._down(exc)
            return others
        return [p for p, raw in zip(others, entries, strict=True) if raw is None]

    async def _register(self) -> None:
        """(Re-)register this node and make Redis's presence match its peers.

        Peers that joined or left while Redis was unreachable (or that a survivor reaped
        meanwhile) are added or removed, and announced to the other nodes.
        """
        keys, node = self.keys, self.node_id
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.alive(node), "1", px=int(self.presence_ttl * 1000))
            pipe.sadd(keys.nodes, node)
            pipe.smembers(keys.node_sprints(node))
            *_, listed = await pipe.execute()
        sprints = sorted({int(s) for s in listed} | set(self._local))
        async with self._redis.pipeline(transaction=False) as pipe:
            for sprint in sprints:
                pipe.hgetall(keys.presence(sprint))
            tables = await pipe.execute()
        announce: list[Envelope] = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for sprint, table in zip(sprints, tables, strict=True):
                mine = {p.decode() for p, raw in table.items() if _node_of(raw) == node}
                local = self._local.get(sprint, {})
                for peer in mine - local.keys():
                    pipe.hdel(keys.presence(sprint), peer)
                    announce.append(Envelope(sprint, _frame(peer_left_frame(peer)), "presence",
                                             exclude=peer))
                for peer in local.keys() - mine:
                    pipe.hset(keys.presence(sprint), peer, self._entry(local[peer]))
                    frame = _frame(peer_joined_frame(peer, local[peer].user.to_wire()))
                    announce.append(Envelope(sprint, frame, "presence", exclude=peer))
                if local:
                    pipe.sadd(keys.node_sprints(node), sprint)
                else:
                    pipe.srem(keys.node_sprints(node), sprint)
            await pipe.execute()
        for envelope in announce:  # this node's connections knew already: others only
            self._outbox.append((keys.sprint_channel(envelope.sprint),
                                 envelope.pack(node)))
        if announce:
            self._outbox_ready.set()
            log.info("broker %s: re-registered presence, %d changes announced", self.label,
                     len(announce))

    async def _heartbeat(self) -> None:
        """Refresh this node's heartbeat and reap the nodes whose heartbeat expired."""
        keys, node = self.keys, self.node_id
        while not self._closing:
            await asyncio.sleep(self.presence_ttl / 3)
            if not self._up:
                continue
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(keys.alive(node), "1", px=int(self.presence_ttl * 1000))
                    pipe.sadd(keys.nodes, node)
                    pipe.smembers(keys.nodes)
                    _, added, members = await pipe.execute()
                if added:  # reaped while we were too slow: our peers are gone from Redis
                    log.warning("broker %s: node %s was reaped; re-registering", self.label,
                                node)
                    await self._register()
                others = sorted(m.decode() for m in members if m.decode() != node)
                if others:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for other in others:
                            pipe.exists(keys.alive(other))
                        alive = await pipe.execute()
                    for other, is_alive in zip(others, alive, strict=True):
                        if not is_alive:
                            await self._reap_node(other)
            except _ERRORS as exc:
                self._down(exc)

    async def _reap_node(self, dead: str) -> None:
        """Claim a dead node; if this node won, publish ``peer_left`` for each of its peers."""
        gone = await self._reap(args=[self.keys.prefix, dead])
        pairs = [(int(gone[i]), gone[i + 1].decode()) for i in range(0, len(gone), 2)]
        if dead != self.node_id:
            log.warning("broker %s: node %s is gone; %d of its peers removed", self.label,
                        dead, len(pairs))
        if self.metrics is not None and dead != self.node_id:
            self.metrics.broker_reaped.inc(len(pairs))
        for sprint, peer in pairs:
            await self.publish(Envelope(sprint, _frame(peer_left_frame(peer)), "presence",
                                        exclude=peer))
        if dead == self.node_id:
            await self._flush()

    # history ---------------------------------------------------------------------------------
    async def record_event(self, sprint: int, seq: int, frame: bytes, *, epoch: str = "",
                           reset: bool = False) -> EventStatus:
        """Record and publish to the other nodes atomically; ``BrokerUnavailable`` if down."""
        if not self._up:
            raise BrokerUnavailable(f"Redis unavailable ({self.last_error})")
        keys = self.keys
        bus = Envelope(sprint, frame, "event").pack(self.node_id)
        resync = reset_envelope(sprint, seq).pack(self.node_id)
        try:
            status = await self._record(
                keys=[keys.events(sprint), keys.latest(sprint), keys.sprint_channel(sprint),
                      keys.epoch(sprint)],
                args=[seq, frame, self.history.max_size, int(self.history.max_age * 1000),
                      int(LATEST_TTL * 1000), bus, epoch, "1" if reset else "0", resync])
        except _ERRORS as exc:
            self._down(exc)
            raise BrokerUnavailable(f"Redis unavailable ({self.last_error})") from exc
        return EventStatus(status.decode())

    async def claim_nonce(self, nonce: str, timestamp: int, ttl: float) -> NonceClaim:
        """``SET nonce 1 NX EX ttl`` under the prefix, after the nonces-since check."""
        if not self._up:
            raise BrokerUnavailable(f"Redis unavailable ({self.last_error})")
        try:
            claim = await self._claim(keys=[self.keys.nonces_since, self.keys.nonce(nonce)],
                                      args=[timestamp, max(1, math.ceil(ttl))])
        except _ERRORS as exc:
            self._down(exc)
            raise BrokerUnavailable(f"Redis unavailable ({self.last_error})") from exc
        return {b"fresh": NonceClaim.FRESH, b"replayed": NonceClaim.REPLAYED}.get(
            claim, NonceClaim.BEFORE_MEMORY)

    async def release_nonce(self, nonce: str) -> None:
        if self._up:
            with contextlib.suppress(*_ERRORS):
                await self._redis.delete(self.keys.nonce(nonce))

    async def events_since(self, sprint: int, since: int) -> list[bytes] | None:
        """As ``History.since``, from Redis: None (resync) while Redis is down."""
        if not self._up:
            return None
        try:
            return await self._read_since(sprint, since)
        except _ERRORS as exc:
            self._down(exc)
            return None

    async def _read_since(self, sprint: int, since: int) -> list[bytes] | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.latest(sprint))
            pipe.lrange(self.keys.events(sprint), 0, -1)
            pipe.time()
            latest, entries, (secs, micros) = await pipe.execute()
        if latest is None:
            return None
        if since >= int(latest):
            return []
        oldest = secs * 1000 + micros // 1000 - int(self.history.max_age * 1000)
        events: list[tuple[int, bytes]] = []
        for entry in entries:
            seq, ms, frame = entry.split(b" ", 2)
            if int(ms) >= oldest:
                events.append((int(seq), frame))
        if not events or events[0][0] > since + 1:
            return None
        return [frame for seq, frame in events if seq > since]

    async def latest(self, sprint: int) -> int | None:
        if not self._up:
            return None
        try:
            latest = await self._redis.get(self.keys.latest(sprint))
        except _ERRORS as exc:
            self._down(exc)
            return None
        return None if latest is None else int(latest)

    async def _catch_up(self) -> None:
        """After a reconnect: deliver the events this node's connections may have missed."""
        for sprint in sorted(self._subscribed):
            last = self._delivered.get(sprint)
            latest = await self._redis.get(self.keys.latest(sprint))
            if last is None or latest is None or int(latest) == last:
                continue
            # Below what was delivered: the history restarted meanwhile (a reset).
            frames = None if int(latest) < last else await self._read_since(sprint, last)
            if frames is None:
                log.warning("broker %s: sprint %s: events %s..%s missed and no longer in "
                            "history; sending resync", self.label, sprint, last + 1,
                            int(latest))
                self._delivered[sprint] = int(latest)
                self.deliver(Envelope(sprint, _frame(resync_frame(int(latest))), "resync"))
                if self.metrics is not None:
                    self.metrics.broker_resyncs.inc()
                continue
            log.info("broker %s: sprint %s: catching up %d missed events", self.label, sprint,
                     len(frames))
            for frame in frames:
                self._deliver_local(Envelope(sprint, frame, "event"))


def _frame(message: dict[str, Any]) -> bytes:
    return encode(message).encode()


def _seq_of(frame: bytes) -> int | None:
    try:
        seq = json.loads(frame).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _node_of(raw: bytes) -> str | None:
    try:
        node = json.loads(raw).get("n")
    except (ValueError, AttributeError):
        return None
    return node if isinstance(node, str) else None
