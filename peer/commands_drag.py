"""``python -m peer drag`` and ``swarm``: simulated pointers. ``drag`` moves one task
across the columns at display rate; ``swarm`` runs N such users at once, each first making
drag-and-drops through the API in one column, then checks every board against the server
(for load, demos and a consistency check)."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass

from peer.client import Peer
from peer.moves import ColumnCheck, MoveTally, busiest_column, check_column, drag_and_drop
from peer.session import Session, stamp
from signaling.protocol import STATUSES

__all__ = ["DRAG_RATE", "SwarmOutcome", "drag_once", "drag_path", "drag_task", "swarm"]

DRAG_RATE = 60.0  # updates per second, as a pointer at display refresh rate


def drag_path(step: int, steps: int) -> tuple[str, float, float]:
    """Where a simulated pointer is at ``step`` of ``steps``: column, x, y."""
    x = min(1.0, step / max(1, steps))
    status = STATUSES[min(len(STATUSES) - 1, int(x * len(STATUSES)))]
    y = 0.5 + 0.3 * math.sin(x * math.pi * 2)
    return status, x, y


async def drag_once(peer: Peer, task: int, seconds: float, rate: float) -> int:
    """One start → moves at ``rate`` Hz for ``seconds`` → end. Returns the updates sent."""
    steps = max(1, int(seconds * rate))
    status, x, y = drag_path(0, steps)
    await peer.send_drag(task, "start", status=status, index=0, x=x, y=y)
    for step in range(1, steps + 1):
        await asyncio.sleep(1 / rate)
        status, x, y = drag_path(step, steps)
        await peer.send_drag(task, "move", status=status, index=0, x=x, y=y)
    await peer.send_drag(task, "end", status=status, index=0)
    return steps + 2


async def drag_task(session: Session, task: int, seconds: float, rate: float) -> None:
    peer = await session.peer()
    try:
        await asyncio.sleep(0.5)  # give the data channels a moment to open
        print(f"{stamp()} {peer.peer_id}: dragging task {task}; channels to "
              f"{len(peer.channel_peers())} of {len(peer.peers)} peers", flush=True)
        sent = await drag_once(peer, task, seconds, rate)
        print(f"{stamp()} {peer.peer_id}: sent {sent} updates", flush=True)
        await asyncio.sleep(0.2)  # let the last frames leave
    finally:
        await peer.close()


@dataclass
class SwarmOutcome:
    """What ``swarm`` saw: drag updates shown, the drops' tally, and the column check
    (None when there were no drops)."""

    shown: int
    tally: MoveTally
    check: ColumnCheck | None = None


async def swarm(session: Session, n: int, seconds: float, rate: float, *, moves: int = 0,
                column: str | None = None, seed: int | None = None) -> SwarmOutcome:
    """``n`` peers drag for ``seconds``; each first makes ``moves`` drag-and-drops at random
    within ``column`` (needs the REST API), then every board is checked against the server."""
    peers: list[Peer] = []
    received = [0]
    tally = MoveTally()
    rng = random.Random(seed)
    try:
        for _ in range(n):
            peer = await session.peer()
            peer.drags.on(lambda _d: received.__setitem__(0, received[0] + 1))
            peers.append(peer)
        tasks = sorted(peers[0].board.tasks) or list(range(1, n + 1))
        api = session.api if moves > 0 and not session.args.ticket else None
        status = column or busiest_column(peers[0].board.tasks)
        await asyncio.sleep(1.0)
        print(f"{stamp()} swarm of {n}: channels "
              f"{sum(len(p.channel_peers()) for p in peers) // 2} pairs open", flush=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def user(i: int, peer: Peer) -> None:
            drops = 0
            while api is not None and status is not None and drops < moves:
                await drag_and_drop(peer, api, status, tally, rng=rng, rate=rate)
                drops += 1
            while loop.time() < deadline:
                await drag_once(peer, tasks[i % len(tasks)], min(2.0, seconds), rate)

        await asyncio.gather(*(user(i, p) for i, p in enumerate(peers)))
        await asyncio.sleep(0.5)
        print(f"{stamp()} swarm done: {received[0]} drag updates shown across {n} peers",
              flush=True)
        outcome = SwarmOutcome(shown=received[0], tally=tally)
        if api is not None and status is not None and tally.drops:
            outcome.check = await check_column(peers, api, session.args.sprint, status)
            _print_moves(tally, outcome.check)
        elif moves > 0:
            print(f"{stamp()} no drops: they need the REST API (not --ticket) and a column "
                  "with two cards or more", flush=True)
        return outcome
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)


def _print_moves(tally: MoveTally, check: ColumnCheck) -> None:
    print(f"{stamp()} drops in {check.status}: {tally.drops} made, {tally.moved} moved, "
          f"{tally.conflicts} conflicts (412: the card had moved since the drag began), "
          f"{tally.refused} refused (400)", flush=True)
    for error in tally.errors:
        print(f"  {error}", flush=True)
    verdict = "consistent" if check.consistent else "NOT consistent"
    print(f"{stamp()} column {check.status} ({len(check.server)} cards): {check.agreeing}/"
          f"{check.peers} boards show the server's order, ranks "
          f"{'all distinct' if check.distinct_ranks else 'TIED'}: {verdict}", flush=True)
