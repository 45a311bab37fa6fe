"""Limits: relay rate, move coalescing, flood (4008), big frames (1009), slow consumers (4009)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.servers import RealtimeServer
from tests.signaling.conftest import Client, Connect, event, post_events


def _drag(seq: int, phase: str = "move", task: int = 7) -> dict[str, Any]:
    return {"type": "drag", "seq": seq, "task": task, "phase": phase, "x": 0.5, "y": 0.5}


async def _pair(connect: Connect, sprint: int) -> tuple[Client, Client]:
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.joined(ben.peer)
    return ana, ben


async def test_moves_over_the_rate_are_coalesced_latest_wins(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    ana, ben = await _pair(connect, sprint)
    coalesced = server.metric("watercooler_coalesced_total")
    for seq in range(1, 301):
        await ana.send({"type": "relay", "data": _drag(seq)})
    got: list[int] = []
    while not got or got[-1] != 300:
        frame = await ben.recv()
        assert frame["type"] == "relay" and frame["from"] == ana.peer
        got.append(frame["data"]["seq"])
    assert got == sorted(got)
    assert 60 <= len(got) < 150, len(got)
    await ana.silent()  # moves are never answered with rate_limited
    await ben.silent()
    assert server.metric("watercooler_coalesced_total") > coalesced


async def test_coalescing_keeps_the_latest_move_of_each_task(connect: Connect,
                                                             sprint: int) -> None:
    ana, ben = await _pair(connect, sprint)
    for seq in range(1, 61):  # spend the burst
        await ana.send({"type": "relay", "data": _drag(seq, task=1)})
    for seq in range(61, 121):
        await ana.send({"type": "relay", "data": _drag(seq, task=2 + seq % 3)})
    last: dict[int, int] = {}
    async with asyncio.timeout(5):
        while len(last) < 4 or any(last.get(t, 0) < s for t, s in ((2, 120), (3, 118),
                                                                     (4, 119))):
            data = (await ben.recv())["data"]
            last[data["task"]] = data["seq"]
    assert last == {1: 60, 2: 120, 3: 118, 4: 119}


async def test_other_relays_over_the_rate_are_dropped_with_rate_limited(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    ana, ben = await _pair(connect, sprint)
    for seq in range(1, 101):
        await ana.send({"type": "relay", "data": _drag(seq, phase="start")})
    errors = 0
    async with asyncio.timeout(5):
        while errors < 30:
            frame = await ana.recv()
            assert frame == {"type": "error", "code": "rate_limited",
                             "message": "relay over 60 frames/s dropped"}
            errors += 1
    delivered = 0
    with pytest.raises(TimeoutError):
        while True:
            await ben.recv(timeout=0.3)
            delivered += 1
    assert 60 <= delivered <= 70
    assert server.metric('watercooler_dropped_total{reason="rate_limited"}') >= 30


async def test_flooding_closes_4008(connect: Connect, sprint: int) -> None:
    client = await connect(sprint)
    with contextlib.suppress(ConnectionClosed):
        for _ in range(2000):
            await client.send({"type": "channels", "peers": []})
    assert await client.closed() == 4008


async def test_frame_over_64_kib_closes_1009(connect: Connect, sprint: int) -> None:
    client = await connect(sprint)
    await client.send({"type": "relay", "data": {"blob": "x" * 70_000}})
    assert await client.closed() == 1009


async def test_frame_just_under_the_limit_is_forwarded(connect: Connect, sprint: int) -> None:
    """A signal (one recipient: an SDP with many candidates) may use the whole frame."""
    ana, ben = await _pair(connect, sprint)
    data = {"blob": "x" * 60_000}
    await ana.send({"type": "signal", "to": ben.peer, "data": data})
    assert (await ben.recv())["data"] == data


async def test_a_relay_over_its_own_bound_reaches_nobody(connect: Connect, sprint: int) -> None:
    """Relays go to the whole sprint, so they are bounded far below the frame size."""
    ana, ben = await _pair(connect, sprint)
    await ana.send({"type": "relay", "data": {"blob": "x" * 5000}})
    assert (await ana.recv())["code"] == "bad_field"
    await ana.send({"type": "relay", "data": {"blob": "small"}})
    assert (await ben.recv())["data"] == {"blob": "small"}  # the big one never came


@pytest.fixture(scope="module")
def tight_buffer() -> Iterator[RealtimeServer]:
    with RealtimeServer("--max-buffer=262144", "--history-size=100") as srv:
        yield srv


async def test_slow_consumer_closes_4009_and_others_keep_up(
        tight_buffer: RealtimeServer, connect: Connect, sprint: int) -> None:
    reader = await connect(sprint, server=tight_buffer)
    sleeper = await connect(sprint, server=tight_buffer, max_queue=1)
    await reader.joined()
    payload = {"id": 7, "description": "y" * 4000}
    seq = 0
    received = 0
    async with asyncio.timeout(30):
        while tight_buffer.metric('watercooler_closes_total{code="4009"}') < 1:
            batch = [event(sprint, seq + n, data=payload) for n in range(1, 201)]
            seq += 200
            status, _ = await asyncio.to_thread(post_events, tight_buffer, batch)
            assert status == 200
            while received < seq:  # the reading client gets everything, promptly
                frame = await reader.recv()
                if frame["type"] == "event":
                    received += 1
                    assert frame["seq"] == received
    assert await sleeper.closed() == 4009
    assert await reader.left(sleeper.peer) == sleeper.peer


async def test_a_move_that_cannot_be_forwarded_is_refused_not_held(connect: Connect,
                                                                   sprint: int) -> None:
    """Over the rate, a bad move is refused at once and the good held moves still go."""
    ana, ben = await _pair(connect, sprint)
    for seq in range(1, 61):  # spend the burst
        await ana.send({"type": "relay", "data": _drag(seq, task=9)})
    await ana.send('{"type": "relay", "data": {"type": "drag", "seq": 61, "task": 1, '
                   '"phase": "move", "x": 0.5, "y": 0.5, "label": "\\ud800"}}')
    await ana.send({"type": "relay", "data": _drag(62, task=2)})
    assert await ana.recv() == {"type": "error", "code": "bad_field", "field": "data",
                                "message": "data: cannot be forwarded (not valid Unicode)"}
    async with asyncio.timeout(5):
        while (data := (await ben.recv_type("relay"))["data"])["task"] != 2:
            assert data["task"] == 9
    assert data["seq"] == 62
