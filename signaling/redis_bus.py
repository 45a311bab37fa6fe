"""The Redis broker's bus: this node's sharded subscriptions, one connection per shard.

A sprint's channel (and a node's) is a shard channel (``SSUBSCRIBE``): a message published
on it with ``SPUBLISH`` travels only within the shard that owns the channel's slot, so a
Redis Cluster's shards do not all carry every sprint's traffic as with classic pub/sub. One
Redis is a cluster of one shard here: same commands, one connection.

``ShardedBus`` keeps one subscription connection and one reader task per shard the node
listens to, each channel subscribed on the shard that owns it now. redis-py's asyncio
``ClusterPubSub`` does not fit (redis-py 8.1): its ``get_sharded_message`` polls the shards'
connections one after the other, so a message on one waits for the others' timeouts (or the
node spins with no timeout); and after a slot migration Redis unsubscribes the channel
(``sunsubscribe``), which it follows only when its own client happens to meet a ``MOVED``.
Here each shard is read by its own task, and a ``sunsubscribe`` nobody asked for (the slot
moved) makes the bus learn the slot map anew and subscribe on the new owner, then tell the
broker (``on_moved``), which catches the sprint up on what it published meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from signaling.redis_connection import ERRORS, RedisLink

__all__ = ["ShardedBus"]

log = logging.getLogger(__name__)


class _Shard:
    """One shard's subscription connection: its channels and the task reading it."""

    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub
        self.channels: set[str] = set()
        self.reader: asyncio.Task[None] | None = None
        #: Subscribing and unsubscribing, one at a time (one connection, one reply stream).
        self.lock = asyncio.Lock()


class ShardedBus:
    """The channels this node listens to, each on the shard that owns it.

    ``on_message`` gets each message's bytes; ``on_moved`` a channel subscribed again on
    another shard after its slot moved. Any Redis error marks the link down: the
    supervisor then calls ``start`` again, on fresh connections.
    """

    def __init__(self, link: RedisLink, on_message: Callable[[bytes], None],
                 on_moved: Callable[[str], None]) -> None:
        self.link = link
        self.on_message = on_message
        self.on_moved = on_moved
        self._shards: dict[str, _Shard] = {}
        self._wanted: set[str] = set()
        self._moves: set[asyncio.Task[None]] = set()
        self._refresh: asyncio.Task[None] | None = None

    async def start(self, channels: list[str]) -> None:
        """Drop every subscription connection and subscribe ``channels`` on fresh ones."""
        await self.stop()
        self._wanted = set(channels)
        for channel in channels:
            await self._subscribe(channel)

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        await self._subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        """Stop listening to ``channel`` (a shard's connection stays open, even idle: there
        is one per shard at most, and sprints come and go)."""
        self._wanted.discard(channel)
        for shard in self._shards.values():
            if channel in shard.channels:
                async with shard.lock:
                    shard.channels.discard(channel)
                    await shard.pubsub.sunsubscribe(channel)

    async def _subscribe(self, channel: str) -> None:
        name = self.link.shard_of(channel)
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = _Shard(
                self.link.bus_client(name).pubsub(ignore_subscribe_messages=False))
        async with shard.lock:
            if channel not in self._wanted or channel in shard.channels:
                return
            await shard.pubsub.ssubscribe(channel)
            shard.channels.add(channel)
            if shard.reader is None:
                shard.reader = asyncio.create_task(self._read(name, shard),
                                                   name=f"broker-bus-{name}")

    async def _read(self, name: str, shard: _Shard) -> None:
        try:
            while True:
                message = await shard.pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "smessage":
                    try:
                        self.on_message(message["data"])
                    except Exception:  # a bug in one message must not end the reader
                        log.exception("broker %s: bad bus message", self.link.label)
                elif kind == "sunsubscribe":
                    self._unsubscribed(shard, message["channel"].decode())
        except ERRORS as exc:
            if self._shards.get(name) is shard:
                self.link.down(exc)
        except Exception as exc:  # a reader must not die unnoticed
            if self._shards.get(name) is shard:
                log.exception("broker %s: shard %s's reader failed", self.link.label, name)
                self.link.down(exc)

    def _unsubscribed(self, shard: _Shard, channel: str) -> None:
        """Redis dropped a channel we still want: its slot moved to another shard."""
        if channel in self._wanted and channel in shard.channels:
            shard.channels.discard(channel)
            task = asyncio.create_task(self._follow(channel), name="broker-bus-moved")
            self._moves.add(task)
            task.add_done_callback(self._moves.discard)

    async def _follow(self, channel: str) -> None:
        log.info("broker %s: channel %s moved to another shard; subscribing there",
                 self.link.label, channel)
        try:
            if self._refresh is None or self._refresh.done():  # one for a slot's channels
                self._refresh = asyncio.create_task(self.link.refresh())
            await asyncio.shield(self._refresh)
            await self._subscribe(channel)
        except ERRORS as exc:
            self.link.down(exc)
            return
        self.on_moved(channel)

    async def _drop(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is None:
            return
        if shard.reader is not None:
            shard.reader.cancel()
            await asyncio.gather(shard.reader, return_exceptions=True)
        with contextlib.suppress(*ERRORS):
            await shard.pubsub.aclose()

    async def stop(self) -> None:
        """Close every subscription connection (reconnect, shutdown)."""
        for task in [*self._moves, *([self._refresh] if self._refresh else [])]:
            task.cancel()
        for name in list(self._shards):
            await self._drop(name)
