"""Workload 9c (issue 16), a reconnect storm: N connections over N/100 sprints on one node
(Redis broker), the node killed with SIGKILL and restarted at once.

Measured: the time from the kill until 99 % (and 100 %) of the clients are live again and
re-subscribed (their welcome read), the restarted node's CPU until then, the handshakes it
shed (503 + Retry-After), and the authoritative events lost (must be 0): events are posted
throughout, retried while the node is down as Django's outbox does, and every client must
end with every event exactly once in effect (``bench.swarm``). The clients are
``bench.swarm``'s, in load generator processes of at most ``PER_LOADGEN`` connections each,
from source addresses spread over 127.0.0.0/8 (ephemeral ports). Each load generator posts
the events of its own sprints.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from bench.harness import fresh_sprint, log, measure, metric
from bench.loadgen import mark
from bench.procs import LoadGen
from bench.profiles import Profile
from bench.subjects import BENCH_SECRET, start_subject
from bench.swarm import EventPoster, Swarm
from bench.tables import DASH, fmt, table

__all__ = ["generate", "run", "section"]

PER_LOADGEN = 5000
PER_SPRINT = 100
REDIS = "redis://127.0.0.1:6379/9"
#: Events per second each load generator posts during the storm.
RATE = 50.0


def run(p: Profile) -> dict[str, Any]:
    return {"rows": [_storm(p, n) for n in p.storm]}


def _storm(p: Profile, n: int) -> dict[str, Any]:
    prefix = f"bench-storm-{fresh_sprint()}:"
    server = start_subject("watercooler", broker=REDIS, log_dir=p.log_dir,
                           extra=(f"--redis-prefix={prefix}", "--presence-ttl=5"))
    procs = max(1, -(-n // PER_LOADGEN))
    sprints = n // PER_SPRINT
    base = fresh_sprint()
    gens = []
    for i in range(procs):
        mine = list(range(base + i * sprints // procs, base + (i + 1) * sprints // procs))
        hosts = [f"127.0.{i + 1}.{h}" for h in range(2, 10)]
        gens.append(LoadGen("storm", {"port": server.port, "secret": BENCH_SECRET,
                                      "sprints": mine, "per_sprint": PER_SPRINT,
                                      "hosts": hosts, "first_user": 1 + i * PER_LOADGEN}))
    times: dict[str, float] = {}

    def on_mark(name: str) -> None:
        if name == "kill":
            times["kill"] = time.time()
            server.stop(signal.SIGKILL)
            server.start()
            times["up"] = time.time()
        elif name == "recovered":
            times["cpu"] = server.usage().cpu
            times["shed"] = _metric(server, "watercooler_joins_shed_total")

    try:
        results, _ = measure([server], gens, timeout=900, on_mark=on_mark)
    finally:
        server.stop()
    back = sorted(t - times["kill"] for r in results for t in r["live_again"])
    row = {"n": n, "sprints": sprints, "restart_s": times["up"] - times["kill"],
           "p99_s": back[max(0, int(0.99 * len(back)) - 1)] if back else None,
           "all_s": back[-1] if len(back) == n else None, "back": len(back),
           "server_cpu_s": times.get("cpu"), "shed": times.get("shed"),
           "events": sum(r["events"] for r in results),
           "lost": sum(r["incomplete"] for r in results),
           "duplicates": sum(r["duplicates"] for r in results),
           "resyncs": sum(r["resyncs"] for r in results)}
    log.info("storm N=%d: 99%% back in %.1f s, %s lost", n, row["p99_s"] or -1, row["lost"])
    return row


def _metric(server: Any, name: str) -> float:
    try:
        return metric(server, name)
    except OSError:
        return float("nan")


# --- load generator (mode ``storm``) ------------------------------------------------------


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    port, secret, sprints = spec["port"], spec["secret"], spec["sprints"]
    swarm = Swarm("127.0.0.1", port, secret, sprints, spec["per_sprint"],
                  local_hosts=spec["hosts"], first_user=spec["first_user"])
    poster = EventPoster("127.0.0.1", port, secret, sprints)
    everyone = len(swarm.members)
    swarm.start()
    await swarm.until(lambda: swarm.live() == everyone, 600)
    await mark("joined")
    for sprint in sprints:
        await poster.post_one(sprint)
    await swarm.until(lambda: all(m.last >= 1 for m in swarm.members), 120)
    posting = True
    storm = asyncio.create_task(poster.post(RATE, lambda: not posting))
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    await mark("kill")  # the coordinator kills and restarts the node meanwhile
    await swarm.until(lambda: swarm.live() == everyone and all(
        m.live_at > killed_at for m in swarm.members), 600)
    offset = time.time() - loop.time()
    live_again = [m.live_at + offset for m in swarm.members if m.live and m.live_at > killed_at]
    posting = False
    events = await storm
    for sprint in sprints:
        await poster.post_one(sprint)
    final = poster.last
    await swarm.until(lambda: all(m.complete(final[m.sprint]) for m in swarm.members), 120)
    await mark("recovered")
    result = {"live_again": live_again, "events": events + 2 * len(sprints),
              "incomplete": sum(1 for m in swarm.members if not m.complete(final[m.sprint])),
              "duplicates": sum(m.duplicates for m in swarm.members),
              "resyncs": sum(m.resyncs for m in swarm.members)}
    await swarm.stop()
    await poster.close()
    return result


# --- report -----------------------------------------------------------------------------


def section(data: dict[str, Any]) -> list[str]:
    w = data["workloads"].get("storm")
    if not w or "rows" not in w:
        return []
    rows = [[fmt(r["n"]), fmt(r["sprints"]), f"{r['restart_s']:.1f}",
             f"{r['p99_s']:.1f}" if r["p99_s"] is not None else DASH,
             f"{r['all_s']:.1f}" if r["all_s"] is not None else f"{r['back']} back",
             f"{r['server_cpu_s']:.1f}" if r["server_cpu_s"] is not None else DASH,
             fmt(int(r["shed"])) if r["shed"] == r["shed"] else DASH, fmt(r["events"]),
             fmt(r["lost"]), fmt(r["duplicates"]), fmt(r["resyncs"])] for r in w["rows"]]
    return ["## 9c. Reconnect storm (issue 16)", "",
            f"N connections over N/{PER_SPRINT} sprints on one node (Redis broker), killed "
            "with SIGKILL once every client had an event, and restarted at once. Clients "
            "reconnect by the protocol's rule (full jitter, 0.5 s doubling to 30 s); half "
            "honour a 503's Retry-After (as `peer/`), half cannot see it (as a browser). "
            f"Events are posted throughout ({RATE:g}/s per load generator), retried while "
            "the node is down; *lost* counts clients without every event exactly once in "
            "effect (after resume or resync). Times from the kill; CPU is the restarted "
            "node's, from its start until every client had every event.", "",
            *table(["N", "sprints", "restart s", "99 % live s", "100 % live s",
                    "server CPU s", "shed (503)", "events", "lost", "duplicate frames",
                    "resyncs"], rows)]
