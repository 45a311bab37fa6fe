"""`peer.websocket`: token URLs and reconnects, driven by a fake socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close as CloseFrame
from websockets.http11 import Response

from peer.websocket import SignalingConnection, SignalingError, State, with_token


def test_with_token_sets_or_replaces_the_token_and_states_protocol_2() -> None:
    assert with_token("ws://h:1/7/", "abc") == "ws://h:1/7/?token=abc&protocol=2"
    assert with_token("ws://h:1/7/?token=old&x=1&protocol=1", "new") == (
        "ws://h:1/7/?x=1&token=new&protocol=2")
    assert with_token("ws://h:1/7/", None) == "ws://h:1/7/?protocol=2"


class FakeSocket:
    """A websocket that yields scripted frames, then closes with ``code``."""

    def __init__(self, frames: list[dict[str, Any]], code: int | None) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        for frame in frames:
            self.inbox.put_nowait(json.dumps(frame))
        if code is not None:
            self.inbox.put_nowait(None)
        self.code = code
        self.sent: list[str] = []
        self.closed_with: int | None = None

    @property
    def close_code(self) -> int | None:
        return self.code

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:
        item = await self.inbox.get()
        if item is None:
            raise ConnectionClosed(CloseFrame(self.code or 1006, ""), None)
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed_with is None:
            self.closed_with = code
            self.code = self.code or code
            self.inbox.put_nowait(None)


class Script:
    """The injected connect function: each call hands out the next socket (or error)."""

    def __init__(self, *steps: FakeSocket | Exception) -> None:
        self.steps = list(steps)
        self.urls: list[str] = []

    async def __call__(self, url: str) -> FakeSocket:
        self.urls.append(url)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


async def test_reconnects_after_drops_and_refused_connects() -> None:
    frames: list[dict[str, Any]] = []
    last = FakeSocket([{"type": "welcome", "n": 3}], code=None)
    script = Script(FakeSocket([{"type": "welcome", "n": 1}], code=1006),
                    OSError("refused"), FakeSocket([{"type": "welcome", "n": 2}], code=1001),
                    last)
    states: list[State] = []

    async def on_frame(frame: dict[str, Any]) -> None:
        frames.append(frame)

    conn = SignalingConnection("ws://x/7/", "tok", on_frame, connect=script, base=0.001,
                               on_state=lambda _old, new: states.append(new))
    task = asyncio.create_task(conn.run())
    while len(frames) < 3:
        await asyncio.sleep(0.01)
    assert [f["n"] for f in frames] == [1, 2, 3]
    assert script.urls == ["ws://x/7/?token=tok&protocol=2"] * 4
    assert await conn.send({"type": "resume", "since": 1})
    assert last.sent == ['{"type":"resume","since":1}']
    await conn.close()
    await asyncio.wait_for(task, 2)
    assert last.closed_with == 1000
    assert states.count(State.CONNECTED) == 3 and states[-1] is State.CLOSED


async def test_send_while_disconnected_is_dropped() -> None:
    async def on_frame(frame: dict[str, Any]) -> None: ...
    conn = SignalingConnection("ws://x/7/", None, on_frame)
    assert not await conn.send({"type": "resume", "since": 0})


async def test_refused_ticket_is_final_without_renew() -> None:
    async def on_frame(frame: dict[str, Any]) -> None: ...
    conn = SignalingConnection("ws://x/7/", "bad", on_frame,
                               connect=Script(FakeSocket([], code=4001)), base=0.001)
    with pytest.raises(SignalingError) as info:
        await conn.run()
    assert info.value.code == 4001
    assert conn.state is State.CLOSED


async def test_refused_ticket_is_renewed() -> None:
    seen: list[dict[str, Any]] = []

    async def on_frame(frame: dict[str, Any]) -> None:
        seen.append(frame)

    async def renew() -> tuple[str, str]:
        return "ws://y/7/", "fresh"

    script = Script(FakeSocket([], code=4001), FakeSocket([{"type": "welcome"}], code=None))
    conn = SignalingConnection("ws://x/7/", "old", on_frame, connect=script, renew=renew,
                               base=0.001)
    task = asyncio.create_task(conn.run())
    while not seen:
        await asyncio.sleep(0.01)
    assert script.urls == ["ws://x/7/?token=old&protocol=2", "ws://y/7/?token=fresh&protocol=2"]
    await conn.close()
    await asyncio.wait_for(task, 2)


async def test_a_failing_handler_does_not_drop_the_connection() -> None:
    seen: list[int] = []

    async def on_frame(frame: dict[str, Any]) -> None:
        if frame["n"] == 1:
            raise RuntimeError("bug")
        seen.append(frame["n"])

    script = Script(FakeSocket([{"n": 1}, {"n": 2}], code=None))
    conn = SignalingConnection("ws://x/7/", None, on_frame, connect=script)
    task = asyncio.create_task(conn.run())
    while not seen:
        await asyncio.sleep(0.01)
    assert seen == [2] and conn.connects == 1
    await conn.close()
    await asyncio.wait_for(task, 2)


def _shed(retry_after: str) -> InvalidStatus:
    """The node's answer to a handshake over its pending joins (docs/protocol.md §2)."""
    return InvalidStatus(Response(503, "Service Unavailable",
                                  Headers({"Retry-After": retry_after}), b""))


async def _seconds_until_welcome(retry_after: str) -> tuple[float, SignalingConnection]:
    """Connect through one 503 with ``retry_after``; seconds until the welcome arrived."""
    script = Script(_shed(retry_after), FakeSocket([{"type": "welcome"}], code=None))
    got = asyncio.Event()

    async def on_frame(frame: dict[str, Any]) -> None:
        got.set()

    conn = SignalingConnection("ws://x/7/", None, on_frame, connect=script,
                               random=lambda: 0.0, base=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(got.wait(), 5)
    elapsed = loop.time() - started
    await conn.close()
    await task
    return elapsed, conn


async def test_a_shed_handshake_waits_at_least_its_retry_after() -> None:
    """Even with a zero backoff (random 0), the client waits the 1 s the node asked for."""
    elapsed, conn = await _seconds_until_welcome("1")
    assert elapsed >= 1.0
    assert conn.shed == 1 and conn.connects == 1


async def test_without_retry_after_a_503_is_an_ordinary_failed_attempt() -> None:
    elapsed, conn = await _seconds_until_welcome("soon")
    assert elapsed < 0.5
    assert conn.shed == 1
