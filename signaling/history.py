"""Bounded per-sprint history of authoritative events: dedupe by seq, gap detection, replay.

Events are kept already encoded (the ``event`` frame as UTF-8 bytes), so ``resume`` replays
them without encoding again.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice

__all__ = ["EventStatus", "History", "SprintHistory"]


class EventStatus(StrEnum):
    """Per-event result of ``POST /events/`` (protocol §7)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    GAP = "gap"


@dataclass(slots=True)
class SprintHistory:
    """One sprint: the latest seq ever accepted and the recent events, contiguous by seq."""

    latest: int | None = None
    events: deque[tuple[int, float, bytes]] = field(default_factory=deque)

    def classify(self, seq: int) -> EventStatus:
        if self.latest is None or seq == self.latest + 1:
            return EventStatus.ACCEPTED
        return EventStatus.DUPLICATE if seq <= self.latest else EventStatus.GAP

    def prune(self, *, max_size: int, oldest: float) -> None:
        while self.events and (len(self.events) > max_size or self.events[0][1] < oldest):
            self.events.popleft()


class History:
    """Every sprint's history, bounded by event count, event age and number of sprints.

    ``latest`` survives pruning of the events themselves, so duplicates are still caught
    after their events aged out; it is forgotten only when the whole sprint is (least
    recently used first, past ``max_sprints``). A forgotten sprint starts again at the
    next seq it is sent, as after a restart.
    """

    def __init__(self, *, max_size: int = 1000, max_age: float = 3600.0,
                 max_sprints: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_size = max_size
        self.max_age = max_age
        self.max_sprints = max_sprints
        self._clock = clock
        self._sprints: OrderedDict[int, SprintHistory] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sprints)

    def latest(self, sprint: int) -> int | None:
        entry = self._sprints.get(sprint)
        return None if entry is None else entry.latest

    def classify(self, sprint: int, seq: int) -> EventStatus:
        """What ``append`` would answer, without changing anything."""
        entry = self._sprints.get(sprint)
        return EventStatus.ACCEPTED if entry is None else entry.classify(seq)

    def append(self, sprint: int, seq: int, frame: bytes) -> EventStatus:
        """Record the event if it is the next one (or the sprint's first); say which it was."""
        entry = self._entry(sprint)
        status = entry.classify(seq)
        if status is EventStatus.ACCEPTED:
            now = self._clock()
            entry.latest = seq
            entry.events.append((seq, now, frame))
            entry.prune(max_size=self.max_size, oldest=now - self.max_age)
        return status

    def since(self, sprint: int, since: int) -> list[bytes] | None:
        """Every event with seq > since in order, or None if the history does not cover it.

        ``since`` at or above the latest seq is covered (nothing to send). A sprint the
        server knows nothing of is not covered: the client must refetch over REST.
        """
        entry = self._sprints.get(sprint)
        if entry is None or entry.latest is None:
            return None
        if since >= entry.latest:
            return []
        entry.prune(max_size=self.max_size, oldest=self._clock() - self.max_age)
        if not entry.events or entry.events[0][0] > since + 1:
            return None
        start = since + 1 - entry.events[0][0]
        return [frame for _, _, frame in islice(entry.events, start, None)]

    def _entry(self, sprint: int) -> SprintHistory:
        entry = self._sprints.get(sprint)
        if entry is None:
            entry = self._sprints[sprint] = SprintHistory()
            while len(self._sprints) > self.max_sprints:
                self._sprints.popitem(last=False)
        else:
            self._sprints.move_to_end(sprint)
        return entry
