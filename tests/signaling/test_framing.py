"""Pre-framed writes (``signaling.framing``): exact frames on the wire, backpressure intact."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator

import pytest

from signaling.framing import text_frame
from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Connect, event, event_frame, post_events


@pytest.mark.parametrize(("size", "header"), [
    (0, b"\x81\x00"),
    (125, b"\x81\x7d"),
    (126, b"\x81\x7e\x00\x7e"),
    (65535, b"\x81\x7e\xff\xff"),
    (65536, b"\x81\x7f" + struct.pack("!Q", 65536)),
])
def test_text_frame_is_fin_text_unmasked_with_the_shortest_length(size: int,
                                                                  header: bytes) -> None:
    payload = b"x" * size
    assert text_frame(payload) == header + payload


@pytest.mark.parametrize("size", [10, 300, 70_000], ids=["short", "16-bit", "64-bit"])
async def test_every_subscriber_decodes_the_same_event(connect: Connect, sprint: int,
                                                       server: RealtimeServer,
                                                       size: int) -> None:
    clients = [await connect(sprint) for _ in range(3)]
    ev = event(sprint, 1, data={"id": 7, "description": "é" * (size // 2)})
    assert post_events(server, [ev])[0] == 200
    for client in clients:  # websockets validates every frame header it reads
        assert await client.recv_type("event") == event_frame(ev)


async def test_relay_to_named_peers_decodes(connect: Connect, sprint: int) -> None:
    ana, ben, cy = [await connect(sprint) for _ in range(3)]
    data = {"type": "drag", "seq": 1, "task": 7, "phase": "start", "blob": "z" * 200}
    await ana.send({"type": "relay", "to": [ben.peer, cy.peer], "data": data})
    for client in (ben, cy):
        assert await client.recv_type("relay") == {"type": "relay", "from": ana.peer,
                                                   "data": data}


async def test_frames_out_counts_each_frame_once(connect: Connect, sprint: int,
                                                 server: RealtimeServer) -> None:
    before = server.metric("watercooler_frames_out_total")
    ana = await connect(sprint)
    ben = await connect(sprint)
    await ana.joined()
    assert post_events(server, [event(sprint, n) for n in (1, 2, 3)])[0] == 200
    for client in (ana, ben):
        for n in (1, 2, 3):
            assert (await client.recv_type("event"))["seq"] == n
    # two welcomes, one presence frame, three events to two subscribers
    assert server.metric("watercooler_frames_out_total") - before == 2 + 1 + 6


@pytest.fixture(scope="module")
def tight() -> Iterator[RealtimeServer]:
    with RealtimeServer("--max-buffer=262144", "--history-size=100") as srv:
        yield srv


async def test_large_frames_to_a_stalled_client_close_4009_and_stay_intact_for_others(
        tight: RealtimeServer, connect: Connect, sprint: int) -> None:
    """Frames bigger than a socket takes at once: the rest is queued, counted, in order."""
    reader = await connect(sprint, server=tight)
    sleeper = await connect(sprint, server=tight, max_queue=1)
    await reader.joined()
    payload = {"id": 7, "description": "y" * 70_000}
    seq = 0
    async with asyncio.timeout(30):
        while tight.metric('watercooler_closes_total{code="4009"}') < 1:
            seq += 1
            status, _ = await asyncio.to_thread(post_events, tight,
                                                [event(sprint, seq, data=payload)])
            assert status == 200
            frame = await reader.recv_type("event")
            assert frame["seq"] == seq and frame["data"] == payload
    assert await sleeper.closed() == 4009
    assert await reader.left(sleeper.peer) == sleeper.peer


async def test_a_vanished_client_costs_nothing_but_its_frames(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    """A subscriber whose socket is gone (reset) is skipped; no error, the others get it all."""
    reader = await connect(sprint)
    token = make_token(user_id=99, username="gone", sprint=sprint, secret=server.secret)
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall(f"GET /{sprint}/?token={token}&protocol=2 HTTP/1.1\r\nHost: x\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    assert b" 101 " in raw.recv(4096)
    await reader.joined()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()  # RST: the server finds out when it next reads or writes
    for seq in range(1, 21):
        assert post_events(server, [event(sprint, seq)])[0] == 200
    for seq in range(1, 21):
        assert (await reader.recv_type("event"))["seq"] == seq
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log


async def test_a_client_closing_while_frames_are_queued_is_not_an_error(
        tight: RealtimeServer, connect: Connect, sprint: int) -> None:
    reader = await connect(sprint, server=tight)
    leaver = await connect(sprint, server=tight, max_queue=1)
    await reader.joined()
    payload = {"id": 7, "description": "q" * 60_000}
    for seq in range(1, 4):  # more than the leaver's socket buffers hold
        assert (await asyncio.to_thread(post_events, tight,
                                        [event(sprint, seq, data=payload)]))[0] == 200
    leaver.ws.transport.abort()
    for seq in range(4, 7):
        assert (await asyncio.to_thread(post_events, tight,
                                        [event(sprint, seq, data=payload)]))[0] == 200
    got = [await reader.recv() for _ in range(7)]  # six events and the leaver's presence
    assert [f["seq"] for f in got if f["type"] == "event"] == [1, 2, 3, 4, 5, 6]
    assert [f["left"] for f in got if f["type"] == "presence"] == [[leaver.peer]]
    log = tight.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log
