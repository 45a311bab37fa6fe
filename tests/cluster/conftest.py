"""Several real ``watercooler.py`` nodes on one real Redis (or a real Redis Cluster), and
clients spread across them.

Every test gets its own key prefix (deleted afterwards) and short presence TTLs, so tests
sharing the machine's Redis (or the session's Redis Cluster) never see each other and a dead
node is noticed in seconds. Tests that take ``broker`` run on both.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from peer.client import Peer
from peer.websocket import Transport
from tests.redis_cluster import LocalRedisCluster
from tests.redis_util import REDIS_URL, RedisServer, delete_prefix
from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Client

pytestmark = pytest.mark.redis

#: Seconds a killed node's peers stay listed; the heartbeat runs every third of it.
PRESENCE_TTL = 1.5


Clients = Callable[[RealtimeServer, int], Awaitable[Client]]
Peers = Callable[..., Awaitable[Peer]]


class StartNodes(Protocol):
    def __call__(self, n: int, *args: str, broker: str = ...,
                 prefix: str | None = ...) -> list[RealtimeServer]: ...


@pytest.fixture
def start_nodes(prefix: str) -> Iterator[StartNodes]:
    """``start_nodes(3)``: realtime nodes on the Redis broker, started in parallel."""
    started: list[RealtimeServer] = []

    def start(n: int, *args: str, broker: str = REDIS_URL,
              prefix: str | None = prefix) -> list[RealtimeServer]:
        options = [f"--presence-ttl={PRESENCE_TTL}", *args]
        if prefix is not None:
            options.append(f"--redis-prefix={prefix}")
        nodes = [RealtimeServer(*options, broker=broker) for _ in range(n)]
        started.extend(nodes)
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda node: node.start(), nodes))
        return nodes

    yield start
    with ThreadPoolExecutor(max(1, len(started))) as pool:
        list(pool.map(lambda node: node.stop(), started))


@pytest.fixture(params=["redis", "cluster"])
def broker(request: pytest.FixtureRequest, prefix: str) -> Iterator[str]:
    """The shared broker's URL: the machine's Redis, then the session's Redis Cluster."""
    if request.param == "redis":
        yield REDIS_URL
        return
    cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
    yield cluster.url
    delete_prefix(cluster.client(), prefix)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own (to stop, restart and cut nodes off)."""
    server = RedisServer().start()
    yield server
    server.stop()


_users = itertools.count(1)


def ticket(node: RealtimeServer, sprint: int) -> str:
    n = next(_users)
    return make_token(user_id=n, username=f"user{n}", sprint=sprint, secret=node.secret)


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """``await clients(node, sprint)``: a websocket client of ``node``, welcome read."""
    opened: list[Client] = []

    async def make(node: RealtimeServer, sprint: int) -> Client:
        ws = await ws_connect(node.ws_url(sprint, ticket(node, sprint)), max_size=None,
                              close_timeout=1)
        client = Client(ws)
        opened.append(client)
        client.welcome = await client.recv()
        assert client.welcome["type"] == "welcome", client.welcome
        return client

    yield make
    await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


def failover(nodes: list[RealtimeServer]) -> Callable[[str], Awaitable[Transport]]:
    """A websocket opener that tries ``nodes`` in order, as a load balancer would."""

    async def connect(url: str) -> Transport:
        parts = urlsplit(url)
        error: Exception = OSError("no node")
        for node in nodes:
            try:
                ws: ClientConnection = await ws_connect(
                    urlunsplit(parts._replace(netloc=f"127.0.0.1:{node.port}")),
                    max_size=64 * 1024, open_timeout=5)
                return ws
            except OSError as exc:
                error = exc
        raise error

    return connect


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    """``await peers(node, sprint, **options)``: a connected ``peer.Peer``, closed at the end."""
    made: list[Peer] = []

    async def make(node: RealtimeServer, sprint: int, **options: Any) -> Peer:
        options.setdefault("backoff_base", 0.05)
        peer = await Peer.connect(node.ws_url(sprint), ticket(node, sprint), **options)
        made.append(peer)
        return peer

    yield make
    await asyncio.gather(*(p.close() for p in made), return_exceptions=True)


async def frames_until_quiet(client: Client, quiet: float = 0.5, limit: float = 15,
                             at_least: int = 0) -> list[dict[str, Any]]:
    """Every frame ``client`` gets until none came for ``quiet`` seconds.

    The first ``at_least`` frames are waited for as long as ``limit`` allows (a frame
    that crosses Redis on a busy machine may take longer than ``quiet``); only then does
    a quiet spell end the list, so extra frames still show.
    """
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(limit):
        while True:
            try:
                got.append(await client.recv(timeout=quiet if len(got) >= at_least
                                             else limit))
            except TimeoutError:
                return got


async def until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
                ) -> None:
    """Poll ``cond`` (never blocking the loop) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.05)


async def until_async(cond: Callable[[], Awaitable[bool]], timeout: float = 10.0,
                      what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await cond():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.1)


async def healthz(node: RealtimeServer) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(node.healthz)


def dumps(frames: list[dict[str, Any]]) -> str:
    return json.dumps(frames)[:2000]
