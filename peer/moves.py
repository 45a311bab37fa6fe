"""Concurrent moves, as ``python -m peer swarm`` makes them: peers drag cards of one column
and drop them at random places at the same time, then every board is checked against the
server's.

A move is decided on the peer's own board (kept current by events) and names the version
of the card it saw (``If-Match``), as the browser's drop does. When someone else moved the
card first, the server refuses with `Conflict`: counted here, and the board catches up from
the winner's event. At the end every peer's column must equal the server's, card for card,
and no two cards of it may share a rank.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from peer.api import ApiClient, ApiError, Conflict
from peer.client import Peer
from peer.event_stream import board_order
from signaling.protocol import STATUSES

__all__ = ["ColumnCheck", "MoveTally", "busiest_column", "check_column", "drag_and_drop"]

#: Error messages kept for the report (the counts are complete; the texts are a sample).
MAX_ERRORS = 20


@dataclass
class MoveTally:
    """What the drops came to: moved, refused as stale (412), refused as invalid (400)."""

    moved: int = 0
    conflicts: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def drops(self) -> int:
        return self.moved + self.conflicts + self.refused

    def note(self, error: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)


@dataclass(frozen=True)
class ColumnCheck:
    """A column on the server against the same column on every peer's board."""

    status: str
    server: list[int]  # task ids in the server's order
    agreeing: int  # peers whose board shows exactly that order
    peers: int
    distinct_ranks: bool  # a strict total order: no two cards share a rank

    @property
    def consistent(self) -> bool:
        return self.agreeing == self.peers and self.distinct_ranks


async def drag_and_drop(peer: Peer, api: ApiClient, status: str, tally: MoveTally, *,
                        rng: random.Random, rate: float = 60.0,
                        drag_seconds: float = 0.3) -> None:
    """Pick a random card of column ``status`` on ``peer``'s board, drag it for
    ``drag_seconds`` (others see the ghost), and drop it below a random other card of the
    column (or at the top), naming the version it had when the drag started."""
    column = peer.board.column(status)
    if len(column) < 2:
        return
    task = rng.choice(column)
    others = [t for t in column if t["id"] != task["id"]]
    # any slot but its own on this board: a drop where the card is would change nothing
    slot = rng.choice([i for i in range(len(others) + 1) if i != column.index(task)])
    after = others[slot - 1]["id"] if slot else None
    await peer.send_drag(task["id"], "start", status=status, index=column.index(task))
    for _ in range(max(1, int(drag_seconds * rate))):
        await asyncio.sleep(1 / rate)
        await peer.send_drag(task["id"], "move", status=status, index=slot)
    await peer.send_drag(task["id"], "end", status=status, index=slot)
    try:
        await api.move(task, status=status, after=after, if_match=task.get("version"))
        tally.moved += 1
    except Conflict:
        tally.conflicts += 1
    except ApiError as exc:
        if exc.status != 400:
            raise
        tally.refused += 1
        tally.note(str(exc))


async def check_column(peers: list[Peer], api: ApiClient, sprint: int, status: str, *,
                       timeout: float = 10.0) -> ColumnCheck:
    """The server's column ``status`` of ``sprint``, and how many boards show it the same.

    Boards are given up to ``timeout`` seconds to receive the last events.
    """
    tasks = await api.tasks(sprint)
    column = sorted((t for t in tasks if t.get("status") == status), key=board_order)
    server = [t["id"] for t in column]

    def agreeing() -> int:
        return sum(1 for p in peers if [t["id"] for t in p.board.column(status)] == server)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while agreeing() < len(peers) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    ranks = [t.get("rank") for t in column]
    return ColumnCheck(status=status, server=server, agreeing=agreeing(), peers=len(peers),
                       distinct_ranks=len(set(ranks)) == len(ranks))


def busiest_column(board_tasks: dict[int, dict[str, Any]]) -> str | None:
    """The status with the most cards on a board (ties: the earlier column), or None."""
    counts = {s: 0 for s in STATUSES}
    for t in board_tasks.values():
        if t.get("status") in counts:
            counts[t["status"]] += 1
    best = max(STATUSES, key=lambda s: counts[s])
    return best if counts[best] else None
