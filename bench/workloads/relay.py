"""Workload 3, relay: drag ``move``s from client A to client B of a sprint, through the server.

Latency: one move at a time on one pair (A's send to B's receipt, one process clock).
Throughput: every pair's sender keeps ``window`` moves in flight. Watercooler runs with
``--relay-rate=1000000``: its per-connection limit is the product working as designed,
lifted here to measure the relay path itself. Load generator mode ``relay``; the report's
section 3, its plot and the relay paragraph of "What bounds the misses".
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bench.harness import fresh_sprint, log, measure
from bench.loadgen import close_all, mark, now, stats_ms, token_path
from bench.loadgen import log as say
from bench.procs import LoadGen
from bench.profiles import Profile
from bench.profiling import Profiler, profile_phase
from bench.subjects import BENCH_SECRET, start_subject
from bench.tables import (
    NAMES,
    X,
    find,
    fmt,
    get,
    profile_lines,
    ratio,
    rows_of,
    save_figure,
    skipped,
    table,
)
from bench.wire import WsClient, seq_of

__all__ = ["bounds", "generate", "plot", "run", "section"]


# --- coordinator ------------------------------------------------------------------------


def run(p: Profile) -> dict[str, Any]:
    """Latency p50/p99 (one pair, in turn), then frames/s (all pairs), for every subject."""
    rows = [_subject(p, subject) for subject in p.subjects]
    return {"rows": rows, "relay_rate_note": "watercooler ran with --relay-rate=1000000"}


def _subject(p: Profile, subject: str) -> dict[str, Any]:
    # The per-connection relay limit (60/s by default) is the product working as
    # designed; here it is lifted to measure the relay path itself.
    extra = ("--relay-rate=1000000",) if subject == "watercooler" else ()
    with start_subject(subject, log_dir=p.log_dir, extra=extra) as server:
        spec = {"port": server.port, "pairs": p.relay_pairs, "samples": p.relay_samples,
                "seconds": p.relay_seconds, "window": 20, "secret": BENCH_SECRET,
                "sprint_base": fresh_sprint()}
        profiler = (Profiler(server.pid, p.results / f"profile-relay-{subject}.txt")
                    if p.results is not None and p.name != "smoke"
                    and subject != "channels" else None)
        if profiler is not None:  # a window of its own: py-spy needs a core too
            spec["profile_seconds"] = min(3.0, p.relay_seconds)
        profiled: dict[str, Any] = {}
        (result,), s = measure([server], [LoadGen("relay", spec)], timeout=300,
                               on_mark=profile_phase(profiler, profiled))
    if profiled:
        result["profile"] = profiled
    lat = s.cost("latency_start", "latency_end")
    tp = s.cost("throughput_start", "throughput_end")
    result.update({
        "subject": subject,
        "latency_cpu_us_per_frame": lat["server_cpu_s"] / max(result["latency"]["n"], 1) * 1e6,
        "throughput_server_cpu_pct": 100 * tp["server_cpu_s"] / tp["wall_s"],
        "throughput_loadgen_cpu_pct": 100 * tp["loadgen_cpu_s"] / tp["wall_s"],
        "throughput_cpu_us_per_frame":
            tp["server_cpu_s"] / max(result["delivered_in_window"], 1) * 1e6,
    })
    log.info("relay %s: p50 %.3f ms p99 %.3f ms, %.0f frames/s", subject,
             result["latency"]["p50"] or -1, result["latency"]["p99"] or -1,
             result["frames_s"])
    return result


# --- load generator (mode ``relay``) ------------------------------------------------------


def move(seq: int) -> bytes:
    """A drag move as a client sends it (compact JSON, the seq the receiver matches)."""
    return json.dumps({"type": "relay", "data": {
        "type": "drag", "seq": seq, "task": 7, "phase": "move", "status": "testing",
        "index": 2, "x": round(0.41 + seq % 100 / 1000, 3), "y": 0.63}},
        separators=(",", ":")).encode()


class RelayRun:
    """``pairs`` pairs of clients, each pair in a sprint of its own; A sends, B receives."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.pairs = spec["pairs"]
        self.arrived: dict[int, dict[int, float]] = {p: {} for p in range(self.pairs)}
        self.received = [0] * self.pairs
        self.sent = [0] * self.pairs
        self.next_seq = [spec["samples"] + 1] * self.pairs
        self.waiting: dict[tuple[int, int], asyncio.Future[None]] = {}
        self.senders: list[WsClient] = []
        self.receivers: list[WsClient] = []

    def on_b(self, client: WsClient, payload: bytes) -> None:
        if not payload.startswith(b'{"type":"relay"'):
            return
        p, seq = client.tag, seq_of(payload)
        self.arrived[p][seq] = now()
        self.received[p] += 1
        fut = self.waiting.pop((p, seq), None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def connect(self) -> None:
        base, port = self.spec.get("sprint_base", 1), self.spec["port"]
        for p in range(self.pairs):
            sprint = base + p
            a = await WsClient.connect("127.0.0.1", port, token_path(self.spec, sprint, 1))
            b = await WsClient.connect("127.0.0.1", port, token_path(self.spec, sprint, 2),
                                       self.on_b)
            b.tag = p
            self.senders.append(a)
            self.receivers.append(b)

    async def latency(self) -> dict[str, Any]:
        """``samples`` moves on the first pair, each after the previous one arrived."""
        sent_at: dict[int, float] = {}
        loop = asyncio.get_running_loop()
        for seq in range(1, self.spec["samples"] + 1):
            fut = loop.create_future()
            self.waiting[(0, seq)] = fut
            sent_at[seq] = now()
            self.senders[0].send(move(seq))
            try:
                await asyncio.wait_for(fut, 2.0)
            except TimeoutError:
                say(f"relay seq {seq} lost")
        lat = [self.arrived[0][s] - sent_at[s] for s in sent_at if s in self.arrived[0]]
        return {"latency": stats_ms(lat), "latency_lost": len(sent_at) - len(lat)}

    async def blast(self, seconds: float, window: int) -> tuple[float, int]:
        """Every sender keeps ``window`` moves in flight for ``seconds``: (elapsed, got)."""
        base = list(self.received)
        in_flight = [0] * self.pairs
        start = now()
        while now() - start < seconds:
            for p in range(self.pairs):
                while in_flight[p] - (self.received[p] - base[p]) < window:
                    self.senders[p].send(move(self.next_seq[p]))
                    self.next_seq[p] += 1
                    self.sent[p] += 1
                    in_flight[p] += 1
            await asyncio.sleep(0)
        return now() - start, sum(self.received) - sum(base)


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """Latency phase, throughput phase, an optional profiling phase."""
    relay = RelayRun(spec)
    await relay.connect()
    await asyncio.sleep(0.5)
    await mark("latency_start")
    result = await relay.latency()
    await mark("latency_end")
    window = spec.get("window", 20)
    await mark("throughput_start")
    elapsed, got = await relay.blast(spec["seconds"], window)
    await mark("throughput_end")
    if spec.get("profile_seconds"):
        await asyncio.sleep(0.5)
        await mark("profile_start")
        await relay.blast(spec["profile_seconds"], window)
        await mark("profile_end")
    await asyncio.sleep(1.0)
    result.update({"pairs": relay.pairs, "window": window, "seconds": elapsed,
                   "sent": sum(relay.sent), "delivered_in_window": got,
                   "frames_s": got / elapsed, "delivered_total": sum(relay.received)})
    await close_all(relay.senders + relay.receivers)
    return result


# --- report -----------------------------------------------------------------------------


def section(data: dict[str, Any]) -> list[str]:
    """``## 3. Relay``."""
    rows = rows_of(data, "relay")
    if not rows:
        return skipped(data, "relay")
    wc = find(rows, subject="watercooler")
    out = ["## 3. Relay", "",
           "A drag `move` from client A to client B of the same sprint, through the server. "
           "Latency: one move at a time, A's send to B's receipt (same process clock). "
           "Throughput: "
           f"{fmt(rows[0]['pairs'])} pairs, each sender keeping {rows[0]['window']} moves in "
           "flight. Watercooler ran with `--relay-rate=1000000`: its per-connection limit "
           "(60/s by default, coalescing moves beyond it) is the product working as designed, "
           "lifted here to measure the relay path itself.", ""]
    out += table(
        ["server", "p50 ms", "p99 ms", "lost", "frames/s (all pairs)", f"{X} Watercooler",
         "server CPU µs/frame", "server CPU", "load gen CPU"],
        [[NAMES[r["subject"]], fmt(r["latency"]["p50"], 3), fmt(r["latency"]["p99"], 3),
          fmt(r["latency_lost"]), fmt(r["frames_s"], 0),
          ratio(r["frames_s"], get(wc, "frames_s")),
          fmt(r["throughput_cpu_us_per_frame"], 1), f"{fmt(r['throughput_server_cpu_pct'], 0)} %",
          f"{fmt(r['throughput_loadgen_cpu_pct'], 0)} %"] for r in rows])
    return out


def plot(data: dict[str, Any], out: Path) -> list[str]:
    """``relay.png``: latency and throughput per server."""
    rel = rows_of(data, "relay")
    if not rel:
        return []
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    names = [NAMES[r["subject"]] for r in rel]
    ax1.bar(names, [r["latency"]["p50"] for r in rel], label="p50")
    ax1.bar(names, [r["latency"]["p99"] - r["latency"]["p50"] for r in rel],
            bottom=[r["latency"]["p50"] for r in rel], alpha=0.5, label="p99")
    ax1.set_ylabel("ms, A → server → B")
    ax1.legend()
    ax1.set_title("Relay latency")
    ax2.bar(names, [r["frames_s"] for r in rel])
    ax2.set_ylabel("relayed frames/s")
    ax2.set_title("Relay throughput")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=8)
    return save_figure(fig, out, "relay.png", "relay")


