"""Bounded per-sprint history of authoritative events: dedupe by seq, gap detection, replay.

Events are kept already encoded (the ``event`` frame as UTF-8 bytes), so ``resume`` replays
them without encoding again. Each sprint's history belongs to one *stream*, named by the
``epoch`` Django sends with its events: an event of another epoch, or one marked ``reset``
that the history cannot take as the next, starts the history afresh (docs/protocol.md §7),
so no stale or replayed event can make the history refuse the sprint's true next event.
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
    #: Accepted as the start of a new history of the sprint: the older one was dropped,
    #: and the sprint's clients must refetch (they get ``resync``).
    RESET = "reset"

    @property
    def recorded(self) -> bool:
        """True if the event was recorded (and must be delivered)."""
        return self is EventStatus.ACCEPTED or self is EventStatus.RESET


def classify(latest: int | None, known_epoch: str, seq: int, epoch: str,
             reset: bool) -> EventStatus:
    """What happens to event ``seq`` of stream ``epoch`` given the sprint's history.

    The one rule, shared by the memory history and the Redis script (which mirrors it):
    the first event of a sprint starts its history; another epoch, or a ``reset`` event
    that is not the next one, starts it afresh; else the next seq is accepted, an older
    one is a duplicate, a later one a gap.
    """
    if latest is None:
        return EventStatus.RESET if reset else EventStatus.ACCEPTED
    if epoch != known_epoch:
        return EventStatus.RESET
    if seq <= latest:
        return EventStatus.DUPLICATE
    if seq == latest + 1:
        return EventStatus.ACCEPTED
    return EventStatus.RESET if reset else EventStatus.GAP


@dataclass(slots=True)
class SprintHistory:
    """One sprint: its stream's epoch, the latest seq accepted, the recent events (contiguous)."""

    latest: int | None = None
    epoch: str = ""
    events: deque[tuple[int, float, bytes]] = field(default_factory=deque)

    def classify(self, seq: int, epoch: str = "", reset: bool = False) -> EventStatus:
        return classify(self.latest, self.epoch, seq, epoch, reset)

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

    def latest(self, sprint: int) -> int | None:
        entry = self._sprints.get(sprint)
        return None if entry is None else entry.latest

    def append(self, sprint: int, seq: int, frame: bytes, *, epoch: str = "",
               reset: bool = False) -> EventStatus:
        """Record the event if it is the next one (or starts the history); say which it was."""
        entry = self._entry(sprint)
        status = entry.classify(seq, epoch, reset)
        if status.recorded:
            now = self._clock()
            if status is EventStatus.RESET:
                entry.events.clear()
            entry.latest = seq
            entry.epoch = epoch
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
