"""The Redis broker's fan-out: local delivery at once, the bus to the other nodes behind it.

One shard channel per sprint (``signaling.redis_bus``); a node subscribes to the sprints it
has connections of, and to its own node channel (``direct``). ``publish_now`` writes to this
node's connections before it returns, never through a Redis round trip, and queues the bus
bytes for the other nodes: one bounded queue (``PUBLISH_QUEUE``; past it, or while Redis is
down, envelopes are dropped and counted) sent by one task (``pump``) in pipelined batches, so
a node's messages reach Redis in the order they were published. A node ignores its own
messages on the bus.

Events come to the bus from ``record_event``'s script (``signaling.redis_history``), in seq
order; this node remembers the last event seq it delivered per sprint and drops anything at
or below it, so catch-up after an outage and the live stream never deliver one twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable

from signaling.broker import RECORDED_KINDS, Deliver, Envelope
from signaling.redis_bus import ShardedBus
from signaling.redis_connection import ERRORS, RedisLink

__all__ = ["PUBLISH_BATCH", "PUBLISH_QUEUE", "RedisFanout"]

log = logging.getLogger(__name__)

#: Envelopes waiting to go to the other nodes; past it new ones are dropped (counted).
PUBLISH_QUEUE = 10_000
#: Envelopes sent to Redis in one pipelined round trip.
PUBLISH_BATCH = 500


class RedisFanout:
    """Sprint subscriptions, local delivery (events deduplicated by seq) and the bus queue.

    ``on_moved`` is told of a subscribed sprint whose slot moved to another shard (its
    channel is listened to there now; what was published meanwhile must be caught up).
    """

    def __init__(self, link: RedisLink, deliver: Deliver,
                 on_moved: Callable[[int], None] = lambda sprint: None) -> None:
        self.link = link
        # Copied: read for every relay this node forwards to the other nodes.
        self.keys = link.keys
        self.node_id = link.node_id
        self.deliver = deliver
        self.on_moved = on_moved
        self.bus = ShardedBus(link, self.on_bus, self._moved)
        #: Sprints this node is subscribed to, and the last event seq delivered in each.
        self.subscribed: set[int] = set()
        self.delivered: dict[int, int] = {}
        self._sprint_of: dict[str, int] = {}
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()

    def channels(self) -> list[str]:
        """Every channel this node listens to: its own, and its sprints'."""
        return [self.keys.node_channel(self.node_id),
                *(self.keys.sprint_channel(s) for s in sorted(self.subscribed))]

    async def listen(self) -> None:
        """(Re)subscribe every channel, on fresh connections (after a connect)."""
        await self.bus.start(self.channels())

    async def subscribe(self, sprint: int) -> None:
        if sprint in self.subscribed:
            return
        self.subscribed.add(sprint)
        channel = self.keys.sprint_channel(sprint)
        self._sprint_of[channel] = sprint
        if not self.link.up:
            return  # subscribed on reconnect
        try:
            # latest first, then subscribe: whatever comes on the channel is newer.
            # (0 when it has none yet: what comes during an outage is caught up from 1.)
            latest = await self.link.redis.get(self.keys.latest(sprint))
            self.delivered[sprint] = 0 if latest is None else int(latest)
            await self.bus.subscribe(channel)
        except ERRORS as exc:
            self.link.down(exc)

    async def unsubscribe(self, sprint: int) -> None:
        self.subscribed.discard(sprint)
        self.delivered.pop(sprint, None)
        channel = self.keys.sprint_channel(sprint)
        self._sprint_of.pop(channel, None)
        if self.link.up:
            try:
                await self.bus.unsubscribe(channel)
            except ERRORS as exc:
                self.link.down(exc)

    def _moved(self, channel: str) -> None:
        sprint = self._sprint_of.get(channel)
        if sprint is not None:
            self.on_moved(sprint)

    # delivery ---------------------------------------------------------------------------------
    def on_bus(self, data: bytes) -> None:
        """A message from the bus: another node's envelope for this node's connections."""
        try:
            origin, envelope = Envelope.unpack(data)
        except (ValueError, KeyError, TypeError):
            log.warning("broker %s: dropping an unreadable bus message", self.link.label)
            return
        if origin != self.node_id:
            self.deliver_local(envelope)

    def deliver_local(self, envelope: Envelope) -> None:
        """Deliver on this node; an event at or below the last one delivered is dropped.

        A ``reset`` (the sprint's history restarted, maybe at a lower seq) forgets the
        last one delivered, so that the event that follows it passes.
        """
        if envelope.kind == "reset":
            self.delivered.pop(envelope.sprint, None)
        elif envelope.kind == "event" and envelope.sprint in self.subscribed:
            seq = _seq_of(envelope.frame)
            if seq is not None:
                if seq <= self.delivered.get(envelope.sprint, 0):
                    return
                self.delivered[envelope.sprint] = seq
        self.deliver(envelope)

    def publish_now(self, envelope: Envelope) -> None:
        """Deliver here now; other nodes get it through Redis (events: ``record_event``)."""
        self.deliver_local(envelope)
        if envelope.kind not in RECORDED_KINDS:
            self.send(self.keys.sprint_channel(envelope.sprint), envelope.pack(self.node_id))

    # the bus queue ----------------------------------------------------------------------------
    def send(self, channel: str, data: bytes) -> None:
        """Queue bus bytes for the other nodes; dropped (and counted) while down or full."""
        if not self.link.up or len(self._outbox) >= PUBLISH_QUEUE:
            if self.link.metrics is not None:
                reason = "down" if not self.link.up else "full"
                self.link.metrics.broker_dropped.labels(reason).inc()
            return
        self._outbox.append((channel, data))
        self._ready.set()

    def send_on_connect(self, envelopes: list[Envelope]) -> None:
        """Queue presence changes found while (re)connecting, before the link is marked up:
        this node's connections knew of them already, so they go to the other nodes only."""
        for envelope in envelopes:
            self._outbox.append((self.keys.sprint_channel(envelope.sprint),
                                 envelope.pack(self.node_id)))
        if envelopes:
            self._ready.set()

    async def pump(self) -> None:
        """The one task that sends the queue to Redis, in order, until the broker closes."""
        while not self.link.closing:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox and not self.link.closing:
                try:
                    await self._flush_batch()
                except ERRORS as exc:
                    self.link.down(exc)

    def wake(self) -> None:
        """Let ``pump`` see that the broker is closing."""
        self._ready.set()

    async def flush(self) -> None:
        """Send everything queued now (shutdown)."""
        while self._outbox and self.link.up:
            await self._flush_batch()

    async def _flush_batch(self) -> None:
        batch = [self._outbox.popleft() for _ in range(min(PUBLISH_BATCH, len(self._outbox)))]
        if not self.link.up:
            if self.link.metrics is not None:
                self.link.metrics.broker_dropped.labels("down").inc(len(batch))
            return
        async with self.link.redis.pipeline(transaction=False) as pipe:
            for channel, data in batch:
                pipe.spublish(channel, data)
            await pipe.execute()


def _seq_of(frame: bytes) -> int | None:
    try:
        seq = json.loads(frame).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
