"""REPORT.md and PNG plots from one run's results (``results.json``), nothing measured here.

The report is the run (machine, versions, load), issue 8's targets with a verdict each, the
plots, one section per workload (each written by its own module in ``bench/workloads/``),
and "What bounds the misses": the evidence for every missed target, again from the
workloads' modules. Every comparison is a ratio within the run: the same machine, the same
minute, the same load generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.tables import DASH, MISS, X, find, fmt, get, headline, ratio, rows_of, table
from bench.workloads import (
    connections,
    drops,
    e2e,
    fanout,
    joins,
    p2p,
    rebalance,
    relay,
    scaleout,
    side_by_side,
    sse,
    storm,
)

__all__ = ["write_report"]


# --- targets (issue 8) --------------------------------------------------------------------


class Targets:
    """The targets table: one row per target, measured, met or missed, and a note."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.rows: list[list[Any]] = []

    def add(self, target: str, measured: str, ok: bool | None, note: str = "",
            unmeasured: str = "not measured") -> None:
        verdict = unmeasured if ok is None else ("**met**" if ok else "**missed**")
        self.rows.append([target, measured, verdict, note or (MISS if ok is False else "")])

    def fanout(self) -> None:
        fan, hs = rows_of(self.data, "fanout"), headline(self.data)
        cpu, naive_cpu, ch_cpu = (
            get(find(fan, subject=s, subscribers=hs), "closed", "cpu_us_per_frame")
            for s in ("watercooler", "naive", "channels"))
        self.add(f"fan-out server CPU per delivered frame ≤ 12 µs (S = {hs:,})",
                 f"{fmt(cpu, 2)} µs", None if cpu is None else cpu <= 12,
                 MISS if cpu and cpu > 12 else "")
        self.add(f"≥ 2.5{X} better than the naive loop", ratio(naive_cpu, cpu),
                 None if not (cpu and naive_cpu) else naive_cpu / cpu >= 2.5)
        self.add(f"≥ 25{X} better than Channels", ratio(ch_cpu, cpu),
                 None if not (cpu and ch_cpu) else ch_cpu / cpu >= 25)

    def lost(self) -> None:
        fan, ends = rows_of(self.data, "fanout"), rows_of(self.data, "e2e")
        lost = [r.get("lost_frames") for r in fan + ends + rows_of(self.data, "scaleout")
                if r.get("subject") == "watercooler"]
        ch_lost = sum(r.get("lost_frames") or 0 for r in fan + ends
                      if r.get("subject") == "channels")
        total = sum(x or 0 for x in lost)
        self.add("zero authoritative events lost (every workload)",
                 f"{total} frames lost (Channels: {ch_lost})", None if not lost else total == 0)

    def latency_and_memory(self) -> None:
        hs = headline(self.data)
        wc = find(rows_of(self.data, "fanout"), subject="watercooler", subscribers=hs)
        p99 = get(wc, "closed", "last", "p99")
        self.add(f"fan-out to 1,000: p99 until the last delivery ≤ 25 ms (S = {hs:,})",
                 f"{fmt(p99, 1)} ms", None if p99 is None else p99 <= 25)
        conn = [r for r in rows_of(self.data, "connections") if r.get("subject") == "watercooler"]
        big = max(conn, key=lambda r: r["n"]) if conn else None
        kib = get(big, "rss_per_conn_kib")
        self.add(f"10,000 connections on one node at ≤ 16 KiB each (largest run: N = "
                 f"{fmt(get(big, 'connected'))})", f"{fmt(kib, 1)} KiB",
                 None if kib is None or big is None
                 else (kib <= 16 and big["connected"] >= 10_000))

    def relay_p2p_e2e(self) -> None:
        rp50 = get(find(rows_of(self.data, "relay"), subject="watercooler"), "latency", "p50")
        self.add("relay p50 ≤ 0.3 ms on loopback", f"{fmt(rp50, 3)} ms",
                 None if rp50 is None else rp50 <= 0.3)
        per_move = get(find(rows_of(self.data, "p2p"), webrtc=True), "server_frames_per_move")
        self.add("zero server frames per drag move with open data channels",
                 f"{fmt(per_move, 3)} frames/move", None if per_move is None else per_move == 0)
        ep50 = get(find(rows_of(self.data, "e2e"), subject="watercooler"), "last", "p50")
        self.add("REST write to 100 subscribers: p50 ≤ 15 ms", f"{fmt(ep50, 1)} ms",
                 None if ep50 is None else ep50 <= 15)

    def scaleout(self) -> None:
        scale = self.data["workloads"].get("scaleout") or {}
        if "skipped" in scale:
            self.add(f"scale-out: 3 nodes ≥ 2.5{X} the frames/s of one (CPU per frame on 2 "
                     "cores)", "skipped", None, scale["skipped"][:160])
            return
        rows = rows_of(self.data, "scaleout")
        c1, c3 = (get(find(rows, subject="watercooler", nodes=n), "closed", "cpu_us_per_frame")
                  for n in (1, 3))
        self.add(f"scale-out: 3 nodes ≥ 2.5{X} the frames/s of one (on 2 cores: CPU per frame)",
                 f"1 node {fmt(c1, 2)} µs/frame, 3 nodes {fmt(c3, 2)} µs/frame (all nodes)",
                 None, "2 cores cannot give 3 nodes a core each; see the scale-out section",
                 unmeasured="not measurable on 2 cores")


