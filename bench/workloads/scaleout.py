"""Workload 6, scale-out: the fan-out workload on 1, 2, 3 nodes sharing Redis (``--broker
redis://``, database 9), then sharing a local three-master Redis Cluster (``--broker
redis+cluster://``, started for the workload), subscribers spread evenly, events posted to
the first node; Channels on channels_redis beside them. Its measurement is
`fanout.fanout_once` (load generator mode ``fanout``); the report's section 6.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from bench.harness import log
from bench.profiles import Profile
from bench.subjects import start_subject
from bench.tables import NAMES, fmt, table
from bench.workloads.fanout import fanout_once
from tests.processes import ProcessError
from tests.redis_cluster import LocalRedisCluster

__all__ = ["REDIS_DB", "run", "section"]

REDIS_DB = 9
SUBSCRIBERS = 1000


def run(p: Profile) -> dict[str, Any]:
    """Every node count of the profile, for Watercooler and for Channels."""
    broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        start_subject("watercooler", broker=broker, log_dir=p.log_dir).stop()
    except RuntimeError as exc:
        return {"skipped": f"watercooler refused --broker {broker}: "
                           f"{str(exc).strip().splitlines()[-1][:300]}"}
    rows = [_nodes(p, subject, broker, nodes)
            for subject in ("watercooler", "channels") if subject in p.subjects
            for nodes in p.scaleout_nodes]
    if "watercooler" in p.subjects and p.scaleout_nodes:
        rows += _on_a_cluster(p)
    return {"rows": rows, "broker": broker, "subscribers": SUBSCRIBERS}


def _on_a_cluster(p: Profile) -> list[dict[str, Any]]:
    """Watercooler's rows again on a Redis Cluster of three masters on this machine."""
    cluster = LocalRedisCluster(log_dir=p.log_dir)
    try:
        cluster.start()
    except (ProcessError, OSError) as exc:
        log.warning("scaleout: no local Redis Cluster (%s); its rows are left out", exc)
        cluster.stop()
        return []
    try:
        return [{**_nodes(p, "watercooler", cluster.url, nodes), "redis": "cluster"}
                for nodes in p.scaleout_nodes]
    finally:
        cluster.stop()


def _nodes(p: Profile, subject: str, broker: str, nodes: int) -> dict[str, Any]:
    with ExitStack() as stack:
        servers = [stack.enter_context(start_subject(subject, broker=broker, log_dir=p.log_dir))
                   for _ in range(nodes)]
        events = p.scaleout_events if subject == "watercooler" else 10
        rates = p.scaleout_rates if subject == "watercooler" else ()
        row = fanout_once(p, subject, servers, SUBSCRIBERS, events, rates)
    row["nodes"] = nodes
    c = row["closed"]
    log.info("scaleout %s nodes=%d: p50 %.2f ms, %.2f us/frame, lost %d", subject, nodes,
             c["last"]["p50"] or -1, c["cpu_us_per_frame"], row["lost_frames"])
    return row


def section(data: dict[str, Any]) -> list[str]:
    """``## 6. Scale-out``."""
    w = data["workloads"].get("scaleout")
    if not w:
        return []
    out = ["## 6. Scale-out", ""]
    if "skipped" in w:
        return [*out, f"**Skipped:** {w['skipped']}", "",
                "The harness runs it as soon as `--broker redis://` is accepted: the "
                "fan-out workload with 1,000 subscribers spread evenly over 1, 2 and 3 "
                "nodes, events posted to the first node.", ""]
    if "error" in w:
        return [*out, f"**Failed:** {w['error']}", ""]
    rows = w["rows"]
    out += [f"Fan-out to {w['subscribers']} subscribers spread evenly over N nodes sharing "
            f"Redis ({w['broker']}), or sharing a Redis Cluster of three masters started on "
            "this machine for the workload (sharded pub/sub), events posted to the first "
            "node. CPU is the sum over every node (Redis's own CPU is not included: the Redis "
            "server is shared with other users of the machine). On 2 cores, more nodes cannot "
            "mean more cores: what scale-out shows here is the cost per frame of going through "
            "Redis, not added capacity; the issue's 'each node its own core' condition cannot "
            "be met here.", ""]
    out += table(["server", "Redis", "nodes", "events", "last p50 ms", "last p99 ms",
                  "CPU µs/frame (all nodes)", "lost frames"],
                 [[NAMES[r["subject"]], r.get("redis", "one"), r["nodes"], r["closed"]["events"],
                   fmt(r["closed"]["last"]["p50"], 1), fmt(r["closed"]["last"]["p99"], 1),
                   fmt(r["closed"]["cpu_us_per_frame"], 2), fmt(r["lost_frames"])]
                  for r in rows])
    rates = [(r.get("redis", "one"), r["nodes"], x) for r in rows
             if r["subject"] == "watercooler" for x in r.get("rates", [])]
    if rates:
        out += table(["Redis", "nodes", "offered events/s", "achieved", "frames/s", "p99 ms",
                      "lost"],
                     [[redis, n, x["offered"], fmt(x["achieved_events_s"], 0),
                       fmt(x["frames_s"], 0), fmt(x["last"]["p99"], 1), x["missing"]]
                      for redis, n, x in rates])
    return out
