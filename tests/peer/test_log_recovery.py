"""A peer offline past the realtime server's history catches up from the REST event log,
without reloading the sprint; past the log's retention it is told so (410) and reloads.

Live Django, a real ``watercooler.py`` keeping only 3 events per sprint, a real peer.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from peer import ApiClient, Peer, join
from tests.integration.conftest import Board, _point_django_at
from tests.peer.conftest import until
from tests.servers import RealtimeServer

pytestmark = pytest.mark.django_db(transaction=True)


class CountingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP, with every request's path and query noted."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.raw_path.decode()}")
        return await super().handle_async_request(request)


@pytest.fixture
def short_history(settings: Any) -> Iterator[RealtimeServer]:
    server = RealtimeServer("--history-size=3").start()
    _point_django_at(settings, server)
    yield server
    server.stop()


class Gate:
    """The peer's websockets: `cut()` drops the open one, and reconnections wait until
    `mend()`."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self.sockets: list[Any] = []

    async def connect(self, url: str) -> Any:
        await self.open.wait()
        ws = await ws_connect(url, open_timeout=10)
        self.sockets.append(ws)
        return ws

    async def cut(self, peer: Peer) -> None:
        self.open.clear()
        for ws in self.sockets:
            await ws.close(code=4009)  # as if the server had cut a slow consumer
        await until(lambda: not peer.connected, what="offline")

    def mend(self) -> None:
        self.open.set()


@pytest.fixture
async def offline_peer(short_history: RealtimeServer, board: Board
                       ) -> AsyncIterator[tuple[Peer, CountingTransport, Gate, int]]:
    """A peer of a sprint with three tasks, whose websocket the test can cut."""
    sprint = (await asyncio.to_thread(board.sprint, "Offline"))["id"]
    for name in ("a", "b", "c"):
        await asyncio.to_thread(board.task, sprint, name)
    transport = CountingTransport()
    gate = Gate()
    async with ApiClient(board.base_url, token=board.token, transport=transport) as api:
        peer = await join(api, sprint, connect=gate.connect, webrtc=False, backoff_base=0.05)
        try:
            yield peer, transport, gate, sprint
        finally:
            await peer.close()


async def _go_offline_while(board: Board, peer: Peer, gate: Gate, sprint: int,
                            changes: int) -> dict[int, dict[str, Any]]:
    """Cut the peer off, make `changes` renames over REST and wait until the realtime server
    has them all (far more than its history holds); returns the tasks as REST has them."""
    await gate.cut(peer)
    tasks = sorted(peer.board.tasks)
    for n in range(changes):
        await asyncio.to_thread(board.patch, f"/api/tasks/{tasks[n % len(tasks)]}/",
                                {"name": f"rename {n}"})
    for _ in range(400):  # until the realtime server has every event
        if not await asyncio.to_thread(_undelivered, sprint):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the events were never delivered")
    listed = (await asyncio.to_thread(board.http.get, "/api/tasks/",
                                      params={"sprint": sprint})).json()["results"]
    return {t["id"]: t for t in listed}


def _undelivered(sprint: int) -> bool:
    from api.realtime.models import OutboxEvent

    return OutboxEvent.objects.filter(sprint_id=sprint, delivered_at__isnull=True).exists()


def _reloads(requests: list[str], sprint: int) -> list[str]:
    """Requests of a full reload: the sprint, or its task list."""
    return [r for r in requests if r.startswith("GET /api/tasks/")
            or r.split("?")[0] == f"GET /api/sprints/{sprint}/"]


async def test_a_peer_offline_past_the_servers_history_catches_up_from_the_log(
        offline_peer: tuple[Peer, CountingTransport, Gate, int], board: Board) -> None:
    peer, transport, gate, sprint = offline_peer
    before = len(transport.requests)
    resyncs: list[dict[str, Any]] = []
    peer.events.on(lambda e: e.get("type") == "resync" and resyncs.append(e))
    expected = await _go_offline_while(board, peer, gate, sprint, changes=9)
    gate.mend()
    await until(lambda: peer.board.tasks == expected, timeout=20, what="caught up")
    after = transport.requests[before:]
    assert resyncs, "the server's history (3 events) cannot replay 9: it says resync"
    assert [r for r in after if "/events/" in r] == [
        f"GET /api/sprints/{sprint}/events/?page_size=100&since={resyncs[0]['latest'] - 9}"]
    assert _reloads(after, sprint) == []
    sprint_seq = (await asyncio.to_thread(board.http.get, f"/api/sprints/{sprint}/")).json()["seq"]
    assert peer.stream.last == sprint_seq


async def test_past_the_logs_retention_the_peer_is_told_and_reloads(
        offline_peer: tuple[Peer, CountingTransport, Gate, int], board: Board,
        settings: Any) -> None:
    from django.utils import timezone

    from api.realtime.models import OutboxEvent
    from api.realtime.streams import prune

    peer, transport, gate, sprint = offline_peer
    before = len(transport.requests)
    expected = await _go_offline_while(board, peer, gate, sprint, changes=9)
    long_ago = timezone.now() - datetime.timedelta(days=40)
    await asyncio.to_thread(lambda: OutboxEvent.objects.filter(sprint_id=sprint).update(
        created_at=long_ago, delivered_at=long_ago))
    assert await asyncio.to_thread(prune) > 0
    gate.mend()
    await until(lambda: peer.board.tasks == expected, timeout=20, what="reloaded")
    after = transport.requests[before:]
    assert any(r.startswith(f"GET /api/sprints/{sprint}/events/?") for r in after), after
    assert _reloads(after, sprint), after  # the full reload


async def test_a_stream_restarted_lower_makes_the_peer_reload(
        offline_peer: tuple[Peer, CountingTransport, Gate, int], board: Board,
        short_history: RealtimeServer) -> None:
    """The server's history of the sprint restarted lower numbered (a reset, a new epoch)
    while the peer was away: its ``welcome.seq`` is below the peer's ``last``, and only a
    reload makes the board right (waiting for the seqs to pass it would drop events)."""
    from tests.peer.conftest import post_events

    peer, transport, gate, sprint = offline_peer
    await gate.cut(peer)
    assert peer.stream.last is not None and peer.stream.last > 2
    short_history.stop()
    short_history.start()
    event = {"sprint": sprint, "seq": 2, "action": "updated", "model": "task", "id": 1,
             "data": None, "epoch": "restored"}
    (result,) = (await asyncio.to_thread(post_events, short_history, [event]))["results"]
    assert result["status"] == "accepted"
    before = len(transport.requests)
    gate.mend()
    await until(lambda: bool(_reloads(transport.requests[before:], sprint)), timeout=20,
                what="a reload")
    sprint_seq = (await asyncio.to_thread(board.http.get, f"/api/sprints/{sprint}/")).json()["seq"]
    await until(lambda: peer.stream.last == sprint_seq and not peer.stream.recovering,
                what="settled on the reloaded state")
