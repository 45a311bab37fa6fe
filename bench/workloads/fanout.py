"""Workload 2, fan-out: one authoritative event (``POST /events/``) to S subscribers of a sprint.

A closed loop (one event at a time) gives the latency until the last subscriber has it and
the server's CPU per delivered frame; an open loop at rising rates gives the sustained rate.
The syscall floor (`bench/peers/naive_tornado.py --floor`) runs beside the servers as the
reference. `fanout_once` is also the scale-out workload's measurement. Load generator mode
``fanout``; the report's section 2, its two plots and the fan-out paragraphs of "What bounds
the misses". Over 300 lines on purpose (the longest workload): fan-out is the headline
(closed loop, open loop, the floor, py-spy), and split further it would not read in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import fresh_sprint, log, measure, metric
from bench.loadgen import (
    EventBook,
    close_all,
    connect_many,
    mark,
    now,
    post_event,
    quiet,
    stats_ms,
    token_path,
    wait_quiet,
)
from bench.loadgen import log as say
from bench.procs import LoadGen, Server
from bench.profiles import Profile
from bench.profiling import Profiler, profile_phase
from bench.subjects import BENCH_SECRET, start_subject
from bench.tables import (
    NAMES,
    X,
    find,
    fmt,
    get,
    headline,
    profile_lines,
    ratio,
    rows_of,
    save_figure,
    skipped,
    table,
)
from bench.wire import HttpClient, WsClient

__all__ = ["bounds", "fanout_once", "generate", "plot", "run", "section", "sustained"]


# --- coordinator ------------------------------------------------------------------------


def run(p: Profile) -> dict[str, Any]:
    """Every subject at every S of the profile; rates and a py-spy phase at the rate S."""
    rows = []
    subjects = (*p.subjects, "floor") if "naive" in p.subjects else p.subjects
    for subject in subjects:
        with start_subject(subject, log_dir=p.log_dir) as server:
            for subs in p.fanout_sizes:
                if subject == "floor" and subs not in (100, p.rate_subscribers):
                    continue  # the floor is a reference: where the targets are read
                rows.append(_size(p, subject, server, subs))
    return {"rows": rows}


def _size(p: Profile, subject: str, server: Server, subs: int) -> dict[str, Any]:
    events = max(5, min(p.fanout_events, p.fanout_frame_budget // subs))
    if subject == "channels":  # ~1 ms per frame: a smaller budget
        events = max(2, min(events, 10_000 // subs))
    rates: Sequence[int] = ()
    if subs == p.rate_subscribers:
        rates = p.channels_rates if subject == "channels" else p.rates
    profile = (p.results / f"profile-fanout-{subject}.txt"
               if rates and p.results is not None and subject != "channels" else None)
    row = fanout_once(p, subject, [server], subs, events, rates, profile)
    row["rss_after"] = server.usage().rss
    c = row["closed"]
    log.info("fanout %s S=%d: p50 %.2f p99 %.2f ms, %.2f us/frame, lost %d",
             subject, subs, c["last"]["p50"] or -1, c["last"]["p99"] or -1,
             c["cpu_us_per_frame"], row["lost_frames"])
    return row


def fanout_once(p: Profile, subject: str, servers: list[Server], subs: int, events: int,
                rates: Sequence[int], profile: Path | None = None) -> dict[str, Any]:
    """``subs`` subscribers spread over ``servers``: a closed loop of ``events``, then
    ``rates``; with ``profile``, py-spy on the first server in an extra closed loop."""
    spec = {"ports": [s.port for s in servers], "port": servers[0].port,
            "sprint": fresh_sprint(), "subscribers": subs, "events": events,
            "rates": list(rates), "rate_seconds": p.rate_seconds, "secret": BENCH_SECRET,
            "event_timeout": 5.0 if subject != "channels" else 10.0}
    frames_before = _frames_out(subject, servers)
    profiler = Profiler(servers[0].pid, profile) if profile is not None else None
    if profiler is not None:
        spec["profile_events"] = events
    profiled: dict[str, Any] = {}
    (result,), s = measure(servers, [LoadGen("fanout", spec)], timeout=900,
                           on_mark=profile_phase(profiler, profiled))
    if profiled:
        result["profile"] = profiled
    join = s.cost("connect_start", "closed_start")
    result["join"] = {"server_cpu_s": join["server_cpu_s"], "wall_s": join["wall_s"]}
    _closed_cost(result["closed"], s.cost("closed_start", "closed_end"), subs)
    for row in result["rates"]:
        _rate_cost(row, s.cost(f"rate_{row['offered']}_start", f"rate_{row['offered']}_end"),
                   subs)
    frames_after = _frames_out(subject, servers)
    if frames_before is not None and frames_after is not None:
        result["server_frames_out"] = frames_after - frames_before
    result["subject"] = subject
    return result


def _closed_cost(closed: dict[str, Any], cost: dict[str, Any], subs: int) -> None:
    frames = closed["events"] * subs - closed["missing"]
    closed.update(cost)
    closed["frames"] = frames
    for key, spent in (("cpu", "server_cpu_s"), ("user", "server_user_s"),
                       ("sys", "server_sys_s"), ("loadgen", "loadgen_cpu_s")):
        closed[f"{key}_us_per_frame"] = cost[spent] / max(frames, 1) * 1e6


def _rate_cost(row: dict[str, Any], cost: dict[str, Any], subs: int) -> None:
    row.update(cost)
    delivered = row["events"] * subs - row["missing"]
    row["cpu_us_per_frame"] = cost["server_cpu_s"] / max(delivered, 1) * 1e6
    row["sys_us_per_frame"] = cost["server_sys_s"] / max(delivered, 1) * 1e6
    row["server_cpu_pct"] = 100 * cost["server_cpu_s"] / cost["wall_s"]


def _frames_out(subject: str, servers: list[Server]) -> float | None:
    if subject != "watercooler":
        return None
    return sum(metric(s, "watercooler_frames_out_total") for s in servers)


# --- load generator (mode ``fanout``) -----------------------------------------------------


class FanoutRun:
    """S subscribers of one sprint, spread over ``ports``; events posted to ``post_port``
    (default the first node), numbered from 1."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.subs = spec["subscribers"]
        self.book = EventBook(self.subs)
        self.ports = spec.get("ports") or [spec["port"]]
        self.clients: list[WsClient] = []
        self.http = HttpClient("127.0.0.1", spec.get("post_port", self.ports[0]))
        self.seq = 0

    async def connect(self) -> float:
        """Connect every subscriber; seconds spent in handshakes."""
        spec, connect_s = self.spec, 0.0
        for k, port in enumerate(self.ports):
            share = self.subs // len(self.ports) + (1 if k < self.subs % len(self.ports) else 0)
            got, secs, failed = await connect_many(
                {**spec, "port": port}, share,
                lambda i: token_path(spec, spec["sprint"], 1000 + i), self.book.on_message)
            if failed:
                raise SystemExit(f"{failed} subscribers could not connect")
            self.clients += got
            connect_s += secs
        await quiet(self.clients)  # every presence frame of the joins has arrived
        return connect_s

    async def closed_loop(self, events: int) -> list[int]:
        """One event at a time, each once every subscriber has the previous one."""
        seqs: list[int] = []
        misses = 0
        for _ in range(events):
            self.seq += 1
            seq = self.seq
            self.book.complete[seq] = asyncio.get_running_loop().create_future()
            self.book.posted[seq] = now()
            await post_event(self.http, self.spec, self.spec["sprint"], seq)
            seqs.append(seq)
            try:
                await asyncio.wait_for(self.book.complete[seq],
                                       self.spec.get("event_timeout", 5.0))
                misses = 0
            except TimeoutError:
                say(f"seq {seq}: {self.book.count.get(seq, 0)}/{self.subs} after timeout")
                misses += 1
                if misses == 3:  # bounded in time: three in a row is an answer already
                    break
        return seqs

    async def open_loop(self, rate: int) -> dict[str, Any]:
        """Events at ``rate``/s for ``rate_seconds``; latency from each scheduled time."""
        seqs: list[int] = []
        await mark(f"rate_{rate}_start")
        start = now()
        interval = 1.0 / rate
        n = int(rate * self.spec["rate_seconds"])
        for i in range(n):
            delay = start + i * interval - now()
            if delay > 0:
                await asyncio.sleep(delay)
            self.seq += 1
            self.book.posted[self.seq] = start + i * interval  # no coordinated omission
            await post_event(self.http, self.spec, self.spec["sprint"], self.seq)
            seqs.append(self.seq)
        sent_s = now() - start
        await wait_quiet(self.book, seqs, 3.0)
        took = max((self.book.last.get(s, start) for s in seqs), default=start) - start
        await mark(f"rate_{rate}_end")
        last, _, missing = self.book.latencies(seqs)
        delivered = sum(self.book.count.get(s, 0) for s in seqs)
        return {"offered": rate, "events": n, "send_s": sent_s, "took_s": took,
                "achieved_events_s": n / took if took > 0 else None,
                "frames_s": delivered / took if took > 0 else None,
                "last": stats_ms(last), "missing": missing}

    async def finish(self) -> dict[str, Any]:
        """Wait for late frames (late is not lost), count what never came, disconnect."""
        await wait_quiet(self.book, list(range(1, self.seq + 1)), 3.0)
        per_client = [self.book.per_client.get(id(c), 0) for c in self.clients]
        closed = [c for c in self.clients if c.closed.done()]
        result = {"events_posted": self.seq,
                  "lost_frames": self.seq * self.subs - sum(per_client),
                  "closed_clients": len(closed),
                  "close_codes": sorted({c.close_code for c in closed
                                         if c.close_code is not None})}
        await self.http.close()
        await close_all(self.clients)
        return result


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """The closed loop, the rates, an optional profiling phase, then the losses."""
    fan = FanoutRun(spec)
    await mark("connect_start")
    result: dict[str, Any] = {"subscribers": fan.subs, "connect_s": await fan.connect()}
    await mark("closed_start")
    closed = await fan.closed_loop(spec["events"])
    await mark("closed_end")
    last, first, missing = fan.book.latencies(closed)
    result["closed"] = {"events": len(closed), "last": stats_ms(last), "first": stats_ms(first),
                        "missing": missing}
    result["rates"] = []
    for rate in spec.get("rates", []):
        result["rates"].append(await fan.open_loop(rate))
        await asyncio.sleep(0.3)
    if spec.get("profile_events"):  # a phase of its own: py-spy needs a core too
        await mark("profile_start")
        await fan.closed_loop(spec["profile_events"])
        await mark("profile_end")
    result.update(await fan.finish())
    return result


