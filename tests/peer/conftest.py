"""Fixtures for `peer/` tests against the real realtime server (`tests.servers.RealtimeServer`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest

from peer.client import Peer
from tests.servers import RealtimeServer, events_body, make_token, sign


class PeerFactory(Protocol):
    def __call__(self, sprint: int, *, user_id: int = ..., username: str = ...,
                 **options: Any) -> Awaitable[Peer]: ...


async def until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
                ) -> None:
    """Poll ``cond`` until true; timings are generous and never the point of a test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.02)


def post_events(server: RealtimeServer, events: list[dict[str, Any]]) -> dict[str, Any]:
    """``POST /events/`` signed as Django does (protocol §7)."""
    body = events_body(events)
    req = urllib.request.Request(f"{server.http_url}/events/", data=body, method="POST",
                                 headers=sign(body, secret=server.secret))
    with urllib.request.urlopen(req, timeout=5) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def peer_factory(server_of: Callable[[], RealtimeServer], made: list[Peer]) -> PeerFactory:
    counter = itertools.count(1)

    async def make(sprint: int, *, user_id: int = 0, username: str = "",
                   **options: Any) -> Peer:
        n = next(counter)
        token = make_token(user_id=user_id or n, username=username or f"user{n}",
                           sprint=sprint, secret=server_of().secret)
        options.setdefault("backoff_base", 0.05)
        peer = await Peer.connect(server_of().ws_url(sprint), token, **options)
        made.append(peer)
        return peer

    return make


@pytest.fixture
async def peers(server: RealtimeServer) -> AsyncIterator[PeerFactory]:
    """Connected peers of ``server``; every one is closed at tear-down."""
    made: list[Peer] = []
    try:
        yield peer_factory(lambda: server, made)
    finally:
        await asyncio.gather(*(p.close() for p in made), return_exceptions=True)


async def all_see(group: list[Peer], timeout: float = 10.0) -> None:
    """Wait until every peer of ``group`` has every other one in its presence."""
    await until(lambda: all({q.peer_id for q in group if q is not p} <= p.peers.keys()
                            for p in group), timeout, "presence")


# Live Django (publishing to a realtime server) and user ana logged in over REST: the
# fixtures of tests/integration, for the peer's moves against the real API.
from tests.integration.conftest import board, realtime  # noqa: E402, F401
