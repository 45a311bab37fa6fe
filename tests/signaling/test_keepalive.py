"""Websocket pings from one timer (``signaling.keepalive``): live clients stay, dead ones go."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Iterator

import pytest

from signaling.keepalive import Keepalive
from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Connect, event, post_events

INTERVAL = 0.3


@pytest.fixture(scope="module")
def brisk() -> Iterator[RealtimeServer]:
    with RealtimeServer(f"--ping-interval={INTERVAL}") as srv:
        yield srv


class RawClient:
    """A websocket client that reads frames but never answers a ping (a hung peer)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, server: RealtimeServer, sprint: int, *,
                      rcvbuf: int | None = None) -> RawClient:
        sock = socket.socket()
        if rcvbuf is not None:  # a small window: the server has to queue big frames
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect(("127.0.0.1", server.port))
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        token = make_token(user_id=5, username="hung", sprint=sprint, secret=server.secret)
        writer.write(f"GET /{sprint}/?token={token}&protocol=2 HTTP/1.1\r\nHost: x\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head
        return cls(reader, writer)

    async def frame(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(size)

    def close(self) -> None:
        self.writer.close()


async def test_a_client_that_answers_pings_stays_connected_and_gets_events(
        brisk: RealtimeServer, connect: Connect, sprint: int) -> None:
    timeouts = brisk.metric('watercooler_closes_total{code="4010"}')
    ana = await connect(sprint, server=brisk)  # websockets answers pings by itself
    await asyncio.sleep(INTERVAL * 6)
    assert post_events(brisk, [event(sprint, 1)])[0] == 200
    assert (await ana.recv_type("event"))["seq"] == 1
    assert brisk.metric('watercooler_closes_total{code="4010"}') == timeouts


async def test_a_client_that_never_answers_is_pinged_then_closed_4010(
        brisk: RealtimeServer, connect: Connect, sprint: int) -> None:
    ana = await connect(sprint, server=brisk)
    hung = await RawClient.connect(brisk, sprint)
    joined = (await ana.joined())["joined"][0]["peer"]
    opcodes: list[int] = []
    async with asyncio.timeout(INTERVAL * 10):
        while True:
            opcode, payload = await hung.frame()
            opcodes.append(opcode)
            if opcode == 0x8:  # close
                break
    hung.close()
    assert 0x9 in opcodes  # it was pinged first
    assert struct.unpack("!H", payload[:2])[0] == 4010
    assert b"ping timed out" in payload
    assert await ana.left(joined) == joined
    assert brisk.metric('watercooler_closes_total{code="4010"}') >= 1


@pytest.fixture(scope="module")
def roomy() -> Iterator[RealtimeServer]:
    """Pings every second: room to queue 9 MB before the first one falls due."""
    with RealtimeServer("--ping-interval=1", "--max-buffer=33554432") as srv:
        yield srv


async def test_pings_go_behind_queued_frames(roomy: RealtimeServer, sprint: int) -> None:
    """A ping due while events are still queued for the client does not cut into them."""
    hung = await RawClient.connect(roomy, sprint, rcvbuf=4096)
    big = {"id": 7, "description": "z" * 900_000}
    for seq in range(1, 11):  # more than the kernel's socket buffers take
        assert post_events(roomy, [event(sprint, seq, data=big)])[0] == 200
    await asyncio.sleep(1.5)  # not reading: a ping falls due behind the events
    frames: list[tuple[int, bytes]] = []
    async with asyncio.timeout(20):
        while not frames or frames[-1][0] != 0x8:
            frames.append(await hung.frame())
    hung.close()
    texts = [json.loads(payload) for opcode, payload in frames if opcode == 0x1]
    assert [t["type"] for t in texts] == ["welcome"] + ["event"] * 10
    for text in texts[1:]:  # whole: a ping inside one would have broken the parse
        assert text["data"] == big
    assert 0x9 in [opcode for opcode, _ in frames]


class FakeConn:
    def __init__(self, *, answers: bool = True, open_: bool = True) -> None:
        self.ping_slot = -1
        self.awaiting_pong = False
        self.answers, self.open = answers, open_
        self.pings = 0
        self.timed_out = False

    def send_ping(self) -> bool:
        if not self.open:
            return False
        self.pings += 1
        return True

    def pong(self) -> None:
        if self.answers:
            self.awaiting_pong = False

    def ping_timed_out(self) -> None:
        self.timed_out = True


async def test_the_wheel_pings_each_connection_once_per_turn_and_cuts_the_silent() -> None:
    wheel = Keepalive(60.0, slots=4)
    live = [FakeConn() for _ in range(5)]
    silent, gone = FakeConn(answers=False), FakeConn(open_=False)
    for conn in (*live, silent, gone):
        wheel.add(conn)
    assert all(c.ping_slot >= 0 for c in (*live, silent, gone))
    for turn in range(1, 4):
        for _ in range(4):
            wheel.tick()
        for conn in live:
            assert conn.pings == turn and not conn.timed_out
            conn.pong()
        silent.pong()
    assert silent.pings == 1 and silent.timed_out  # cut on the visit after its ping
    assert gone.pings == 0 and not gone.timed_out  # closed: just taken off
    assert silent.ping_slot == gone.ping_slot == -1
    assert all(c.ping_slot >= 0 for c in live)
    wheel.discard(live[0])
    wheel.discard(live[0])  # twice is harmless
    for _ in range(4):
        wheel.tick()
    assert live[0].pings == 3 and live[1].pings == 4
    wheel.stop()


async def test_connections_added_over_a_turn_are_spread_over_its_ticks() -> None:
    wheel = Keepalive(60.0, slots=4)
    conns = []
    for _ in range(4):
        conn = FakeConn()
        wheel.add(conn)
        conns.append(conn)
        wheel.tick()
        conn.pong()
    pinged_per_tick = []
    for _ in range(4):
        before = sum(c.pings for c in conns)
        wheel.tick()
        pinged_per_tick.append(sum(c.pings for c in conns) - before)
        for conn in conns:
            conn.pong()
    assert pinged_per_tick == [1, 1, 1, 1]
    assert not any(c.timed_out for c in conns)
    wheel.stop()