# --- report -----------------------------------------------------------------------------


def section(data: dict[str, Any]) -> list[str]:
    """``## 2. Fan-out`` with its sustained-rate subsection."""
    rows = rows_of(data, "fanout")
    if not rows:
        return skipped(data, "fanout")
    out = ["## 2. Fan-out", "",
           "One authoritative event (`POST /events/`, signed, a ~400-byte task) to a sprint "
           "with S subscribers, posted one at a time after the previous one reached every "
           "subscriber (closed loop). Latency: from the POST until the **last** subscriber "
           "has the frame. CPU: the server's own user+system CPU during the phase divided by "
           "the frames delivered. Every frame is counted; 'lost' is frames that never "
           "arrived.", ""]
    out += _closed_table(rows)
    out += ["CPU is read from /proc in clock ticks (10 ms), so rows with few frames are coarse; "
            "at S = 1 the 'per frame' cost is the whole `POST /events/` request (HTTP, HMAC, "
            "JSON, history). The load generator (uvloop, a minimal websocket client) needs "
            "more CPU per frame "
            "than the server; with two cores, the time until the last of S subscribers has "
            "read its frame is bounded by the reader, so latencies at large S are an upper "
            "bound for the server.", ""]
    return out + _losses_and_joins(rows) + _sustained_section(rows)


