"""Fixtures for the realtime server's suites: real ``watercooler.py`` processes, real clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.servers import RealtimeServer, events_body, make_token, sign

Frame = dict[str, Any]


class Client:
    """One websocket client that asserts exact frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: Frame = {}

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
        return frame

    async def recv_type(self, kind: str, timeout: float = 5) -> Frame:
        """The next frame of type ``kind``, skipping presence frames."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame
            assert frame["type"] in ("peer_joined", "peer_left"), frame

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
