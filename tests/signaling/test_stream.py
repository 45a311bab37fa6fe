"""``GET /<sprint>/stream``: Server-Sent Events from a real server to a plain HTTP client."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import DJANGO_ORIGIN, RealtimeServer, make_token
from tests.signaling.conftest import Connect, event, event_frame, post_events
from tests.sse_client import open_stream


@pytest.fixture(scope="module")
def stream_server() -> Iterator[RealtimeServer]:
    with RealtimeServer("--sse-heartbeat=0.3", "--history-size=5",
                        "--max-connections-per-user=2") as srv:
        yield srv


def _token(sprint: int, user: int = 1, **kwargs: object) -> str:
    return make_token(user_id=user, username=f"user{user}", sprint=sprint, **kwargs)


async def _post(server: RealtimeServer, sprint: int, seqs: range) -> None:
    status, _ = await asyncio.to_thread(post_events, server, [event(sprint, s) for s in seqs])
    assert status == 200


async def test_events_arrive_in_order_with_their_seq_as_id(
        stream_server: RealtimeServer, sprint: int) -> None:
    async with open_stream(stream_server.http_url, sprint, _token(sprint)) as stream:
        response = stream.response
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["x-accel-buffering"] == "no"
        assert await stream.next_of("presence") == {"type": "presence", "peers": [], "count": 0}
        await _post(stream_server, sprint, range(1, 4))
        got = [await stream.next() for _ in range(3)]
    assert [(m.event, m.id) for m in got] == [("event", "1"), ("event", "2"), ("event", "3")]
    assert [json.loads(m.data) for m in got] == [event_frame(event(sprint, s))
                                                 for s in (1, 2, 3)]


async def test_presence_shows_websocket_peers_and_relays_stay_off_the_stream(
        server: RealtimeServer, connect: Connect, sprint: int) -> None:
    ana = await connect(sprint)
    async with open_stream(server.http_url, sprint, _token(sprint, 90)) as stream:
        snapshot = await stream.next_of("presence")
        assert [p["peer"] for p in snapshot["peers"]] == [ana.peer]
        assert snapshot["count"] == 1
        ben = await connect(sprint)
        assert await stream.next_of("presence") == {
            "type": "presence", "joined": [{"peer": ben.peer, "user": ben.welcome["user"]}],
            "left": [], "count": 2}
        await ana.send({"type": "relay", "data": {"type": "hello"}})
        assert (await ben.recv_type("relay"))["from"] == ana.peer
        await ana.close()
        assert await stream.next_of("presence") == {
            "type": "presence", "joined": [], "left": [ana.peer], "count": 1}
        await _post(server, sprint, range(1, 2))
        assert (await stream.next()).event == "event"  # nothing in between: no relay
    # the stream itself is nobody's peer
    assert (await ben.recv_type("event"))["seq"] == 1
    await ben.silent(0.3)


async def test_a_reconnect_with_last_event_id_gets_exactly_the_missed_events(
        stream_server: RealtimeServer, sprint: int) -> None:
    async with open_stream(stream_server.http_url, sprint, _token(sprint)) as stream:
        await _post(stream_server, sprint, range(1, 3))
        last = (await stream.next_of("presence"), (await stream.next()).id,
                (await stream.next()).id)[-1]
    assert last == "2"
    await _post(stream_server, sprint, range(3, 6))  # missed while away
    async with open_stream(stream_server.http_url, sprint, _token(sprint),
                           headers={"Last-Event-ID": last}, since=0) as stream:
        await stream.next_of("presence")
        missed = [await stream.next() for _ in range(3)]
        await _post(stream_server, sprint, range(6, 7))
        live = await stream.next()
    assert [m.id for m in missed] == ["3", "4", "5"]  # the header wins over ?since
    assert live.id == "6"


async def test_a_resume_past_the_history_gets_resync(stream_server: RealtimeServer,
                                                    sprint: int) -> None:
    await _post(stream_server, sprint, range(1, 9))  # history 5: keeps 4..8
    async with open_stream(stream_server.http_url, sprint, _token(sprint), since=1) as stream:
        await stream.next_of("presence")
        message = await stream.next()
    assert (message.event, json.loads(message.data)) == ("resync",
                                                        {"type": "resync", "latest": 8})


async def test_idle_streams_get_a_heartbeat_comment(stream_server: RealtimeServer,
                                                   sprint: int) -> None:
    async with open_stream(stream_server.http_url, sprint, _token(sprint)) as stream:
        await stream.next_of("presence")
        async with asyncio.timeout(5):
            while b": heartbeat\n\n" not in stream.raw:
                with pytest.raises(TimeoutError):
                    await stream.next(timeout=0.2)


@pytest.mark.parametrize(("token", "status", "error"), [
    (None, 401, "token_missing"),
    ("not-a-ticket", 401, "token_invalid"),
    (_token(1, ttl=-60), 401, "token_expired"),
    (_token(1, secret="another-secret-that-is-long-enough-for-hs256"), 401, "token_invalid"),
    (_token(2), 403, "wrong_sprint"),
])
async def test_a_bad_ticket_is_refused_with_a_body_that_says_why(
        stream_server: RealtimeServer, token: str | None, status: int, error: str) -> None:
    async with open_stream(stream_server.http_url, 1, token) as stream:
        response = stream.response
        body = json.loads(await response.aread())
    assert (response.status_code, body["error"]) == (status, error)
    assert body["message"]


async def test_a_bad_since_is_refused(stream_server: RealtimeServer) -> None:
    async with open_stream(stream_server.http_url, 1, _token(1),
                           headers={"Last-Event-ID": "x"}) as stream:
        assert stream.response.status_code == 400
        assert json.loads(await stream.response.aread())["error"] == "bad_since"


async def test_origins_are_checked_and_allowed_ones_get_cors(
        stream_server: RealtimeServer, sprint: int) -> None:
    async with open_stream(stream_server.http_url, sprint, _token(sprint),
                           headers={"Origin": "https://evil.example"}) as stream:
        assert stream.response.status_code == 403
        assert json.loads(await stream.response.aread())["error"] == "origin_refused"
    async with open_stream(stream_server.http_url, sprint, _token(sprint),
                           headers={"Origin": DJANGO_ORIGIN}) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["access-control-allow-origin"] == DJANGO_ORIGIN


async def test_connections_per_user_count_streams_and_free_on_close(
        stream_server: RealtimeServer, sprint: int) -> None:
    base, token = stream_server.http_url, _token(sprint, user=77)
    async with open_stream(base, sprint, token) as one, open_stream(base, sprint, token) as two:
        await one.next_of("presence")
        await two.next_of("presence")
        assert stream_server.metric('watercooler_transport_connections{transport="sse"}') >= 2
        async with open_stream(base, sprint, token) as three:
            assert three.response.status_code == 429
            body = json.loads(await three.response.aread())
            assert body["error"] == "connections_per_user"
    for _ in range(100):  # the server sees the client go on its next write or read
        async with open_stream(base, sprint, token) as again:
            if again.response.status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the closed streams' slots were not given back")


@pytest.fixture
def tight_buffer() -> Iterator[RealtimeServer]:
    with RealtimeServer("--max-buffer=65536", "--history-size=100") as srv:
        yield srv


async def test_a_slow_stream_is_cut_and_the_others_keep_up(tight_buffer: RealtimeServer,
                                                          sprint: int) -> None:
    sleeper = socket.create_connection(("127.0.0.1", tight_buffer.port))
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sleeper.sendall(f"GET /{sprint}/stream?token={_token(sprint, 5)} HTTP/1.1\r\n"
                    f"Host: x\r\n\r\n".encode())
    payload = {"id": 7, "description": "y" * 4000}
    try:
        async with open_stream(tight_buffer.http_url, sprint, _token(sprint, 6)) as reader:
            await reader.next_of("presence")
            seq = 0
            async with asyncio.timeout(30):
                while tight_buffer.metric(
                        'watercooler_dropped_total{reason="slow_consumer"}') < 1:
                    batch = [event(sprint, seq + n, data=payload) for n in range(1, 101)]
                    status, _ = await asyncio.to_thread(post_events, tight_buffer, batch)
                    assert status == 200
                    for n in range(1, 101):  # the reading client gets everything
                        assert (await reader.next()).id == str(seq + n)
                    seq += 100
            # the sleeper's stream is gone from the server (reading what the kernel still
            # holds for it through a 4 KiB window would take minutes)
            assert tight_buffer.metric('watercooler_transport_connections{transport="sse"}') == 1
    finally:
        sleeper.close()


async def test_shutdown_ends_every_stream_with_a_close_event(sprint: int) -> None:
    with RealtimeServer() as srv:
        async with open_stream(srv.http_url, sprint, _token(sprint)) as stream:
            await stream.next_of("presence")
            srv.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            rest = await stream.ended()
        assert srv.stop() == 0
    assert [(m.event, json.loads(m.data)) for m in rest] == [
        ("close", {"type": "close", "code": 1001, "reason": "server shutting down"})]


async def test_debug_mode_streams_without_a_ticket(sprint: int) -> None:
    with RealtimeServer(debug=True) as srv:
        async with open_stream(srv.http_url, sprint, None) as stream:
            assert stream.response.status_code == 200
            await stream.next_of("presence")
            async with httpx.AsyncClient() as http:
                refused = await http.get(f"{srv.http_url}/{sprint}/stream?token=x")
    assert refused.status_code == 401


async def test_live_events_during_a_long_replay_wait_for_it(sprint: int) -> None:
    """A replay paced by a slow reader: events posted meanwhile come after it, none lost."""
    # 8 MB of replay: more than the kernel's buffers take, so the server must wait for
    # the reader (past --max-buffer unsent it would cut the stream instead).
    with RealtimeServer("--history-size=1000") as srv:
        big = {"id": 7, "description": "z" * 8000}
        for first in range(1, 1001, 100):
            status, _ = await asyncio.to_thread(
                post_events, srv, [event(sprint, s, data=big) for s in range(first, first + 100)])
            assert status == 200
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        reader.connect(("127.0.0.1", srv.port))
        reader.sendall(f"GET /{sprint}/stream?token={_token(sprint)}&since=0 HTTP/1.1\r\n"
                       f"Host: x\r\n\r\n".encode())
        try:
            await asyncio.sleep(1)  # not reading: the server paces the replay
            status, _ = await asyncio.to_thread(
                post_events, srv, [event(sprint, s) for s in range(1001, 1006)])
            assert status == 200
            reader.settimeout(10)
            wire = b""
            while b"id: 1005\n" not in wire:
                chunk = await asyncio.to_thread(reader.recv, 1 << 20)
                assert chunk, "the stream ended"
                wire += chunk
        finally:
            reader.close()
    ids = [int(line[4:]) for line in wire.split(b"\n") if line.startswith(b"id: ")]
    assert ids == list(range(1, 1006))


async def test_a_preflight_from_an_allowed_origin_may_send_last_event_id(
        stream_server: RealtimeServer) -> None:
    async with httpx.AsyncClient() as http:
        ok = await http.options(f"{stream_server.http_url}/1/stream", headers={
            "Origin": DJANGO_ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id"})
        refused = await http.options(f"{stream_server.http_url}/1/stream", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == DJANGO_ORIGIN
    assert "Last-Event-ID" in ok.headers["access-control-allow-headers"]
    assert (refused.status_code, refused.json()["error"]) == (403, "origin_refused")
