"""Workload 1, connections held: N idle authenticated websockets (10 per sprint) to one node.

Measures RSS per connection, the connect rate with 50 handshakes in flight, what a join
costs the server, and its CPU while idle (pings). Load generator mode ``hold``; the report's
section 1, its memory plot, and the memory paragraph of "What bounds the misses" (with the
tracemalloc breakdown of `bench.memory`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import fresh_sprint, log, measure
from bench.loadgen import close_all, connect_many, mark, now, quiet, token_path
from bench.procs import ROOT, LoadGen, Server
from bench.profiles import Profile
from bench.subjects import BENCH_SECRET, start_subject
from bench.tables import DASH, NAMES, X, fmt, rows_of, save_figure, skipped, table

__all__ = ["bounds", "generate", "plot", "run", "section"]

#: Connections per load generator process (each holds one socket per connection).
PER_LOADGEN = 5000


# --- coordinator ------------------------------------------------------------------------


def run(p: Profile) -> dict[str, Any]:
    """Every subject at every N of the profile, then the heap breakdown (not in smoke)."""
    plan = [("watercooler", n) for n in p.connections]
    # Channels accepts ~150 connections/s: beyond 1,000 it would eat the time budget.
    plan += [(s, n) for s in p.subjects if s != "watercooler" for n in p.connections_peers
             if s != "channels" or n <= 1000]
    rows = [_held(p, subject, n) for subject, n in plan]
    heap: dict[str, Any] = {}
    if p.name != "smoke":
        done = subprocess.run([sys.executable, "-m", "bench.memory", "1000"], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        heap = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                else {"error": done.stderr[-500:]})
    return {"rows": rows, "heap": heap}


def _loadgens(server: Server, subject: str, n: int) -> list[LoadGen]:
    procs = max(1, -(-n // PER_LOADGEN))
    share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    offsets = [sum(share[:i]) for i in range(procs)]
    base = fresh_sprint()
    return [LoadGen("hold", {"port": server.port, "count": c, "offset": o, "sprint_size": 10,
                             "sprint_base": base, "secret": BENCH_SECRET, "concurrency": 50,
                             "welcome": subject == "watercooler"})
            for c, o in zip(share, offsets, strict=True)]


def _held(p: Profile, subject: str, n: int) -> dict[str, Any]:
    """One server holding ``n`` connections, then idle for the profile's ``idle_s``."""
    extra = ("--ping-interval=5",) if subject == "watercooler" else ()
    with start_subject(subject, log_dir=p.log_dir, extra=extra) as server:
        time.sleep(0.5)
        before = server.usage()

        def idle(name: str) -> None:
            if name == "connected":
                time.sleep(p.idle_s)

        results, s = measure([server], _loadgens(server, subject, n), timeout=600, on_mark=idle)
    connected = sum(r["connected"] for r in results)
    at = s.marks["connected"][0][0]
    idle_cost = s.cost("connected", "idle_end")
    connect_s = max(r["connect_s"] for r in results)
    row = {
        "subject": subject, "n": n, "connected": connected,
        "failed": sum(r["failed"] for r in results),
        "alive_after_idle": sum(r["alive_after_idle"] for r in results),
        "connect_s": connect_s, "connects_per_s": connected / connect_s,
        "connect_cpu_us": (at.cpu - before.cpu) / max(connected, 1) * 1e6,
        "rss_base": before.rss, "rss_held": at.rss,
        "rss_per_conn_kib": (at.rss - before.rss) / max(connected, 1) / 1024,
        "idle_cpu_pct": 100 * idle_cost["server_cpu_s"] / idle_cost["wall_s"],
        "idle_s": idle_cost["wall_s"],
        "ping_interval_s": 5 if subject == "watercooler" else None,
    }
    log.info("connections %s N=%d: %.1f KiB/conn, %.0f conn/s", subject, n,
             row["rss_per_conn_kib"], row["connects_per_s"])
    return row


# --- load generator (mode ``hold``) -------------------------------------------------------


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """``count`` idle connections in sprints of ``sprint_size``; held until told."""
    offset, size = spec.get("offset", 0), spec.get("sprint_size", 10)
    base = spec.get("sprint_base", 1)
    tokens: dict[int, str] = {}

    def path(i: int) -> str:
        sprint = base + (offset + i) // size
        if sprint not in tokens:
            tokens[sprint] = token_path(spec, sprint, offset + i)
        return tokens[sprint]

    clients, secs, failed = await connect_many(spec, spec["count"], path, None,
                                               spec.get("concurrency", 100))
    if spec.get("welcome"):  # joined, not just upgraded: every welcome has arrived
        deadline = now() + 120
        while any(c.frames == 0 for c in clients) and now() < deadline:
            await asyncio.sleep(0.05)
    await quiet(clients)  # and the presence frames of the last joins
    await mark("connected")
    await mark("idle_end")
    alive = sum(1 for c in clients if not c.closed.done())
    await close_all(clients)
    return {"count": spec["count"], "connected": len(clients), "failed": failed,
            "connect_s": secs, "alive_after_idle": alive}


