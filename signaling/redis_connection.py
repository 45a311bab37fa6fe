"""The Redis broker's link to Redis: the clients, whether Redis works now, and the supervisor.

``RedisLink`` holds the command client (commands, pipelines, the Lua scripts) and makes the
bus clients of ``signaling.redis_bus`` (one connection per shard, holding the sharded
subscriptions). The broker URL says which Redis: ``redis[s]://host:port/db``, one server
(with its replicas or Sentinel behind the address), or ``redis[s]+cluster://host:port[,
host:port...]``, a Redis Cluster found from any of those nodes; both are spoken to the same
way (hash-tagged keys, sharded pub/sub), one server being a cluster of one shard.

Every part of the broker that meets a Redis error calls ``down()``: the node is then degraded
(``up`` False, ``watercooler_broker_up`` 0, ``/healthz`` 503) and keeps serving its own
connections, while ``supervise`` reconnects with exponential backoff and full jitter and,
once connected, runs the broker's ``connect`` step (subscribe, re-register presence, catch
up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisClusterException, RedisError, ResponseError

from signaling.backoff import backoff_delay
from signaling.redis_scripts import Keys

if TYPE_CHECKING:
    from signaling.metrics import Metrics

__all__ = ["CLUSTER_SCHEMES", "ERRORS", "RedisLink", "RedisTarget", "parse_url", "redact"]

log = logging.getLogger(__name__)

#: Reconnect delay: full jitter over base * 2^attempt, capped.
BACKOFF_BASE, BACKOFF_CAP = 0.2, 5.0
#: Command connections to one Redis, and the longest wait for a free one (seconds). A
#: cluster client may open four times as many per shard (it cannot wait for a free one:
#: past its cap a command fails).
POOL_SIZE, POOL_WAIT = 200, 5.0
#: What a lost or unreachable Redis raises (a cluster without an owner for a slot: the
#: second kind, which is not a ``RedisError``).
ERRORS = (RedisError, OSError, RedisClusterException)
#: URL schemes of a Redis Cluster (TLS with the second).
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
#: The name of the one shard of a single Redis.
SINGLE = "redis"

T = TypeVar("T")


def redact(url: str) -> str:
    """``url`` without its password (for logs and ``/healthz``)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}" if user else f"{scheme}{sep}***@{host}"


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """What a broker URL names: one Redis (``url`` as redis-py reads it) or a cluster
    (``seeds``: the nodes to discover it from, with the credentials and TLS of the URL)."""

    url: str
    cluster: bool = False
    seeds: tuple[tuple[str, int], ...] = ()
    username: str | None = None
    password: str | None = None
    tls: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def parse_url(url: str) -> RedisTarget:
    """The target of a broker URL; ``ValueError`` naming what is wrong with it.

    ``redis[s]://[[user]:password@]host[:port][/db]`` or
    ``redis[s]+cluster://[[user]:password@]host[:port][,host[:port]...]`` (database 0 only:
    a cluster has no other)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ValueError("expected redis[s]://[[user]:password@]host[:port][/db]")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError(f"database {db!r} is not a number")
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
        return RedisTarget(url)
    if scheme not in CLUSTER_SCHEMES:
        raise ValueError("expected redis[s]://host[:port][/db] or "
                         "redis[s]+cluster://host[:port][,host[:port]...]")
    creds, _, hosts = parts.netloc.rpartition("@")
    user, _, password = creds.partition(":")
    if parts.path.strip("/") not in ("", "0") or parts.query:
        raise ValueError("a cluster URL has no database (a cluster has only 0) and no options")
    seeds = tuple(_host_port(h) for h in hosts.split(",") if h)
    if not seeds:
        raise ValueError("expected redis[s]+cluster://host[:port][,host[:port]...]")
    return RedisTarget(url, cluster=True, seeds=seeds, username=unquote(user) or None,
                       password=unquote(password) or None, tls=scheme == "rediss+cluster")


def _host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):  # [IPv6]:port
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "6379"
    else:
        host, _, port = text.partition(":")
        port = port or "6379"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"cluster node {text!r} is not host:port")
    return host, int(port)


def _backoff(attempt: int) -> float:
    return backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)


class RedisLink:
    """The node's clients of one Redis (or one Redis Cluster), and whether it is reachable now.

    ``redis`` fails a command after 5 s and reconnects once on a stale pooled connection
    (after a Redis restart), never in a loop: the supervisor does its own backoff and a
    request must not be held for seconds. The bus clients (``bus_client``) never retry: a
    lost subscription connection is the supervisor's to restore. The parts of the broker
    share the link, and with it the key names (``keys``), this node's id and the metrics.
    """

    def __init__(self, url: str, keys: Keys, node_id: str, *,
                 metrics: Metrics | None = None) -> None:
        self.target = parse_url(url)
        self.url = url
        self.keys = keys
        self.node_id = node_id
        self.metrics = metrics
        self.up = False
        self.closing = False
        self.last_error: str | None = "not connected yet"
        #: How many times Redis failed: a connect step during which it moved has failed too
        #: (a subscription's reader may fail while the step is still registering).
        self.failures = 0
        self._lost = asyncio.Event()
        self._buses: dict[str, aioredis.Redis] = {}
        self.redis: Any = self._command_client()
        if metrics is not None:
            metrics.broker_up.set(0)

    _COMMON: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_keepalive": True}

    def _command_client(self) -> Any:
        """The command client. On one Redis its pool is bounded (``POOL_SIZE``) and a
        command waits at most ``POOL_WAIT`` for a connection: redis-py's default pool opens
        one connection per concurrent command without limit, thousands in a reconnect
        storm. A cluster client caps nothing by default either, but redis-py's asyncio
        cluster raises instead of waiting when its cap is reached, so there the bound is
        the node's join gate (``--join-concurrency``)."""
        t = self.target
        retry = Retry(NoBackoff(), 1)
        if not t.cluster:
            pool = aioredis.BlockingConnectionPool.from_url(
                t.url, max_connections=POOL_SIZE, timeout=POOL_WAIT, socket_timeout=5.0,
                retry=retry, **self._COMMON)
            return aioredis.Redis(connection_pool=pool)
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in t.seeds],
                            username=t.username, password=t.password, ssl=t.tls,
                            socket_timeout=5.0, retry=retry,
                            max_connections=POOL_SIZE * 4, **self._COMMON)

    @property
    def cluster(self) -> bool:
        return self.target.cluster

    @property
    def label(self) -> str:
        return redact(self.url)

    # shards -----------------------------------------------------------------------------------
    def shard_of(self, key: str) -> str:
        """The name of the shard that holds ``key`` (or shard channel) now."""
        if not self.cluster:
            return SINGLE
        return str(self.redis.get_node_from_key(key).name)

    def bus_client(self, shard: str) -> aioredis.Redis:
        """A client of ``shard`` for a subscription connection (no retries)."""
        client = self._buses.get(shard)
        if client is None:
            t, retry = self.target, Retry(NoBackoff(), 0)
            if not t.cluster:
                client = aioredis.Redis.from_url(t.url, retry=retry, **self._COMMON)
            else:
                host, _, port = shard.rpartition(":")
                client = aioredis.Redis(host=host, port=int(port), username=t.username,
                                        password=t.password, ssl=t.tls, retry=retry,
                                        **self._COMMON)
            self._buses[shard] = client
        return client

    async def refresh(self) -> None:
        """Check that Redis answers (every primary of a cluster), learning a cluster's slot
        map anew: which shard owns each slot may have changed since the last time. A
        ``redis://`` URL naming a node of a cluster is refused, saying what to use."""
        if self.cluster:
            await self.redis.nodes_manager.initialize()
            await self.redis.ping()
            return
        await self.redis.ping()
        try:
            enabled = (await self.redis.info("cluster")).get("cluster_enabled")
        except ResponseError:  # INFO refused (an ACL, a managed Redis): nothing to learn
            return
        if enabled:
            raise ResponseError("this Redis is a node of a Redis Cluster: use --broker "
                                "redis+cluster://host:port[,host:port...]")

    # up and down ------------------------------------------------------------------------------
    def down(self, exc: BaseException) -> None:
        """Redis failed: serve this node's connections only until the supervisor is back."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.up:
            log.error("broker %s: lost Redis (%s); serving this node's connections only",
                      self.label, self.last_error)
        self.up = False
        self.failures += 1
        self._lost.set()
        if self.metrics is not None:
            self.metrics.broker_up.set(0)

    def mark_up(self, failures: int) -> None:
        """Up again, unless Redis failed since ``failures`` was read (the connect began)."""
        if self.failures != failures:
            raise ConnectionError(f"Redis failed while connecting ({self.last_error})")
        self.up = True
        self.last_error = None
        self._lost.clear()
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

    async def supervise(self, connect: Callable[[], Awaitable[None]]) -> None:
        """Wait while connected; reconnect with backoff and jitter when not.

        ``connect`` brings the node back (it subscribes and calls ``mark_up``).
        """
        attempt = 0
        while not self.closing:
            if self.up:
                await self._lost.wait()
                continue
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

    def wake(self) -> None:
        """Let ``supervise`` see that the link is closing."""
        self._lost.set()

    async def close(self) -> None:
        if self.cluster:
            await self.redis.aclose()
        else:  # a pool handed to the client is not closed with it unless asked
            await self.redis.aclose(close_connection_pool=True)
        for client in self._buses.values():
            await client.aclose()
