"""Fixtures for suites that run both servers for real: Django's live server + watercooler.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.servers import TEST_SECRET, RealtimeServer


@pytest.fixture
def realtime(settings: Any) -> Iterator[RealtimeServer]:
    """A realtime server, with Django configured to publish to it."""
    server = RealtimeServer().start()
    _point_django_at(settings, server)
    yield server
    server.stop()


def _point_django_at(settings: Any, server: RealtimeServer) -> None:
    settings.REALTIME_URL = server.http_url
    settings.REALTIME_PUBLIC_URL = f"ws://127.0.0.1:{server.port}"
    settings.REALTIME_SECRET = TEST_SECRET
    settings.REALTIME_RETRY_MAX = 0.5


class Board:
    """Two users, two sprints and a few tasks, made through the real REST API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.token = ""
        self._sprints = 0

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def login(self, username: str, password: str) -> None:
        resp = self.http.post("/api/token/", json={"username": username, "password": password})
        resp.raise_for_status()
        self.token = resp.json()["token"]
        self.http.headers["Authorization"] = f"Token {self.token}"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.post(path, json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.patch(path, json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def ticket(self, sprint: int) -> dict[str, Any]:
        resp = self.http.post(f"/api/sprints/{sprint}/realtime/")
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    def sprint(self, name: str) -> dict[str, Any]:
        # A sprint's end date is unique: each new sprint ends a day later.
        self._sprints += 1
        end = (dt.date.today() + dt.timedelta(days=13 + self._sprints)).isoformat()
        return self.post("/api/sprints/", {"name": name, "description": "", "end": end})

    def task(self, sprint: int | None, name: str, **fields: Any) -> dict[str, Any]:
        return self.post("/api/tasks/", {"name": name, "sprint": sprint, **fields})


@pytest.fixture
def board(live_server: Any, django_user_model: Any) -> Iterator[Board]:
    django_user_model.objects.create_user("ana", password="ana-pass")
    client = Board(live_server.url)
    client.login("ana", "ana-pass")
    yield client
    client.http.close()


class Subscriber:
    """A websocket client of one sprint that keeps every frame it receives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    async def connect(self) -> Subscriber:
        self._ws = await websockets.connect(self.url)
        self.welcome = json.loads(await asyncio.wait_for(self._ws.recv(), 10))
        assert self.welcome["type"] == "welcome", self.welcome
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self._ws:
                self.frames.append(json.loads(text))
                self._arrived.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(frame))

    def events(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "event"]

    async def wait_for(self, predicate: Any, timeout: float = 15) -> list[dict[str, Any]]:
        """Wait until predicate(frames) is true; returns the frames."""
        async with asyncio.timeout(timeout):
            while not predicate(self.frames):
                self._arrived.clear()
                await self._arrived.wait()
        return self.frames

    async def wait_events(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        await self.wait_for(lambda _: len(self.events()) >= count, timeout)
        return self.events()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader


@pytest.fixture
async def subscribe(board: Board) -> AsyncIterator[Any]:
    """`await subscribe(sprint_id)` → a connected Subscriber holding a real Django ticket."""
    opened: list[Subscriber] = []

    async def connect(sprint: int) -> Subscriber:
        ticket = await asyncio.to_thread(board.ticket, sprint)
        sub = await Subscriber(f"{ticket['url']}?token={ticket['token']}&protocol=2").connect()
        opened.append(sub)
        return sub

    yield connect
    for sub in opened:
        await sub.close()
