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
import time

from bench.loadgen import connect_many
from bench.wire import WsClient
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
    wall = last - start
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
    args = parser.parse_args()
    for size in args.sizes:
        server = RealtimeServer("--max-connections-per-address=100000",
                                broker=args.broker).start()
        try:
            assert server.proc is not None
            result = asyncio.run(measure(server.port, server.proc.pid, size, server.secret))
        finally:
            server.stop()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