def _closed_table(rows: list[dict[str, Any]]) -> list[str]:
    wc = {r["subscribers"]: r for r in rows if r["subject"] == "watercooler"}
    lines = []
    for r in rows:
        c = r["closed"]
        base = get(wc.get(r["subscribers"]), "closed", "cpu_us_per_frame")
        lines.append([NAMES[r["subject"]], fmt(r["subscribers"]), fmt(c["events"]),
                      fmt(c["last"]["p50"], 2), fmt(c["last"]["p99"], 2),
                      fmt(c["first"]["p50"], 2), fmt(c["cpu_us_per_frame"], 2),
                      ratio(c["cpu_us_per_frame"], base), fmt(c["loadgen_us_per_frame"], 1),
                      fmt(r["lost_frames"])])
    return table(["server", "S", "events", "last p50 ms", "last p99 ms", "first p50 ms",
                  "server CPU µs/frame", f"{X} Watercooler", "load gen µs/frame",
                  "lost frames"], lines)


def _losses_and_joins(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in (r for r in rows if r["subject"] == "channels" and r.get("lost_frames")):
        out += [f"Channels lost {fmt(r['lost_frames'])} frames at S = {fmt(r['subscribers'])}: "
                f"at {fmt(r['closed']['cpu_us_per_frame'] / 1000, 1)} ms of CPU per frame, "
                f"{fmt(r['closed']['events'])} events to {fmt(r['subscribers'])} subscribers "
                "take longer than `InMemoryChannelLayer`'s 60 s message expiry, and expired "
                "messages are dropped silently (the most likely cause; nothing arrived "
                "for them within 3 s of the last delivery).", ""]
    joins = [r for r in rows if r["subject"] == "watercooler" and r.get("join")]
    if joins:
        out += ["Joining: connecting S subscribers to one sprint (protocol version 2: each "
                "welcome lists at most 50 peers, joins reach the others coalesced per tick "
                "and only when they change what each one sees). Server CPU to connect S "
                "subscribers: " + ", ".join(
                    f"S = {fmt(r['subscribers'])}: {fmt(r['join']['server_cpu_s'], 2)} s"
                    for r in joins) + ". The naive loop and the Channels app have no presence.",
                ""]
    return out


def _sustained_section(rows: list[dict[str, Any]]) -> list[str]:
    rates = [(r["subject"], x) for r in rows for x in r.get("rates", [])]
    if not rates:
        return []
    subs = next(r["subscribers"] for r in rows if r.get("rates"))
    out = [f"### Sustained rate to {subs:,} subscribers", "",
           "Events posted open loop at a fixed rate for a few seconds each; latency is "
           "measured from each event's *scheduled* time (no coordinated omission), so it "
           "climbs once the server falls behind.", ""]
    out += table(["server", "offered events/s", "achieved events/s", "frames/s",
                  "last p50 ms", "last p99 ms", "server CPU", "lost frames"],
                 [[NAMES[s], fmt(x["offered"]), fmt(x["achieved_events_s"], 0),
                   fmt(x["frames_s"], 0), fmt(x["last"]["p50"], 1), fmt(x["last"]["p99"], 1),
                   f"{fmt(x['server_cpu_pct'], 0)} %", fmt(x["missing"])]
                  for s, x in rates])
    best = sustained(rows, "watercooler")
    if best:
        out += [f"Watercooler sustains **{fmt(best['offered'])} events/s** "
                f"({fmt(best['frames_s'], 0)} frames/s) to {subs:,} subscribers with p99 "
                f"under 50 ms and nothing lost.", ""]
    return out


def sustained(rows: list[dict[str, Any]], subject: str) -> dict[str, Any] | None:
    """The highest rate ``subject`` kept up with: p99 under 50 ms, nothing lost."""
    ok = [x for r in rows if r["subject"] == subject for x in r.get("rates", [])
          if x["missing"] == 0 and (x["last"]["p99"] or 1e9) < 50
          and (x["achieved_events_s"] or 0) >= 0.9 * x["offered"]]
    return max(ok, key=lambda x: x["offered"]) if ok else None


def plot(data: dict[str, Any], out: Path) -> list[str]:
    """``fanout.png`` (latency and CPU against S) and ``sustained.png`` (p99 against rate)."""
    fan = rows_of(data, "fanout")
    if not fan:
        return []
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for subject in NAMES:
        rows = sorted((r for r in fan if r["subject"] == subject),
                      key=lambda r: r["subscribers"])
        if not rows:
            continue
        s = [r["subscribers"] for r in rows]
        ax1.plot(s, [r["closed"]["last"]["p99"] for r in rows], "o-",
                 label=f"{NAMES[subject]} p99")
        ax1.plot(s, [r["closed"]["last"]["p50"] for r in rows], "x--",
                 label=f"{NAMES[subject]} p50")
        ax2.plot(s, [r["closed"]["cpu_us_per_frame"] for r in rows], "o-", label=NAMES[subject])
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("subscribers S")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_ylabel("ms until the last subscriber has it")
    ax1.set_title("Fan-out latency")
    ax1.legend(fontsize=7)
    ax2.set_ylabel("server CPU µs per delivered frame")
    ax2.set_title("Fan-out cost")
    ax2.legend(fontsize=7)
    return [*save_figure(fig, out, "fanout.png", "fan-out"), *_plot_sustained(fan, out)]


def _plot_sustained(fan: list[dict[str, Any]], out: Path) -> list[str]:
    rated = [r for r in fan if r.get("rates")]
    if not rated:
        return []
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rated:
        xs = [x["offered"] for x in r["rates"]]
        ax.plot(xs, [x["last"]["p99"] for x in r["rates"]], "o-",
                label=f"{NAMES[r['subject']]} p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"offered events/s to {rated[0]['subscribers']:,} subscribers")
    ax.set_ylabel("ms until the last subscriber has it")
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Sustained fan-out")
    return save_figure(fig, out, "sustained.png", "sustained")


def bounds(data: dict[str, Any]) -> list[str]:
    """CPU per frame against the syscall floor (with py-spy), and what bounds the p99."""
    fan = rows_of(data, "fanout")
    hs = headline(data)
    wc = find(fan, subject="watercooler", subscribers=hs)
    cpu = get(wc, "closed", "cpu_us_per_frame")
    out: list[str] = []
    if wc is not None and cpu is not None:
        out += _cpu_bounds(data, wc, cpu)
    p99 = get(wc, "closed", "last", "p99")
    if p99 is not None and p99 > 25:
        lg = get(wc, "closed", "loadgen_us_per_frame") or 0
        out += [f"**Fan-out p99 to {hs:,}** ({fmt(p99, 1)} ms): the load generator needs "
                f"{fmt(lg, 1)} µs of CPU per frame it reads, so reading one event on {hs:,} "
                f"sockets takes it about {fmt(lg * hs / 1000, 1)} ms by itself; the server's "
                f"part is about {fmt(cpu * hs / 1000 if cpu else None, 1)} ms, and the two "
                "share two cores with everything else on the machine.", ""]
    return out


def _cpu_bounds(data: dict[str, Any], wc: dict[str, Any], cpu: float) -> list[str]:
    fan, hs = rows_of(data, "fanout"), headline(data)
    floor = find(fan, subject="floor", subscribers=hs)
    naive = find(fan, subject="naive", subscribers=hs)
    c, f = wc["closed"], get(floor, "closed") or {}
    out = [f"**Fan-out CPU per frame** (S = {hs:,}): Watercooler "
           f"{fmt(cpu, 2)} µs = {fmt(c.get('user_us_per_frame'), 1)} µs user + "
           f"{fmt(c.get('sys_us_per_frame'), 1)} µs kernel. The syscall floor (the same "
           "frame, framed once, one raw `send()` per subscriber and nothing else, same "
           f"run) costs {fmt(f.get('cpu_us_per_frame'), 2)} µs = "
           f"{fmt(f.get('user_us_per_frame'), 1)} user + {fmt(f.get('sys_us_per_frame'), 1)} "
           "kernel. So Watercooler is at "
           f"{ratio(cpu, f.get('cpu_us_per_frame'))} of the floor, "
           f"{ratio(get(naive, 'closed', 'cpu_us_per_frame'), cpu)} below the naive loop; "
           "what is left is the kernel's. On loopback a `send()` also runs the receiving "
           "socket's TCP input and wakes the reader in the sender's context, so the "
           "kernel share here is larger than it would be towards a network card" +
           ("; the 12 µs target assumed a cheaper send than this virtual machine gives."
            if cpu > 12 else "."), ""]
    prof = next((r.get("profile") for r in fan
                 if r["subject"] == "watercooler" and r.get("profile")), None)
    if prof:
        out += [f"py-spy on the node during an extra closed-loop phase at S = "
                f"{fmt(next(r['subscribers'] for r in fan if r.get('profile')))} "
                f"({prof.get('samples', 0)} samples of wall-clock time, self time by "
                "line; `socket.send` is the line of `write_framed` that calls it):", ""]
        out += [*profile_lines(prof, "self_by_line", 6), ""]
    return out
