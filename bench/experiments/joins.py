"""Quick measurement: server CPU to join S subscribers to one sprint (issue 16, presence).

``python -m bench.experiments.joins 1000 5000 [--broker redis://…]``: for each S, a fresh
``watercooler.py`` (memory broker unless ``--broker``), S websockets to one sprint (50
handshakes in flight, each with its own user's ticket), then wait until no frame has arrived
for a second. Prints the server's own CPU (utime + stime from /proc) from before the first
connect until quiet, minus the quiet second itself, and the frames the clients received.
The committed workload is the bench's; this is the before/after check of the presence work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path

from bench.loadgen import connect_many
from bench.profiling import Profiler
from bench.wire import WsClient
from tests.processes import ChildProcess, free_port
from tests.servers import RealtimeServer, make_token

QUIET = 1.0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, pid: int, subscribers: int, secret: str) -> dict[str, float]:
    frames = 0
    last = time.monotonic()

    def on_message(client: WsClient, payload: bytes) -> None:
        nonlocal frames, last
        frames += 1
        last = time.monotonic()

    tokens = [make_token(user_id=i + 1, username=f"u{i + 1}", sprint=1, secret=secret,
                         ttl=7200) for i in range(subscribers)]
    before = cpu_seconds(pid)
    start = time.monotonic()
    clients, connect_s, failed = await connect_many(
        {"port": port}, subscribers, lambda i: f"/1/?token={tokens[i]}&protocol=2",
        on_message, concurrency=50)
    while time.monotonic() - last < QUIET:
        await asyncio.sleep(0.1)
    wall = (last if frames else time.monotonic() - QUIET) - start
    cpu = cpu_seconds(pid) - before
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    return {"subscribers": subscribers, "server_cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "connect_s": round(connect_s, 2), "frames": frames, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--broker", default=None)
    parser.add_argument("--profile", action="store_true", help="py-spy the server meanwhile")
    parser.add_argument("--naive", action="store_true",
                        help="the bare Tornado loop (bench/peers/naive_tornado.py) instead: "
                             "the floor of a connect on this machine now, no presence")
    parser.add_argument("--root", default=None,
                        help="run DIR/watercooler.py instead (e.g. an export of an older commit)")
    args = parser.parse_args()
    for size in args.sizes:
        server = RealtimeServer("--max-connections-per-address=100000",
                                "--max-connections-per-user=100000",
                                f"--redis-prefix=joins-{os.getpid()}:", broker=args.broker)
        if args.root:
            server.args[1] = str(Path(args.root) / "watercooler.py")
        if args.naive:
            server = _naive()
        server.start()
        profiler = None
        try:
            assert server.proc is not None
            if args.profile:
                profiler = Profiler(server.proc.pid, Path(f"/tmp/joins-{size}.raw"))
                profiler.start()
            result: dict[str, object] = dict(asyncio.run(
                measure(server.port, server.proc.pid, size, server.secret)))
            if profiler is not None:
                result["profile"] = profiler.stop()
        finally:
            server.stop()
        print(json.dumps(result, indent=1 if args.profile else None), flush=True)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _naive() -> RealtimeServer:
    """The bare loop, started and stopped like a realtime server (it ignores tokens)."""
    port = free_port()
    server = RealtimeServer(port=port)
    server.args = [sys.executable, "-m", "bench.peers.naive_tornado", f"--port={port}"]

    def start(timeout: float = 15) -> RealtimeServer:
        server._child = ChildProcess("naive_tornado", server.args, log_path=server.log_path,
                                     env=server.env)
        server.proc = server._child.start().proc
        server._child.wait_ready(lambda: _listening(port), timeout=timeout, what="listening")
        return server

    server.start = start  # type: ignore[method-assign]
    return server


if __name__ == "__main__":
    main()
