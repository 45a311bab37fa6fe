"""``python -m peer watch``: join a sprint and print presence, drags (and their path),
events and the open data channels, one line each, until Ctrl-C or ``--seconds``."""

from __future__ import annotations

import asyncio
from typing import Any

from peer.client import Presence, ReceivedDrag
from peer.session import Session, stamp

__all__ = ["describe_drag", "describe_event", "describe_presence", "watch"]


def describe_drag(item: ReceivedDrag) -> str:
    d = item.drag
    who = (item.user or {}).get("username", "?")
    where = f" {d.status}[{d.index}]" if d.status is not None else ""
    pos = f" x={d.x:.2f} y={d.y:.2f}" if d.x is not None and d.y is not None else ""
    return f"drag {who} ({item.sender}) task {d.task} {d.phase}{where}{pos} via {item.via}"


def describe_event(frame: dict[str, Any]) -> str:
    if frame.get("type") == "resync":
        return f"resync latest={frame.get('latest')} (refetching)"
    data = frame.get("data") or {}
    name = f" {data.get('name')!r}" if isinstance(data, dict) and "name" in data else ""
    actor = frame.get("actor")
    who = f" by {actor.get('username')}" if isinstance(actor, dict) else ""
    return (f"event {frame.get('seq')} {frame.get('action')} {frame.get('model')} "
            f"{frame.get('id')}{name}{who}")


def describe_presence(item: Presence) -> str:
    return f"presence {item.kind} {item.peer.username} ({item.peer.peer})"


async def watch(session: Session, seconds: float | None) -> None:
    peer = await session.peer()
    try:
        print(f"{stamp()} joined sprint {peer.sprint} as {peer.peer_id}; peers: "
              + (", ".join(f"{i.username} ({p})" for p, i in peer.peers.items()) or "none"),
              flush=True)
        peer.presence.on(lambda p: print(stamp(), describe_presence(p), flush=True))
        peer.drags.on(lambda d: print(stamp(), describe_drag(d), flush=True))
        peer.events.on(lambda e: print(stamp(), describe_event(e), flush=True))
        last: frozenset[str] = frozenset()
        deadline = None if seconds is None else asyncio.get_running_loop().time() + seconds
        while deadline is None or asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            if peer.channel_peers() != last:
                last = peer.channel_peers()
                print(stamp(), "channels open to:", ", ".join(sorted(last)) or "none",
                      flush=True)
    finally:
        await peer.close()
