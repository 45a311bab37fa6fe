"""Connection limits (per address, per user: close 4029), proxy addresses, HTTP timeouts.

docs/protocol.md §5 and docs/operations.md: one client may not hold a node's connections,
a closed connection gives its slot back at once, the address behind a proxy is read from
X-Forwarded-For only when the node is told how many proxies to trust, and an HTTP client
that never finishes its request is cut after ``--http-timeout``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.servers import RealtimeServer, make_token
from tests.signaling.conftest import Client, Connect

TOO_MANY = 4029


async def _refused(connect: Connect, sprint: int, **kwargs: object) -> int | None:
    client = await connect(sprint, welcome=False, **kwargs)  # type: ignore[arg-type]
    return await client.closed()


async def test_one_reused_ticket_holds_50_connections_and_no_more(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    token = make_token(user_id=424242, username="greedy", sprint=sprint, secret=server.secret)
    held = [await connect(sprint, token=token) for _ in range(50)]
    closes = server.metric('watercooler_closes_total{code="4029"}')
    assert await _refused(connect, sprint, token=token) == TOO_MANY
    assert server.metric('watercooler_closes_total{code="4029"}') == closes + 1
    assert server.metric('watercooler_dropped_total{reason="connections_per_user"}') >= 1
    assert (await connect(sprint)).welcome["type"] == "welcome"  # other users still get in
    await held.pop().close()
    assert (await connect(sprint, token=token)).welcome["type"] == "welcome"


@pytest.fixture(scope="module")
def tight() -> Iterator[RealtimeServer]:
    with RealtimeServer("--max-connections-per-address=4", "--max-connections-per-user=3",
                        "--http-timeout=1") as srv:
        yield srv


async def test_connections_per_address_are_capped(connect: Connect, sprint: int,
                                                  tight: RealtimeServer) -> None:
    held = [await connect(sprint, server=tight) for _ in range(4)]  # four users
    # A forged X-Forwarded-For changes nothing: the node trusts no proxy by default.
    assert await _refused(connect, sprint, server=tight,
                          additional_headers={"X-Forwarded-For": "203.0.113.9"}) == TOO_MANY
    await held.pop().close()
    await connect(sprint, server=tight)


async def test_a_users_slot_is_free_again_the_moment_a_connection_closes(
        connect: Connect, sprint: int, tight: RealtimeServer) -> None:
    """Reconnect churn never locks a user out, and never lets one past the limit."""
    token = make_token(user_id=77, username="churn", sprint=sprint, secret=tight.secret)
    held = [await connect(sprint, token=token, server=tight) for _ in range(3)]
    for _ in range(15):
        await held.pop(0).close()
        held.append(await connect(sprint, token=token, server=tight))
    assert await _refused(connect, sprint, token=token, server=tight) == TOO_MANY
    for client in held:
        await client.close()
    held = [await connect(sprint, token=token, server=tight) for _ in range(3)]


@pytest.fixture(scope="module")
def proxied() -> Iterator[RealtimeServer]:
    with RealtimeServer("--max-connections-per-address=2", "--num-proxies=1") as srv:
        yield srv


async def _via(connect: Connect, sprint: int, server: RealtimeServer, forwarded: str
               ) -> Client:
    return await connect(sprint, server=server, welcome=False,
                         additional_headers={"X-Forwarded-For": forwarded})


async def test_behind_a_proxy_each_client_address_has_its_own_slots(
        connect: Connect, sprint: int, proxied: RealtimeServer) -> None:
    for address in ("203.0.113.1", "203.0.113.2"):
        for _ in range(2):
            client = await _via(connect, sprint, proxied, address)
            assert (await client.recv())["type"] == "welcome"
    # What the client put in front of the proxy's entry is not trusted.
    forged = await _via(connect, sprint, proxied, "198.51.100.7, 203.0.113.1")
    assert await forged.closed() == TOO_MANY
    # One IPv6 client is one /64.
    for address, welcome in (("2001:db8:1:2::1", True), ("2001:db8:1:2::2", True),
                             ("2001:db8:1:2:ffff::3", False)):
        client = await _via(connect, sprint, proxied, address)
        if welcome:
            assert (await client.recv())["type"] == "welcome"
        else:
            assert await client.closed() == TOO_MANY
    assert "connected as" in proxied.log_path.read_text()
    assert "(203.0.113.2)" in proxied.log_path.read_text()


async def _cut_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reading whatever it says)."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    try:
        async with asyncio.timeout(seconds):
            while await loop.sock_recv(sock, 4096):
                pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@pytest.mark.parametrize("request_start", [
    b"GET /1/ HTTP/1.1\r\nHost: x\r\nUpgrade: websock",  # headers never finished
    b"POST /events/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"events\"",  # body
    b"",  # connected, said nothing
])
async def test_a_request_that_never_completes_is_cut(tight: RealtimeServer,
                                                    request_start: bytes) -> None:
    with socket.create_connection(("127.0.0.1", tight.port)) as sock:
        sock.sendall(request_start)
        assert await _cut_within(sock, 15)


async def test_by_default_unfinished_headers_are_cut_within_seconds_not_an_hour(
        server: RealtimeServer) -> None:
    """The documented default (10 s), where Tornado's own would hold the socket an hour."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /1/ HTTP/1.1\r\nHost: x\r\n")
        assert await _cut_within(sock, 30)
