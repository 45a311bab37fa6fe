"""Storm control (docs/protocol.md §2, §5): joins in progress are bounded; one more handshake
is answered HTTP 503 with a jittered Retry-After before the upgrade, and clients come back.

Joins are held in progress for real: the node's broker is a redis-server of the test's own,
stopped with SIGSTOP (a Redis that does not answer), so the joins wait on it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from peer.websocket import SignalingConnection
from signaling.join_gate import JoinGate
from tests.redis_util import RedisServer
from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Client


def test_the_gate_counts_joins_in_progress_and_spreads_its_retry_after() -> None:
    gate = JoinGate(max_pending=2, concurrency=1, retry_after=3, random=lambda: 0.0)
    assert gate.admit() and gate.admit() and not gate.admit()
    gate.done()
    assert gate.admit()
    assert gate.retry_after_seconds() == 3
    gate._random = lambda: 0.999999
    assert gate.retry_after_seconds() == 6
    assert JoinGate(max_pending=0, concurrency=0, retry_after=0.2,
                    random=lambda: 0.0).retry_after_seconds() == 1
    unbounded = JoinGate(max_pending=0, concurrency=0, retry_after=1)
    assert all(unbounded.admit() for _ in range(10_000))


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    srv = RedisServer().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def gated(redis_server: RedisServer) -> Iterator[RealtimeServer]:
    with RealtimeServer("--max-pending-joins=2", "--join-concurrency=1",
                        "--join-retry-after=1", broker=redis_server.url) as srv:
        yield srv


class Frozen:
    """The node's Redis stopped (SIGSTOP) while in the block, so joins wait on it."""

    def __init__(self, redis_server: RedisServer) -> None:
        assert redis_server.proc is not None
        self.pid = redis_server.proc.pid

    def __enter__(self) -> Frozen:
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc: object) -> None:
        os.kill(self.pid, signal.SIGCONT)


def _url(server: RealtimeServer, sprint: int, user: int) -> str:
    return server.ws_url(sprint, make_token(user_id=user, username=f"u{user}", sprint=sprint,
                                            secret=server.secret))


async def test_a_handshake_beyond_the_pending_joins_gets_503_and_retry_after(
        gated: RealtimeServer, redis_server: RedisServer, sprint: int) -> None:
    shed = gated.metric("watercooler_joins_shed_total")
    with Frozen(redis_server):
        # Two joins in progress: upgraded (101), waiting on Redis for their welcome.
        waiting = [Client(await ws_connect(_url(gated, sprint, n), close_timeout=1))
                   for n in (1, 2)]
        with pytest.raises(InvalidStatus) as refused:
            await ws_connect(_url(gated, sprint, 3), close_timeout=1)
        answer = refused.value.response
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] in ("1", "2")
        assert b'"error":"busy"' in answer.body
        assert gated.metric("watercooler_joins_shed_total") == shed + 1
        assert gated.metric("watercooler_joins_pending") == 2
    # Redis answers again: both waiting joins are welcomed, in turn, and the gate opens.
    for client in waiting:
        assert (await client.recv(timeout=10))["type"] == "welcome"
    late = Client(await ws_connect(_url(gated, sprint, 3), close_timeout=1))
    assert (await late.recv())["type"] == "welcome"
    assert gated.metric("watercooler_joins_pending") == 0
    for client in [*waiting, late]:
        await client.close()


async def test_a_client_gone_while_its_join_waited_leaves_no_peer_behind(
        gated: RealtimeServer, redis_server: RedisServer, sprint: int) -> None:
    with Frozen(redis_server):
        first = Client(await ws_connect(_url(gated, sprint, 11), close_timeout=1))
        gone = Client(await ws_connect(_url(gated, sprint, 12), close_timeout=1))
        gone.ws.transport.abort()  # the TCP connection reset, no close frame
        await asyncio.sleep(0.2)
    welcome = await first.recv(timeout=10)
    assert welcome["type"] == "welcome"
    # The gone client leaves nothing behind: no connection, no peer of the sprint.
    async with asyncio.timeout(10):
        while gated.metric("watercooler_connections") != 1:
            await asyncio.sleep(0.05)
    watcher = Client(await ws_connect(_url(gated, sprint, 13), close_timeout=1))
    welcome = await watcher.recv()
    others = [p["user"]["username"] for p in welcome["peers"] if p["peer"] != welcome["peer"]]
    assert others == ["u11"]  # (a version 2 welcome lists its own peer too)
    assert gated.metric("watercooler_joins_pending") == 0
    await first.close()
    await watcher.close()


async def test_the_headless_peer_waits_out_the_retry_after_and_gets_in(
        gated: RealtimeServer, redis_server: RedisServer, sprint: int) -> None:
    frames: list[dict[str, Any]] = []
    welcomed = asyncio.Event()

    async def on_frame(frame: dict[str, Any]) -> None:
        frames.append(frame)
        if frame["type"] == "welcome":
            welcomed.set()

    loop = asyncio.get_running_loop()
    with Frozen(redis_server):
        held = [Client(await ws_connect(_url(gated, sprint, n), close_timeout=1))
                for n in (21, 22)]
        peer = SignalingConnection(_url(gated, sprint, 23), None, on_frame, base=0.01,
                                   random=lambda: 0.0)
        started = loop.time()
        task = asyncio.create_task(peer.run())
        async with asyncio.timeout(5):
            while not peer.shed:
                await asyncio.sleep(0.01)
    await asyncio.wait_for(welcomed.wait(), 15)
    assert loop.time() - started >= 1.0  # Retry-After 1 or 2, though its backoff was 0
    assert peer.connects == 1
    await peer.close()
    await task
    for client in held:
        await client.close()
