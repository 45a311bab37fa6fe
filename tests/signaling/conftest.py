"""Fixtures for the realtime server's suites: real ``watercooler.py`` processes, real clients,
and brokers started in the test's own process (the broker suites)."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from signaling.auth import User
from signaling.broker import Broker, Envelope, Member
from signaling.history import History
from signaling.memory_broker import MemoryBroker
from signaling.metrics import Metrics
from signaling.redis_broker import RedisBroker
from tests.redis_cluster import LocalRedisCluster
from tests.redis_util import REDIS_URL, delete_prefix
from tests.servers import RealtimeServer, events_body, make_token, sign

Frame = dict[str, Any]


class Client:
    """One websocket client that asserts exact frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: Frame = {}
        #: The peers this client sees (welcome, then presence frames), and the count.
        self.visible: set[str] = set()
        self.count = 0

    @property
    def peer(self) -> str:
        return str(self.welcome["peer"])

    async def recv_text(self, timeout: float = 5) -> str:
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(text, str), text
        return text

    async def recv(self, timeout: float = 5) -> Frame:
        frame = json.loads(await self.recv_text(timeout))
        assert isinstance(frame, dict)
        if frame["type"] == "welcome":
            self.visible = {p["peer"] for p in frame["peers"]}
            self.count = frame["count"]
        elif frame["type"] == "presence":
            self.visible -= set(frame["left"])
            self.visible |= {p["peer"] for p in frame["joined"]}
            self.count = frame["count"]
        return frame

    async def sees(self, peers: set[str], timeout: float = 5) -> None:
        """Read presence frames until this client sees exactly ``peers`` (itself included
        when it is one of the sprint's first peers)."""
        while self.visible != peers:
            await self.recv_type("presence", timeout)

    async def recv_type(self, kind: str, timeout: float = 5) -> Frame:
        """The next frame of type ``kind``, skipping presence frames."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame
            assert frame["type"] == "presence", frame

    async def joined(self, peer: str | None = None, timeout: float = 5) -> Frame:
        """The next ``presence`` frame telling that ``peer`` (None: anyone) joined."""
        while True:
            frame = await self.recv_type("presence", timeout)
            if any(peer is None or p["peer"] == peer for p in frame["joined"]):
                return frame

    async def left(self, peer: str | None = None, timeout: float = 5) -> str:
        """The peer of the next ``presence`` frame telling that ``peer`` (None: anyone) left."""
        while True:
            frame = await self.recv_type("presence", timeout)
            for p in frame["left"]:
                if peer is None or p == peer:
                    return str(p)

    async def send(self, frame: Frame | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def silent(self, within: float = 0.3) -> None:
        """Assert no frame arrives within ``within`` seconds."""
        try:
            text = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {text!r}")

    async def closed(self, timeout: float = 10) -> int | None:
        """Read (and drop) frames until the server closes; the close code."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd is not None else None

    async def close(self) -> None:
        await self.ws.close()


async def settle(*clients: Client) -> None:
    """Wait until each client sees all of them (small sprints: everyone is visible)."""
    everyone = {c.peer for c in clients}
    for client in clients:
        await client.sees(everyone)


class Connect(Protocol):
    async def __call__(self, sprint: int, *, token: str | None = ..., welcome: bool = ...,
                       server: RealtimeServer | None = ..., **kwargs: Any) -> Client: ...


_users = itertools.count(1)


@pytest.fixture
async def connect(server: RealtimeServer) -> AsyncIterator[Connect]:
    """``await connect(sprint)`` → a client with a valid ticket, its welcome already read."""
    opened: list[Client] = []

    async def make(sprint: int, *, token: str | None = "", welcome: bool = True,
                   server: RealtimeServer = server, **kwargs: Any) -> Client:
        if token == "":
            n = next(_users)
            token = make_token(user_id=n, username=f"user{n}", sprint=sprint,
                               secret=server.secret)
        kwargs.setdefault("close_timeout", 1)  # a client left with unread frames closes late
        ws = await ws_connect(server.ws_url(sprint, token), max_size=None, **kwargs)
        client = Client(ws)
        opened.append(client)
        if welcome:
            client.welcome = await client.recv()
            assert client.welcome["type"] == "welcome", client.welcome
        return client

    yield make
    await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


def post_events(server: RealtimeServer, events: list[Frame] | None = None, *,
                body: bytes | None = None, headers: dict[str, str] | None = None
                ) -> tuple[int, Frame]:
    """``POST /events/`` signed as Django does unless ``headers`` say otherwise."""
    if body is None:
        body = events_body(events or [])
    if headers is None:
        headers = sign(body, secret=server.secret)
    req = urllib.request.Request(f"{server.http_url}/events/", data=body, method="POST",
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def event(sprint: int, seq: int, **fields: Any) -> Frame:
    """An event as Django sends it."""
    task = fields.pop("id", 7)
    return {"sprint": sprint, "seq": seq, "action": fields.pop("action", "updated"),
            "model": fields.pop("model", "task"), "id": task,
            "data": fields.pop("data", {"id": task, "name": f"task {task}", "sprint": sprint}),
            **fields}


def event_frame(ev: Frame) -> Frame:
    """The ``event`` frame subscribers get for ``ev``."""
    return {"type": "event", **{k: ev[k] for k in ("sprint", "seq", "action", "model", "id",
                                                   "data")}}


# brokers in this process (tests/signaling/test_broker_contract.py, test_redis_cluster.py) -------
class BrokerNode:
    """A broker and what it delivered to this node's (imaginary) connections."""

    def __init__(self, make: Callable[[Callable[[Envelope], None], History], Broker],
                 history: History | None = None) -> None:
        self.delivered: list[Envelope] = []
        self.broker = make(self.delivered.append,
                           History(max_size=5) if history is None else history)

    def frames(self, kind: str | None = None) -> list[dict[str, object]]:
        return [json.loads(e.frame) for e in self.delivered if kind in (None, e.kind)]


NodeFactory = Callable[..., Awaitable["BrokerNode"]]


@pytest.fixture
async def nodes(prefix: str, request: pytest.FixtureRequest
                ) -> AsyncIterator[NodeFactory]:
    """``await nodes(kind)``: a started broker of ``kind``: memory, redis (the machine's
    Redis) or cluster (the session's Redis Cluster)."""
    made: list[Broker] = []
    clusters: list[LocalRedisCluster] = []

    async def make(kind: str = "redis", *, history: History | None = None,
                   presence_ttl: float = 15.0) -> BrokerNode:
        url = REDIS_URL
        if kind == "cluster":
            if not clusters:
                clusters.append(request.getfixturevalue("redis_cluster"))
            url = clusters[0].url

        def build(deliver: Callable[[Envelope], None], hist: History) -> Broker:
            if kind == "memory":
                return MemoryBroker(deliver, hist)
            return RedisBroker(url, deliver, hist, prefix=prefix, presence_ttl=presence_ttl,
                               metrics=Metrics())
        node = BrokerNode(build, history)
        await node.broker.start()
        made.append(node.broker)
        return node

    yield make
    for broker in made:
        await broker.close()
    for cluster in clusters:
        delete_prefix(cluster.client(), prefix)


@pytest.fixture(params=["redis", "cluster"])
def shared(request: pytest.FixtureRequest) -> str:
    """The shared brokers: on one Redis, and on a Redis Cluster."""
    return str(request.param)


def ana(peer: str) -> Member:
    return Member(peer, User(id=1, username="ana"))


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