def targets(data: dict[str, Any]) -> list[list[Any]]:
    """Issue 8's targets, in the issue's order: [target, measured, verdict, note]."""
    t = Targets(data)
    t.fanout()
    t.lost()
    t.latency_and_memory()
    t.relay_p2p_e2e()
    t.scaleout()
    return t.rows


# --- the report ---------------------------------------------------------------------------


def _machine(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    v = m.get("versions", {})
    versions = ", ".join(f"{k} {val}" for k, val in v.items() if val)
    return [
        f"- **Run:** `{data['profile']}` profile, {m['date']}, {data.get('duration_s', 0):.0f} s, "
        f"commit `{m.get('git_commit') or '?'}` (+ working tree)",
        f"- **Machine:** {m['cores']} cores ({m.get('cpu') or 'unknown CPU'}), "
        f"{m['platform']}, Python {m['python']}, Redis {m.get('redis') or DASH}, "
        f"open-file limit {m.get('nofile')}",
        f"- **Load average** before / after: {' / '.join(fmt(x, 2) for x in m['load_before'])}"
        f" → {' / '.join(fmt(x, 2) for x in m.get('load_after', []))}",
        f"- **Versions:** {versions}",
        f"- **One machine:** the servers under test and the load generators share its "
        f"{m['cores']} cores, and everything runs on loopback. On a busy machine (a load "
        "average near the core count before the run) absolute numbers move by ±20 % between "
        "runs; ratios within one run are steadier.",
        *[f"- **Note:** {note}" for note in data.get("notes", [])], ""]


def _plots(data: dict[str, Any], out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        return ["(matplotlib is not installed: no plots; `pip install -r "
                "requirements-bench.txt`)", ""]
    made = [*fanout.plot(data, out), *connections.plot(data, out), *relay.plot(data, out)]
    return [" ".join(made), ""] if made else []


def _board_writes(data: dict[str, Any]) -> list[str]:
    """``## 8. Drops and rank rebalances`` (issue 11), or nothing when neither ran."""
    found = {n: data["workloads"].get(n) for n in ("drops", "rebalance")}
    if not any(found.values()):
        return []
    out = ["## 8. Drops and rank rebalances (issue 11)", ""]
    for name, part in (("drops", drops.section), ("rebalance", rebalance.section)):
        w = found[name]
        if not w:
            continue
        if "error" in w or "skipped" in w:
            out += [f"*{name}*: {w.get('error') or w.get('skipped')}", ""]
            continue
        out += part(w)
    return out


def _bounds(data: dict[str, Any]) -> list[str]:
    """Evidence for each missed target: the same run's floors, splits and profiles."""
    misses = any(row[2] == "**missed**" for row in targets(data))
    out = ["## What bounds the misses" if misses else "## Where the time goes", ""]
    for evidence in (fanout.bounds, connections.bounds, relay.bounds, e2e.bounds):
        out += evidence(data)
    return out if len(out) > 2 else []


SECTIONS = (connections.section, fanout.section, relay.section, e2e.section, p2p.section,
            scaleout.section, side_by_side.section, _board_writes, joins.section, storm.section,
            sse.section)


def write_report(data: dict[str, Any], out: Path) -> Path:
    """Write ``REPORT.md`` (and the plots) into ``out``; its path."""
    lines = [f"# Watercooler benchmarks ({data['profile']} run)", ""]
    lines += _machine(data)
    lines += ["## Targets (issue 8)", ""]
    lines += table(["target", "measured", "verdict", "note"], targets(data))
    lines += _plots(data, out)
    for section in SECTIONS:
        lines += section(data)
    lines += _bounds(data)
    lines += ["## How to reproduce", "",
              "`make bench` (quick, results in `bench/results/quick/`) or `make bench-full` "
              "(this report). Raw numbers: `results.json` next to this file. See "
              "`bench/README.md`.", ""]
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    return path
