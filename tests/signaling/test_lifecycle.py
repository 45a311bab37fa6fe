"""The process: command line, graceful shutdown on SIGTERM/SIGINT, metrics over a session."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.servers import ROOT, RealtimeServer, free_port
from tests.signaling.conftest import Connect


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_closes_every_socket_with_1001_and_exits_0(connect: Connect,
                                                                sig: int) -> None:
    srv = RealtimeServer().start()
    try:
        clients = [await connect(s, server=srv) for s in (1, 1, 2)]
        started = time.monotonic()
        code = await asyncio.to_thread(srv.stop, sig)
        elapsed = time.monotonic() - started
        assert [await c.closed() for c in clients] == [1001, 1001, 1001]
    finally:
        srv.stop(signal.SIGKILL)
    assert code == 0
    assert elapsed < 5


def test_port_option_takes_a_separate_value() -> None:
    """``python3 watercooler.py --port 8080`` as the seed and the Makefile write it."""
    port = free_port()
    srv = RealtimeServer(port=port)
    srv.args = [sys.executable, str(ROOT / "watercooler.py"), "--port", str(port),
                "--secret", srv.secret]
    srv.start()
    assert srv.stop() == 0


@pytest.mark.parametrize(("url", "message"), [
    ("redis://127.0.0.1:6379/notadb", "database 'notadb' is not a number"),
    ("kafka://127.0.0.1:9092", "unknown scheme 'kafka'"),
    ("redis+cluster://127.0.0.1:7000/3", "a cluster URL has no database"),
    ("redis+cluster://127.0.0.1:7000,127.0.0.1:x", "cluster node '127.0.0.1:x' is not"),
])
def test_a_bad_broker_url_fails_clearly(url: str, message: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "watercooler.py"), f"--port={free_port()}",
                           f"--broker={url}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=20)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_unknown_option_fails() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "watercooler.py"), "--no-such-option=1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert "no-such-option" in proc.stderr


async def test_metrics_follow_connections_and_data_channels(connect: Connect,
                                                            server: RealtimeServer,
                                                            sprint: int) -> None:
    base = server.metric("watercooler_connections")
    ana, ben = await connect(sprint), await connect(sprint)
    await ana.recv()
    assert server.metric("watercooler_connections") == base + 2
    await ana.send({"type": "channels", "peers": [ben.peer]})
    await ben.send({"type": "channels", "peers": [ana.peer]})
    await ana.send("oops")
    await ana.recv()
    metrics = server.metrics()
    assert metrics["watercooler_datachannel_pairs"] == 1
    assert metrics['watercooler_errors_total{code="bad_json"}'] >= 1
    assert metrics['watercooler_frames_in_total{type="channels"}'] >= 2
    assert metrics["watercooler_frames_out_total"] >= 4
    assert metrics["watercooler_sprints"] >= 1
    await ana.close()
    async with asyncio.timeout(5):
        while server.metric("watercooler_datachannel_pairs") != 0:
            await asyncio.sleep(0.05)
    assert server.metrics()['watercooler_closes_total{code="1000"}'] >= 1
    assert server.metric("watercooler_connections") == base + 1


async def test_json_logs_carry_the_sprint_and_peer_of_each_connection(connect: Connect) -> None:
    """``--log-format=json``: one JSON object per line; a connection's lines name it."""
    srv = RealtimeServer("--log-format=json")
    offset = srv.log_path.stat().st_size if srv.log_path.exists() else 0  # appended to
    srv.start()
    try:
        client = await connect(7, server=srv)
        await client.close()
        await asyncio.sleep(0.3)
    finally:
        srv.stop()
    with srv.log_path.open() as log:
        log.seek(offset)
        lines = [line for line in log.read().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "message"} <= r.keys() for r in records)
    mine = [r for r in records if r.get("peer") == client.peer]
    assert mine and all(r["sprint"] == 7 for r in mine)
    assert any("connected as" in r["message"] for r in mine)
    assert any("closed" in r["message"] for r in mine)


@pytest.mark.parametrize("env", [{}, {"LOG_FORMAT": "xml"}], ids=["flag", "env"])
def test_an_unknown_log_format_fails_clearly(env: dict[str, str]) -> None:
    args = [] if env else ["--log-format=xml"]
    proc = subprocess.run([sys.executable, str(ROOT / "watercooler.py"), f"--port={free_port()}",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=20,
                          env={**os.environ, **env})
    assert proc.returncode == 2
    assert "--log-format must be text or json, not 'xml'" in proc.stderr