# --- report -----------------------------------------------------------------------------


def section(data: dict[str, Any]) -> list[str]:
    """``## 1. Connections held``."""
    rows = rows_of(data, "connections")
    if not rows:
        return skipped(data, "connections")
    out = ["## 1. Connections held", "",
           "N authenticated idle websockets (10 per sprint, so presence is realistic) to one "
           "node; RSS growth of the server process divided by N; the connect rate with 50 "
           "handshakes in flight; server CPU while idle (Watercooler pings every 5 s here, "
           f"4{X} its default, to make ping cost visible).", ""]
    out += table(
        ["server", "N", "connected", "RSS / connection", "connects/s", "server CPU / connect",
         "idle CPU", "CPU per ping", "still open after idle"],
        [[NAMES[r["subject"]], fmt(r["n"]), fmt(r["connected"]),
          f"{fmt(r['rss_per_conn_kib'], 1)} KiB", fmt(r["connects_per_s"], 0),
          f"{fmt(r['connect_cpu_us'], 0)} µs", f"{fmt(r['idle_cpu_pct'], 2)} %",
          (f"{fmt(r['idle_cpu_pct'] / 100 * r['ping_interval_s'] / r['n'] * 1e6, 0)} µs"
           if r.get("ping_interval_s") else DASH),
          fmt(r["alive_after_idle"])] for r in rows])
    out += ["'server CPU / connect' is everything a join costs the server (handshake, ticket, "
            "welcome, presence to the sprint's other peers, logging) until the connection is "
            "idle. Watercooler's idle CPU is its websocket pings (one timer for the node: "
            "writing each ping, reading each pong); at the default 20 s interval it is a "
            "quarter of the figure here. The naive server sends no pings; daphne pings every "
            "20 s.", ""]
    return out


def plot(data: dict[str, Any], out: Path) -> list[str]:
    """``connections.png``: RSS per connection against N."""
    conn = rows_of(data, "connections")
    if not conn:
        return []
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for subject in NAMES:
        rows = [r for r in conn if r["subject"] == subject]
        if rows:
            ax.plot([r["n"] for r in rows], [r["rss_per_conn_kib"] for r in rows], "o-",
                    label=NAMES[subject])
    ax.axhline(16, color="grey", lw=0.8, ls=":", label="target 16 KiB")
    ax.set_xscale("log")
    ax.set_xlabel("idle connections N")
    ax.set_ylabel("server RSS KiB per connection")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Memory per connection")
    return save_figure(fig, out, "connections.png", "connections")


def bounds(data: dict[str, Any]) -> list[str]:
    """Where an idle connection's memory goes, when the 16 KiB times 10,000 target is missed."""
    conn = [r for r in rows_of(data, "connections") if r["subject"] == "watercooler"]
    if not conn:
        return []
    big = max(conn, key=lambda r: r["n"])
    if big["rss_per_conn_kib"] <= 16 and big["connected"] >= 10_000:
        return []
    line = (f"**Memory per connection**: {fmt(big['rss_per_conn_kib'], 1)} KiB at "
            f"N = {fmt(big['connected'])}.")
    heap = (data["workloads"].get("connections") or {}).get("heap") or {}
    if heap.get("by_package_kib"):
        parts = ", ".join(f"{k} {fmt(v, 1)} KiB" for k, v in
                          heap["by_package_kib"].items() if v >= 0.1)
        line += (f" tracemalloc in a node holding {fmt(heap['connections'])} "
                 f"connections: {fmt(heap['heap_kib_per_conn'], 1)} KiB of Python heap "
                 f"each: {parts}. The largest lines: " + ", ".join(
                     f"`{w}` {fmt(k, 2)}" for w, k in heap["top_lines_kib"][:5]) +
                 " (KiB per connection). Watercooler's own state (signaling) is the "
                 "small part; Tornado's request, handler, IOStream and websocket "
                 "objects are most of it.")
    naive = [r for r in rows_of(data, "connections") if r["subject"] == "naive"]
    if naive:
        ref = max(naive, key=lambda r: r["n"])
        line += (f" A bare Tornado websocket without pings (the naive server, N = "
                 f"{fmt(ref['n'])}) costs {fmt(ref['rss_per_conn_kib'], 1)} KiB of RSS: "
                 "the 16 KiB target is about what Tornado itself takes. Watercooler "
                 "already pings every connection from one timer and drops the "
                 "handshake's headers, query string and template helpers once a "
                 "connection is open (docs/architecture.md); what is left is "
                 "Tornado's own objects per connection.")
    return [line, ""]
