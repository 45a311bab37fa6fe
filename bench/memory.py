"""Where an idle connection's memory goes: ``python -m bench.memory [N]`` prints JSON.

Runs a Watercooler application in this process under ``tracemalloc``, has a ``hold`` load
generator open N connections (10 per sprint), and attributes the Python heap that grew
to the package that allocated it (Tornado, asyncio, signaling, ...) and to the top lines.
The report quotes it where the memory target is missed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tracemalloc
from typing import Any

__all__ = ["heap_per_connection"]


def _group(filename: str) -> str:
    for key in ("signaling", "tornado", "asyncio", "prometheus_client", "jwt"):
        if f"/{key}/" in filename:
            return key
    return "other"


async def heap_per_connection(n: int = 1000) -> dict[str, Any]:
    import tornado.httpserver

    from bench.procs import ROOT, free_port
    from bench.subjects import BENCH_SECRET
    from signaling.app import ScrumApplication
    from signaling.config import Config

    port = free_port()
    app = ScrumApplication(Config(port=port, secret=BENCH_SECRET))
    await app.node.broker.start()
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")
    gc.collect()
    before = tracemalloc.take_snapshot()
    spec = {"port": port, "count": n, "sprint_size": 10, "secret": BENCH_SECRET,
            "concurrency": 50}
    gen = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", "hold", json.dumps(spec), cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert gen.stdout is not None and gen.stdin is not None
    while not (await gen.stdout.readline()).startswith(b"MARK connected"):
        pass
    await asyncio.sleep(1.0)
    gc.collect()
    after = tracemalloc.take_snapshot()
    held = len(app.node.peers)
    gen.stdin.write(b"OK\nOK\n")
    await gen.stdin.drain()
    await gen.wait()
    stats = after.compare_to(before, "lineno")
    groups: dict[str, int] = {}
    for stat in stats:
        key = _group(stat.traceback[0].filename)
        groups[key] = groups.get(key, 0) + stat.size_diff
    per = 1024 * max(held, 1)
    top = [(f"{'/'.join(s.traceback[0].filename.split('/')[-2:])}:{s.traceback[0].lineno}",
            round(s.size_diff / per, 2)) for s in stats[:10]]
    server.stop()
    return {"connections": held, "heap_kib_per_conn": round(sum(groups.values()) / per, 2),
            "by_package_kib": {k: round(v / per, 2) for k, v in
                               sorted(groups.items(), key=lambda kv: -kv[1])},
            "top_lines_kib": top}


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    tracemalloc.start(1)
    print(json.dumps(asyncio.run(heap_per_connection(n))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
