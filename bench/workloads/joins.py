"""Workload 9a (issue 16), one big sprint: the server CPU to join N subscribers to one sprint.

Every join is welcomed and announced to the peers already there, so the cost of a sprint
grows with the square of its size while presence is one frame per peer per receiver; the
targets are ≤ 0.5 s for 1,000 and ≤ 5 s for 5,000 (presence v2). The load generator is
workload 1's ``hold`` mode with one sprint of N; the figure is the server process's own CPU
from before the first handshake until the last welcome (and the announcements it caused).
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import fresh_sprint, log, measure
from bench.procs import LoadGen
from bench.profiles import Profile
from bench.subjects import BENCH_SECRET, start_subject
from bench.tables import DASH, fmt, table

__all__ = ["TARGETS", "run", "section"]

#: Issue 16's targets: subscribers -> server CPU seconds to join them all.
TARGETS = {1000: 0.5, 5000: 5.0}


def run(p: Profile) -> dict[str, Any]:
    return {"rows": [_one_sprint(p, n) for n in p.joins]}


def _one_sprint(p: Profile, n: int) -> dict[str, Any]:
    with start_subject("watercooler", log_dir=p.log_dir) as server:
        time.sleep(0.5)
        before = server.usage()
        gen = LoadGen("hold", {"port": server.port, "count": n, "offset": 0, "sprint_size": n,
                               "sprint_base": fresh_sprint(), "secret": BENCH_SECRET,
                               "concurrency": 50, "welcome": True})
        results, s = measure([server], [gen], timeout=900)
    at = s.marks["connected"][0][0]
    row = {"n": n, "connected": results[0]["connected"], "connect_s": results[0]["connect_s"],
           "server_cpu_s": at.cpu - before.cpu, "target_s": TARGETS.get(n)}
    log.info("joins: one sprint of %d: %.2f s server CPU", n, row["server_cpu_s"])
    return row


def section(data: dict[str, Any]) -> list[str]:
    w = data["workloads"].get("joins")
    if not w or "rows" not in w:
        return []
    rows = [[fmt(r["n"]), fmt(r["connected"]), f"{r['connect_s']:.2f}",
             f"{r['server_cpu_s']:.2f}",
             f"{r['target_s']:g}" if r["target_s"] else DASH,
             ("met" if r["server_cpu_s"] <= r["target_s"] else "**missed**")
             if r["target_s"] else DASH] for r in w["rows"]]
    return ["## 9a. One big sprint (issue 16)", "",
            "N subscribers join one sprint, 50 handshakes in flight; server CPU from before "
            "the first handshake until every welcome is read (the presence frames each join "
            "caused included).", "",
            *table(["N", "welcomed", "wall s", "server CPU s", "target s", "verdict"], rows)]
