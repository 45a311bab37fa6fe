"""The Redis broker's event history, replay memory and catch-up: what must not be lost.

``record_event`` is one Lua script: it checks the seq and epoch against the sprint's
``latest`` and ``epoch`` keys (``history.classify``'s rule), appends to the capped list and
publishes the event (after a ``resync`` on a reset) in the same atomic step, so an event is
never recorded without reaching the other nodes and every node sees a sprint's events in
seq order. The nonces of ``POST /events/`` are keys with a TTL, shared by every node, so a
request taken by one node is a replay on all of them, also after a restart; the
``nonces-since`` key says from when that memory is complete. After an outage, ``catch_up``
delivers what this node's connections missed, or a ``resync`` where the history no longer
reaches back.
"""

from __future__ import annotations

import contextlib
import logging
import math

from signaling.auth import NonceClaim
from signaling.broker import BrokerUnavailable, Envelope, reset_envelope
from signaling.history import EventStatus, History
from signaling.protocol import encode, resync_frame
from signaling.redis_connection import ERRORS, RedisLink
from signaling.redis_fanout import RedisFanout
from signaling.redis_scripts import CLAIM_NONCE, MARK_NONCES_START, READ_SINCE, RECORD_EVENT

__all__ = ["LATEST_TTL", "RedisHistory"]

log = logging.getLogger(__name__)

#: How long a sprint's latest seq outlives its last event (duplicate detection).
LATEST_TTL = 7 * 24 * 3600.0


class RedisHistory:
    """Every sprint's recent events and latest seq in Redis, and ``POST /events/``'s nonces.

    ``limits`` gives the history's bounds (``max_size`` events, ``max_age`` seconds).
    """

    def __init__(self, link: RedisLink, fanout: RedisFanout, limits: History) -> None:
        self.link = link
        self.fanout = fanout
        self.limits = limits
        self._record = link.redis.register_script(RECORD_EVENT)
        self._claim = link.redis.register_script(CLAIM_NONCE)
        self._read = link.redis.register_script(READ_SINCE)
        self._mark = link.redis.register_script(MARK_NONCES_START)

    def _unavailable(self) -> BrokerUnavailable:
        return BrokerUnavailable(f"Redis unavailable ({self.link.last_error})")

    async def record_event(self, sprint: int, seq: int, frame: bytes, *, epoch: str = "",
                           reset: bool = False) -> EventStatus:
        """Record and publish to the other nodes atomically; ``BrokerUnavailable`` if down."""
        if not self.link.up:
            raise self._unavailable()
        keys = self.link.keys
        bus = Envelope(sprint, frame, "event").pack(self.link.node_id)
        resync = reset_envelope(sprint, seq).pack(self.link.node_id)
        try:
            status = await self._record(
                keys=[keys.events(sprint), keys.latest(sprint), keys.sprint_channel(sprint),
                      keys.epoch(sprint)],
                args=[seq, frame, self.limits.max_size, int(self.limits.max_age * 1000),
                      int(LATEST_TTL * 1000), bus, epoch, "1" if reset else "0", resync])
        except ERRORS as exc:
            self.link.down(exc)
            raise self._unavailable() from exc
        return EventStatus(status.decode())

    async def events_since(self, sprint: int, since: int) -> list[bytes] | None:
        """As ``History.since``, from Redis: None (resync) while Redis is down."""
        return await self.link.read(lambda: self._read_since(sprint, since), None)

    async def _read_since(self, sprint: int, since: int) -> list[bytes] | None:
        keys = self.link.keys
        latest, now, entries = await self._read(keys=[keys.latest(sprint), keys.events(sprint)])
        if not latest:
            return None
        if since >= int(latest):
            return []
        oldest = int(now) - int(self.limits.max_age * 1000)
        events: list[tuple[int, bytes]] = []
        for entry in entries:
            seq, ms, frame = entry.split(b" ", 2)
            if int(ms) >= oldest:
                events.append((int(seq), frame))
        if not events or events[0][0] > since + 1:
            return None
        return [frame for seq, frame in events if seq > since]

    async def latest(self, sprint: int) -> int | None:
        key = self.link.keys.latest(sprint)
        latest = await self.link.read(lambda: self.link.redis.get(key), None)
        return None if latest is None else int(latest)

    # the replay memory of POST /events/ -------------------------------------------------------
    async def mark_memory_start(self) -> None:
        """If Redis has just lost the nonces (restarted empty), the replay memory is complete
        from now on: requests signed from this second on are judged by their nonce."""
        await self._mark(keys=[self.link.keys.nonces_since])

    async def claim_nonce(self, nonce: str, timestamp: int, ttl: float) -> NonceClaim:
        """``SET nonce 1 NX EX ttl`` under the prefix, after the nonces-since check."""
        if not self.link.up:
            raise self._unavailable()
        try:
            keys = self.link.keys
            claim = await self._claim(keys=[keys.nonces_since, keys.nonce(nonce)],
                                      args=[timestamp, max(1, math.ceil(ttl))])
        except ERRORS as exc:
            self.link.down(exc)
            raise self._unavailable() from exc
        return {b"fresh": NonceClaim.FRESH, b"replayed": NonceClaim.REPLAYED}.get(
            claim, NonceClaim.BEFORE_MEMORY)

    async def release_nonce(self, nonce: str) -> None:
        if self.link.up:
            with contextlib.suppress(*ERRORS):
                await self.link.redis.delete(self.link.keys.nonce(nonce))

    # after an outage --------------------------------------------------------------------------
    async def catch_up(self) -> None:
        """After a reconnect: deliver the events this node's connections may have missed."""
        for sprint in sorted(self.fanout.subscribed):
            await self.catch_up_sprint(sprint)

    async def catch_up_sprint(self, sprint: int) -> None:
        """Deliver the events of ``sprint`` after the last one delivered here, from Redis's
        history, or a ``resync`` when the history no longer reaches back."""
        fanout = self.fanout
        last = fanout.delivered.get(sprint)
        latest = await self.link.redis.get(self.link.keys.latest(sprint))
        if last is None or latest is None or int(latest) == last:
            return
        # Below what was delivered: the history restarted meanwhile (a reset).
        frames = None if int(latest) < last else await self._read_since(sprint, last)
        if frames is None:
            log.warning("broker %s: sprint %s: events %s..%s missed and no longer in "
                        "history; sending resync", self.link.label, sprint, last + 1,
                        int(latest))
            fanout.delivered[sprint] = int(latest)
            fanout.deliver(Envelope(sprint, encode(resync_frame(int(latest))).encode(),
                                    "resync"))
            if self.link.metrics is not None:
                self.link.metrics.broker_resyncs.inc()
            return
        log.info("broker %s: sprint %s: catching up %d missed events", self.link.label,
                 sprint, len(frames))
        for frame in frames:
            fanout.deliver_local(Envelope(sprint, frame, "event"))
