"""Workload 9, Server-Sent Events: fan-out over ``GET /<sprint>/stream`` beside websockets.

The same closed loop as workload 2 (`fanout`: one event at a time to S subscribers, the
next once every subscriber has it), with S SSE streams on Watercooler, S websockets on
Watercooler and S websockets on Django Channels, all in the same run: the server's CPU per
delivered event frame and the latency until the last subscriber has it. Then N idle SSE
streams (10 per sprint) beside N idle websockets on Watercooler and on Channels: RSS per
connection. Load generator mode ``sse`` (a minimal SSE client, ``SseConn``, for the
streams; the websocket rows reuse `fanout.fanout_once` and `connections`); the report's
section 9.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.harness import fresh_sprint, log, measure
from bench.loadgen import EventBook, mark, now, post_event, stats_ms, wait_quiet
from bench.loadgen import log as say
from bench.procs import LoadGen
from bench.profiles import Profile
from bench.subjects import BENCH_SECRET, start_subject
from bench.tables import NAMES, fmt, ratio, skipped, table
from bench.wire import HttpClient
from bench.workloads import connections, fanout
from tests.servers import make_token

__all__ = ["SseConn", "generate", "run", "section"]


# --- coordinator ------------------------------------------------------------------------


def run(p: Profile) -> dict[str, Any]:
    """Fan-out rows (SSE, websocket, Channels) at the profile's rate S, then idle memory."""
    subs = p.rate_subscribers
    events = max(5, min(p.fanout_events, p.fanout_frame_budget // subs))
    rows = []
    with start_subject("watercooler", log_dir=p.log_dir) as server:
        rows.append(_sse_fanout(server, subs, events))
    with start_subject("watercooler", log_dir=p.log_dir) as server:
        rows.append(_row("websocket", fanout.fanout_once(p, "watercooler", [server], subs,
                                                          events, ())))
    if "channels" in p.subjects:
        with start_subject("channels", log_dir=p.log_dir) as server:
            rows.append(_row("websocket", fanout.fanout_once(
                p, "channels", [server], subs, max(2, min(events, 10_000 // subs)), ())))
    n = p.connections[0]
    idle = [_sse_idle(p, n), _ws_idle(p, "watercooler", n)]
    if "channels" in p.subjects:
        idle.append(_ws_idle(p, "channels", min(n, 1000)))
    for r in rows:
        log.info("sse workload %s %s S=%d: %.2f us/frame, p50 %.2f ms", r["subject"],
                 r["transport"], r["subscribers"], r["cpu_us_per_frame"], r["last"]["p50"] or -1)
    for r in idle:
        log.info("sse workload idle %s %s N=%d: %.1f KiB/conn", r["subject"], r["transport"],
                 r["n"], r["rss_per_conn_kib"])
    return {"rows": rows, "idle": idle}


def _row(transport: str, result: dict[str, Any]) -> dict[str, Any]:
    c = result["closed"]
    return {"subject": result["subject"], "transport": transport,
            "subscribers": result["subscribers"], "events": c["events"], "last": c["last"],
            "cpu_us_per_frame": c["cpu_us_per_frame"], "lost_frames": result["lost_frames"]}


def _sse_fanout(server: Any, subs: int, events: int) -> dict[str, Any]:
    spec = {"port": server.port, "sprint": fresh_sprint(), "subscribers": subs,
            "events": events, "secret": BENCH_SECRET}
    (result,), s = measure([server], [LoadGen("sse", spec)], timeout=600)
    cost = s.cost("closed_start", "closed_end")
    frames = result["events"] * subs - result["missing"]
    return {"subject": "watercooler", "transport": "sse", "subscribers": subs,
            "events": result["events"], "last": result["last"],
            "cpu_us_per_frame": cost["server_cpu_s"] / max(frames, 1) * 1e6,
            "lost_frames": result["lost_frames"]}


def _sse_idle(p: Profile, n: int) -> dict[str, Any]:
    with start_subject("watercooler", log_dir=p.log_dir) as server:
        time.sleep(0.5)
        before = server.usage()
        spec = {"port": server.port, "sprint": fresh_sprint(), "hold": n, "secret": BENCH_SECRET}
        (result,), s = measure([server], [LoadGen("sse", spec)], timeout=600)
    at = s.marks["connected"][0][0]
    return {"subject": "watercooler", "transport": "sse", "n": result["connected"],
            "rss_per_conn_kib": (at.rss - before.rss) / max(result["connected"], 1) / 1024}


def _ws_idle(p: Profile, subject: str, n: int) -> dict[str, Any]:
    row = connections._held(p, subject, n)
    return {"subject": subject, "transport": "websocket", "n": row["connected"],
            "rss_per_conn_kib": row["rss_per_conn_kib"]}


# --- load generator (mode ``sse``) --------------------------------------------------------


class SseConn(asyncio.Protocol):
    """One SSE stream read raw: each message's ``data:`` line to ``on_data(conn, data)``.

    Tornado writes every message as one HTTP chunk, so splitting the body at blank lines
    finds the messages; the chunk-size lines between them are never on a ``data:`` line.
    """

    def __init__(self, on_data: Any) -> None:
        self.on_data = on_data
        self.buffer = b""
        self.messages = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        parts = (self.buffer + data).split(b"\n\n")
        self.buffer = parts.pop()
        for part in parts:
            at = part.find(b"data: ")
            if at >= 0:
                self.messages += 1
                end = part.find(b"\n", at)
                self.on_data(self, part[at + 6:end if end >= 0 else len(part)])

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def _open(spec: dict[str, Any], sprint: int, user: int, on_data: Any) -> SseConn:
    token = make_token(user_id=user, username=f"u{user}", sprint=sprint, secret=spec["secret"],
                       ttl=7200)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: SseConn(on_data), "127.0.0.1", spec["port"])
    assert conn.transport is not None
    conn.transport.write(f"GET /{sprint}/stream?token={token} HTTP/1.1\r\n"
                         f"Host: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    return conn


async def _open_many(spec: dict[str, Any], count: int, sprint_of: Any, on_data: Any
                     ) -> list[SseConn]:
    sem = asyncio.Semaphore(100)

    async def one(i: int) -> SseConn:
        async with sem:
            return await _open(spec, sprint_of(i), 1000 + i, on_data)

    conns = await asyncio.gather(*(one(i) for i in range(count)))
    deadline = now() + 120
    while any(c.messages == 0 for c in conns) and now() < deadline:  # presence: joined
        await asyncio.sleep(0.05)
    return list(conns)


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """``hold``: N idle streams held until told; else S streams and a closed loop."""
    if spec.get("hold"):
        base = spec["sprint"]
        conns = await _open_many(spec, spec["hold"], lambda i: base + i // 10, lambda c, d: None)
        await mark("connected")
        await mark("idle_end")
        for c in conns:
            c.abort()
        return {"connected": sum(1 for c in conns if not c.closed.done())}
    subs, sprint = spec["subscribers"], spec["sprint"]
    book = EventBook(subs)
    conns = await _open_many(spec, subs, lambda i: sprint, book.on_message)
    http = HttpClient("127.0.0.1", spec["port"])
    await mark("closed_start")
    seqs = []
    for seq in range(1, spec["events"] + 1):
        book.complete[seq] = asyncio.get_running_loop().create_future()
        book.posted[seq] = now()
        await post_event(http, spec, sprint, seq)
        seqs.append(seq)
        try:
            await asyncio.wait_for(book.complete[seq], 5.0)
        except TimeoutError:
            say(f"sse seq {seq}: {book.count.get(seq, 0)}/{subs} after timeout")
            break
    await mark("closed_end")
    await wait_quiet(book, seqs, 3.0)
    last, _, missing = book.latencies(seqs)
    got = sum(book.per_client.get(id(c), 0) for c in conns)
    await http.close()
    for c in conns:
        c.abort()
    return {"events": len(seqs), "last": stats_ms(last), "missing": missing,
            "lost_frames": len(seqs) * subs - got}


# --- report -----------------------------------------------------------------------------


def section(data: dict[str, Any]) -> list[str]:
    """``## 9. Server-Sent Events``."""
    w = data["workloads"].get("sse")
    if not w or "rows" not in w:
        return skipped(data, "sse") if w else []
    rows, idle = w["rows"], w["idle"]
    base = next((r["cpu_us_per_frame"] for r in rows
                 if r["subject"] == "watercooler" and r["transport"] == "websocket"), None)
    out = ["## 9. Server-Sent Events", "",
           "The fan-out closed loop of section 2 with the subscribers on `GET /<sprint>/stream` "
           "(SSE) instead of websockets, beside both websocket servers, in the same run. CPU: "
           "the server's CPU during the loop divided by the event frames delivered.", ""]
    out += table(["server", "transport", "S", "events", "last p50 ms", "last p99 ms",
                  "server CPU µs/frame", "vs Watercooler websocket", "lost frames"],
                 [[NAMES[r["subject"]], r["transport"], fmt(r["subscribers"]), fmt(r["events"]),
                   fmt(r["last"]["p50"], 2), fmt(r["last"]["p99"], 2),
                   fmt(r["cpu_us_per_frame"], 2), ratio(r["cpu_us_per_frame"], base),
                   fmt(r["lost_frames"])] for r in rows])
    out += ["Idle connections: RSS growth of the server per connection held (10 per sprint).",
            ""]
    out += table(["server", "transport", "N", "RSS KiB/connection"],
                 [[NAMES[r["subject"]], r["transport"], fmt(r["n"]),
                   fmt(r["rss_per_conn_kib"], 1)] for r in idle])
    return out
