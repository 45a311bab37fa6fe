"""At its file-descriptor limit a node pauses accepting instead of spinning, and recovers.

The server runs under ``prlimit`` with a low RLIMIT_NOFILE; clients fill it up. What a user
would notice is checked: the connections it has keep working, the node does not burn a core
(its own CPU time from /proc, against a generous bound), its log does not fill up, and it
accepts again once connections close.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from tests.servers import RealtimeServer, make_token

LIMIT = 64


def _limited(soft: int, hard: int, *args: str) -> RealtimeServer:
    server = RealtimeServer(*args)
    server.args = ["prlimit", f"--nofile={soft}:{hard}", *server.args]
    return server


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def _join(server: RealtimeServer, sprint: int, user: int) -> ClientConnection:
    """A websocket whose welcome has arrived; TimeoutError if the node does not answer."""
    token = make_token(user_id=user, username=f"u{user}", sprint=sprint, secret=server.secret)
    ws = await ws_connect(server.ws_url(sprint, token), open_timeout=3, close_timeout=1)
    welcome = await asyncio.wait_for(ws.recv(), 5)
    assert '"type":"welcome"' in str(welcome)
    return ws


async def test_out_of_descriptors_the_node_pauses_accepting_and_recovers(sprint: int) -> None:
    with _limited(LIMIT, LIMIT) as server:
        assert server.proc is not None
        pid = server.proc.pid
        held: list[ClientConnection] = []
        pending: socket.socket | None = None
        try:
            for n in range(LIMIT):  # more than fit: some descriptors are the node's own
                try:
                    held.append(await _join(server, sprint if n < 2 else sprint + n, n + 1))
                except TimeoutError:
                    break
            else:
                raise AssertionError(f"{LIMIT} connections fit under a limit of {LIMIT} fds")
            assert len(held) > LIMIT // 2
            # One more waits in the backlog: the listener stays readable the whole time.
            pending = socket.create_connection(("127.0.0.1", server.port))
            cpu, wall = _cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(3)
            used = (_cpu_seconds(pid) - cpu) / (time.monotonic() - wall)
            assert used < 0.25, f"the node used {used:.0%} of a core while at its fd limit"

            await held[0].send('{"type": "relay", "data": {"still": "here"}}')
            relayed = await asyncio.wait_for(held[1].recv(), 5)
            assert '"still":"here"' in str(relayed)

            for ws in held[-6:]:
                await ws.close()
            del held[-6:]
            held.append(await _join(server, sprint + 1000, 999))  # accepting again

            log = server.log_path.read_text(errors="replace")
            assert log.count("Too many open files") <= 3
            assert "Traceback" not in log
            assert server.metric("watercooler_accept_paused_total") >= 1
            assert server.metric("process_max_fds") == LIMIT
        finally:
            if pending is not None:
                pending.close()
            for ws in held:
                with contextlib.suppress(Exception):
                    await ws.close()


async def test_the_soft_descriptor_limit_is_raised_to_the_hard_one_at_start() -> None:
    with _limited(100, 300) as server:
        assert server.proc is not None
        limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
        line = next(s for s in limits.splitlines() if s.startswith("Max open files"))
        assert line.split()[3:5] == ["300", "300"]
        assert server.metric("process_max_fds") == 300
        assert "open files limit 300 (hard 300)" in server.log_path.read_text()
