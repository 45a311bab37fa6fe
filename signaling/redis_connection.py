"""The Redis broker's link to Redis: two clients, whether they work now, and the supervisor.

``RedisLink`` holds a command client (commands, pipelines, the Lua scripts) and a bus client
(the pub/sub subscription, which waits for messages without a timeout). Every part of the
broker that meets a Redis error calls ``down()``: the node is then degraded (``up`` False,
``watercooler_broker_up`` 0, ``/healthz`` 503) and keeps serving its own connections, while
``supervise`` reconnects with exponential backoff and full jitter and, once connected, runs
the broker's ``connect`` step (subscribe, re-register presence, catch up) before it reads
the bus again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from signaling.backoff import backoff_delay
from signaling.redis_scripts import Keys

if TYPE_CHECKING:
    from signaling.metrics import Metrics

__all__ = ["ERRORS", "RedisLink", "redact"]

log = logging.getLogger(__name__)

#: Reconnect delay: full jitter over base * 2^attempt, capped.
BACKOFF_BASE, BACKOFF_CAP = 0.2, 5.0
#: What a lost or unreachable Redis raises.
ERRORS = (RedisError, OSError)

T = TypeVar("T")


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


class RedisLink:
    """The node's two clients of one Redis URL, and whether Redis is reachable now.

    ``redis`` fails a command after 5 s and reconnects once on a stale pooled connection
    (after a Redis restart), never in a loop: the supervisor does its own backoff and a
    request must not be held for seconds. ``pubsub`` is made anew on every (re)connect.
    The parts of the broker share the link, and with it the key names (``keys``), this
    node's id and the metrics.
    """

    def __init__(self, url: str, keys: Keys, node_id: str, *,
                 metrics: Metrics | None = None) -> None:
        _check_url(url)
        self.url = url
        self.keys = keys
        self.node_id = node_id
        self.metrics = metrics
        self.up = False
        self.closing = False
        self.last_error: str | None = "not connected yet"
        kw: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_keepalive": True}
        self.redis = aioredis.Redis.from_url(url, socket_timeout=5.0,
                                             retry=Retry(NoBackoff(), 1), **kw)
        self._bus = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **kw)
        self.pubsub: Any = None
        if metrics is not None:
            metrics.broker_up.set(0)

    @property
    def label(self) -> str:
        return redact(self.url)

    def down(self, exc: BaseException) -> None:
        """Redis failed: serve this node's connections only until the supervisor is back."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.up:
            log.error("broker %s: lost Redis (%s); serving this node's connections only",
                      self.label, self.last_error)
        self.up = False
        if self.metrics is not None:
            self.metrics.broker_up.set(0)

    def mark_up(self) -> None:
        self.up = True
        self.last_error = None
        if self.metrics is not None:
            self.metrics.broker_up.set(1)

    async def read(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """``call()``'s answer from Redis, or ``fallback`` while Redis is down (and when the
        call fails, which marks it down): a read never fails the node's own connections."""
        if not self.up:
            return fallback
        try:
            return await call()
        except ERRORS as exc:
            self.down(exc)
            return fallback

    async def listen_to(self, channels: list[str]) -> None:
        """Check that Redis answers, then subscribe a fresh pub/sub to ``channels``."""
        await self.redis.ping()
        if self.pubsub is not None:
            with contextlib.suppress(*ERRORS):
                await self.pubsub.aclose()
        self.pubsub = self._bus.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.subscribe(*channels)

    async def supervise(self, connect: Callable[[], Awaitable[None]],
                        on_message: Callable[[bytes], None]) -> None:
        """Read the bus while connected; reconnect with backoff and jitter when not.

        ``connect`` brings the node back (it calls ``listen_to`` and ``mark_up``); each bus
        message's bytes go to ``on_message``.
        """
        attempt = 0
        while not self.closing:
            if not self.up:
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                try:
                    await connect()
                except ERRORS as exc:
                    self.down(exc)
                    continue
                attempt = 0
                if self.metrics is not None:
                    self.metrics.broker_reconnects.inc()
            try:
                while self.up:
                    message = await self.pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        on_message(message["data"])
            except ERRORS as exc:
                self.down(exc)
            except Exception:  # a bug in one message must not end the listener
                log.exception("broker %s: bad bus message", self.label)

    async def close(self) -> None:
        with contextlib.suppress(*ERRORS):
            if self.pubsub is not None:
                await self.pubsub.aclose()
        await self.redis.aclose()
        await self._bus.aclose()
