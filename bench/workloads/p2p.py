"""Workload 5, peer-to-peer offload: 10 aiortc peers (`peer/`) of one sprint, each dragging a
task at 60 Hz, with data channels and again websocket-only; server frames from the node's
``/metrics``, server CPU from ``/proc``. Load generator mode ``p2p``; the report's section 5.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bench.harness import fresh_sprint, log, measure, metric
from bench.loadgen import mark, now
from bench.procs import LoadGen
from bench.profiles import Profile
from bench.subjects import BENCH_SECRET, start_subject
from bench.tables import fmt, rows_of, skipped, table
from tests.servers import make_token

if TYPE_CHECKING:
    from peer.client import Peer

__all__ = ["generate", "run", "section"]

#: The node's counters read before and after the drags.
COUNTERS = ("watercooler_frames_in_total", "watercooler_frames_out_total",
            "watercooler_relayed_total", "watercooler_relay_deliveries_total")


# --- coordinator ------------------------------------------------------------------------


def run(p: Profile) -> dict[str, Any]:
    """The same drags with data channels, then with ``webrtc=False`` (relay only)."""
    rows = [_mode(p, webrtc) for webrtc in (True, False)]
    return {"rows": rows, "note": "mesh_limit=10 so that every pair of the 10 peers may open "
                                  "a channel (the default mesh limit is 8)"}


def _mode(p: Profile, webrtc: bool) -> dict[str, Any]:
    with start_subject("watercooler", log_dir=p.log_dir) as server:
        spec = {"port": server.port, "sprint": fresh_sprint(), "peers": 10, "hz": 60,
                "seconds": p.p2p_seconds, "webrtc": webrtc, "secret": BENCH_SECRET,
                "mesh_limit": 10}
        counters: dict[str, dict[str, float]] = {}

        def sample(name: str) -> None:
            counters[name] = {n: metric(server, n) for n in COUNTERS}

        (result,), s = measure([server], [LoadGen("p2p", spec)], timeout=300, on_mark=sample)
    cost = s.cost("drag_start", "drag_end")
    frames = {n.removeprefix("watercooler_").removesuffix("_total"):
              counters["drag_end"][n] - counters["drag_start"][n] for n in COUNTERS}
    result.update({**cost, "server_frames": frames,
                   "server_frames_per_move": (frames["frames_in"] + frames["frames_out"])
                   / max(result["moves_sent"], 1)})
    log.info("p2p webrtc=%s: %d/%d pairs open, frames in %d out %d, cpu %.2f s",
             webrtc, result["pairs_open"], result["pairs_total"], frames["frames_in"],
             frames["frames_out"], cost["server_cpu_s"])
    return result


# --- load generator (mode ``p2p``) --------------------------------------------------------


async def _join(spec: dict[str, Any]) -> list[Peer]:
    from peer.client import Peer

    n = spec["peers"]
    url = f"ws://127.0.0.1:{spec['port']}/{spec['sprint']}/"
    peers: list[Peer] = []
    for i in range(n):
        token = make_token(user_id=i + 1, username=f"p{i}", sprint=spec["sprint"],
                           secret=spec["secret"], ttl=7200)
        peers.append(await Peer.connect(url, token, webrtc=spec["webrtc"],
                                        mesh_limit=spec.get("mesh_limit", n),
                                        negotiation_timeout=20.0))
    return peers


async def _mesh(spec: dict[str, Any], peers: list[Peer]) -> float:
    """Seconds until every pair has a data channel (0 without WebRTC)."""
    if not spec["webrtc"]:
        return 0.0
    start = now()
    while now() - start < spec.get("mesh_timeout", 60):
        if all(len(p.channel_peers()) == len(peers) - 1 for p in peers):
            break
        await asyncio.sleep(0.1)
    return now() - start


async def _drag(spec: dict[str, Any], k: int, peer: Peer, start: float) -> int:
    """One peer's drag: start, a move every 1/hz s for ``seconds``, end; moves sent."""
    task = 100 + k
    ticks = int(spec["hz"] * spec["seconds"])
    await peer.send_drag(task, "start", status="not_started", index=0, x=0.1, y=0.1)
    for i in range(ticks):
        delay = start + (i + 1) / spec["hz"] - now()
        if delay > 0:
            await asyncio.sleep(delay)
        await peer.send_drag(task, "move", status="in_progress", index=1, x=(i % 100) / 100,
                             y=0.5)
    await peer.send_drag(task, "end", status="testing", index=2)
    return ticks


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """``peers`` peers of one sprint, each dragging at ``hz``; moves seen, by path."""
    import logging

    logging.getLogger("aioice").setLevel(logging.ERROR)
    peers = await _join(spec)
    received = {"datachannel": 0, "relay": 0}

    def count(r: Any) -> None:
        received[r.via] += 1

    for p in peers:
        p.drags.on(count)
    mesh_s = await _mesh(spec, peers)
    pairs_open = sum(len(p.channel_peers()) for p in peers) // 2
    await asyncio.sleep(0.5)
    await mark("drag_start")
    start = now()
    sent = sum(await asyncio.gather(*(_drag(spec, k, p, start) for k, p in enumerate(peers))))
    elapsed = now() - start
    await asyncio.sleep(1.0)
    await mark("drag_end")
    n = spec["peers"]
    result = {"peers": n, "webrtc": spec["webrtc"], "pairs_open": pairs_open,
              "pairs_total": n * (n - 1) // 2, "mesh_s": mesh_s, "moves_sent": sent,
              "drag_s": elapsed, "received": received}
    await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
    return result


# --- report -----------------------------------------------------------------------------


def section(data: dict[str, Any]) -> list[str]:
    """``## 5. Peer-to-peer offload``."""
    rows = rows_of(data, "p2p")
    if not rows:
        return skipped(data, "p2p")
    out = ["## 5. Peer-to-peer offload", "",
           "10 aiortc peers (`peer/`) in one sprint, each dragging a task at 60 Hz; server "
           "frames from the node's `/metrics`, server CPU from /proc. "
           + data["workloads"]["p2p"].get("note", "") + ".", ""]
    out += table(["mode", "pairs with a channel", "moves sent", "server frames in",
                  "server frames out", "server frames / move", "server CPU s",
                  "moves seen by peers (channel / relay)"],
                 [["data channels" if r["webrtc"] else "websocket only (`webrtc=False`)",
                   f"{r['pairs_open']}/{r['pairs_total']}", fmt(r["moves_sent"]),
                   fmt(int(r["server_frames"]["frames_in"])),
                   fmt(int(r["server_frames"]["frames_out"])),
                   fmt(r["server_frames_per_move"], 2), fmt(r["server_cpu_s"], 2),
                   f"{fmt(r['received']['datachannel'])} / {fmt(r['received']['relay'])}"]
                  for r in rows])
    return out