def bounds(data: dict[str, Any]) -> list[str]:
    """What a relayed frame costs beyond the naive server's, when p50 misses 0.3 ms."""
    rel = rows_of(data, "relay")
    wr, nr = find(rel, subject="watercooler"), find(rel, subject="naive")
    if not wr or (wr["latency"]["p50"] or 0) <= 0.3:
        return []
    out = [f"**Relay p50** ({fmt(wr['latency']['p50'], 3)} ms): the naive server, which "
           "forwards the client's text without reading it, takes "
           f"{fmt(get(nr, 'latency', 'p50'), 3)} ms with the same load generator; that "
           "difference is Watercooler decoding and validating the frame, rate-limiting "
           "it, stamping `from` and encoding it again (server CPU "
           f"{fmt(wr['throughput_cpu_us_per_frame'], 1)} µs per relayed frame against "
           f"{fmt(get(nr, 'throughput_cpu_us_per_frame'), 1)} µs). The rest of the "
           "round is both clients and two loopback hops.", ""]
    if wr.get("profile") and "error" not in wr["profile"]:
        out += ["py-spy on the node during the relay throughput phase (inclusive; the "
                "pre-framed write is `Node.deliver`):", ""]
        out += [*profile_lines(wr["profile"], "inclusive", 12, keep=lambda f: any(
            k in f for k in ("SprintHandler.", "OutboundSocket.", "RelayPolicy.",
                             "decode (", "encode (", "deliver (",
                             "_receive_frame (", "labels (", "TokenBucket.take",
                             "write_framed", "Counter.inc"))), ""]
    return out
