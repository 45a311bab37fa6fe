"""Drag state: numbering what we send, deduping what we receive, and ghosts that expire.

A sender numbers its updates with one counter across all its drags (docs/protocol.md
§8). A receiver keeps the highest ``seq`` it has shown per sender and drops anything
not above it, so an update that came both by data channel and by relay shows once, and
a late ``move`` cannot revive a ghost after its ``end``. No I/O; time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from signaling.protocol import Drag

__all__ = ["GHOST_TTL", "DragReceiver", "DragSequence", "Ghost"]

#: A ghost with no update for this long (seconds) is removed (protocol §8).
GHOST_TTL = 5.0


class DragSequence:
    """Makes this sender's drag updates with strictly increasing ``seq`` (from 1)."""

    def __init__(self) -> None:
        self._seq = 0

    @property
    def last(self) -> int:
        """The ``seq`` of the last update made (0 before the first)."""
        return self._seq

    def next(self, task: int, phase: str, *, status: str | None = None,
             index: int | None = None, x: float | None = None,
             y: float | None = None) -> Drag:
        """A new update; raises ``ProtocolError`` (and burns no seq) if a field is invalid."""
        drag = Drag(seq=self._seq + 1, task=task, phase=phase, status=status, index=index,
                    x=x, y=y)
        self._seq += 1
        return drag


@dataclass(frozen=True, slots=True)
class Ghost:
    """Another peer's card in flight, as last seen."""

    sender: str
    drag: Drag
    updated: float  # the receiver's clock (seconds) when the last update came


class DragReceiver:
    """Per-sender dedupe by ``seq`` plus the ghosts currently shown.

    ``ttl`` is how long a ghost lives without updates (default `GHOST_TTL`, 5 s).
    """

    def __init__(self, ttl: float = GHOST_TTL) -> None:
        self.ttl = ttl
        self._last_seq: dict[str, int] = {}
        self._ghosts: dict[tuple[str, int], Ghost] = {}

    def accept(self, sender: str, drag: Drag, now: float) -> bool:
        """Record an update; False means drop it (not above the last seq shown from ``sender``)."""
        if drag.seq <= self._last_seq.get(sender, 0):
            return False
        self._last_seq[sender] = drag.seq
        key = (sender, drag.task)
        if drag.phase == "end":
            self._ghosts.pop(key, None)
        else:
            self._ghosts[key] = Ghost(sender=sender, drag=drag, updated=now)
        return True

    def forget(self, sender: str) -> list[Ghost]:
        """The sender left: remove its ghosts and its seq (a new connection is a new peer id)."""
        self._last_seq.pop(sender, None)
        gone = [g for k, g in self._ghosts.items() if k[0] == sender]
        for ghost in gone:
            del self._ghosts[(ghost.sender, ghost.drag.task)]
        return gone

    def expire(self, now: float) -> list[Ghost]:
        """Remove and return the ghosts with no update for ``ttl`` seconds."""
        stale = [g for g in self._ghosts.values() if now - g.updated >= self.ttl]
        for ghost in stale:
            del self._ghosts[(ghost.sender, ghost.drag.task)]
        return stale

    def ghosts(self) -> Iterator[Ghost]:
        """The ghosts currently shown, oldest first."""
        return iter(sorted(self._ghosts.values(), key=lambda g: g.updated))

    def last_seq(self, sender: str) -> int:
        """Highest seq shown from ``sender`` (0 if none)."""
        return self._last_seq.get(sender, 0)
