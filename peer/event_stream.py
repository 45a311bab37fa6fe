"""The client side of the authoritative event stream (docs/protocol.md §6), without I/O.

`EventStream` decides, frame by frame, which events to apply, when to ask for a
``resume``, when to catch up from the REST event log and when to refetch the whole sprint;
`Board` applies events idempotently to the sprint's state. The caller does the sending
and fetching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Board", "EventStream", "Outcome", "board_order"]

#: Applied with ``upsert by id``; the other actions remove the object from this sprint.
UPSERT_ACTIONS = frozenset({"created", "updated", "added"})
REMOVE_ACTIONS = frozenset({"deleted", "removed"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the caller must do after feeding one frame to `EventStream`.

    ``apply``: events to apply, in order. ``resume``: send ``resume {since: resume}`` if
    not ``None``. ``catch_up``: read the sprint's event log from this seq (``GET
    /api/sprints/<id>/events/?since=``), feed each event to `EventStream.event` as if it
    were live, then call `EventStream.caught_up`; on a 410 (or any error) call
    `EventStream.refetch` instead. ``refetch``: reload the sprint over REST, then call
    `EventStream.reset`.
    """

    apply: tuple[dict[str, Any], ...] = ()
    resume: int | None = None
    refetch: bool = False
    catch_up: int | None = None


NOTHING = Outcome()


class EventStream:
    """Sequence bookkeeping for one sprint: dedupe by ``seq``, detect gaps, recover.

    ``last`` is the ``seq`` of the last event whose effect the caller has: the sprint's
    ``seq`` from REST, or ``None`` when the caller has no REST state (a websocket-only
    watcher); then the stream starts at whatever ``welcome`` (or the first event) says.
    ``max_buffer`` bounds the events held while a gap is open (default 1000); past it the
    stream gives up on ``resume`` and catches up from the event log instead.
    """

    def __init__(self, last: int | None = None, *, max_buffer: int = 1000) -> None:
        self.last = last
        self.max_buffer = max_buffer
        self._buffer: dict[int, dict[str, Any]] = {}
        self._resuming = False  # a resume is out and its gap not yet closed: don't ask again
        self._catching = False  # the caller is reading the event log: no resume meanwhile
        self._refetching = False  # the caller is reloading over REST: no resume meanwhile

    @property
    def buffered(self) -> int:
        """How many out-of-order events wait for the gap before them to close."""
        return len(self._buffer)

    @property
    def recovering(self) -> bool:
        """True while a ``resume``, a catch-up from the log or a refetch is outstanding."""
        return self._resuming or self._catching or self._refetching

    @property
    def catching_up(self) -> bool:
        """True while the caller reads the event log (and no refetch replaced it)."""
        return self._catching

    def welcome(self, seq: int | None) -> Outcome:
        """A (re)connection's ``welcome.seq``: resume if the server knows of newer events;
        refetch if it knows only lower ones than we have (the sprint's stream restarted
        lower numbered: our ``last`` means nothing in it, and waiting for the seq to pass
        it would drop real events as duplicates)."""
        self._resuming = False
        if self.last is None:
            if isinstance(seq, int):
                self.last = seq
            return self._drain()
        if not isinstance(seq, int) or self._refetching:
            return NOTHING
        if seq < self.last:
            return self.refetch()
        if seq > self.last and not self._catching:
            self._resuming = True
            return Outcome(resume=self.last)
        return NOTHING

    def event(self, frame: dict[str, Any]) -> Outcome:
        """An ``event`` frame. Applies it, drops it as a duplicate, or buffers it."""
        seq = frame.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            return NOTHING
        if self.last is None:
            self.last = seq - 1  # no baseline at all: start with the first event seen
        if self._refetching:
            # Held until the reload says where we are: the stream may be numbered anew,
            # so not even a seq at or below ours is a duplicate yet.
            if len(self._buffer) < self.max_buffer:
                self._buffer.setdefault(seq, frame)
            return NOTHING
        if seq <= self.last or seq in self._buffer:
            return NOTHING
        if seq == self.last + 1:
            self.last = seq
            drained = self._drain()
            return Outcome(apply=(frame, *drained.apply))
        if len(self._buffer) >= self.max_buffer:
            self._buffer.clear()
            self._resuming = False
            return self.resync()
        self._buffer[seq] = frame
        if self.recovering:
            return NOTHING
        self._resuming = True
        return Outcome(resume=self.last)

    def resync(self, latest: int | None = None) -> Outcome:
        """The server cannot replay what we missed (``resync {latest}``): catch up from
        the event log, or refetch when the stream was renumbered (``latest`` at or below
        our ``last``: a restarted stream, whose seqs ours are not) or we have no seq."""
        if self._refetching or (self._catching and not _at_or_below(latest, self.last)):
            return NOTHING  # what is under way reaches the sprint's latest state anyway
        if self.last is None or _at_or_below(latest, self.last):
            return self.refetch()
        self._catching = True
        self._resuming = False
        return Outcome(catch_up=self.last)

    def caught_up(self) -> Outcome:
        """The event log was read to its end: apply what followed, resume if a gap is left."""
        if not self._catching:
            return NOTHING
        self._catching = False
        return self._settle()

    def refetch(self) -> Outcome:
        """Reload the sprint over REST (the log could not help); then call `reset`."""
        self._refetching = True
        self._catching = False
        self._resuming = False
        return Outcome(refetch=True)

    def reset(self, last: int) -> Outcome:
        """After a REST (re)load at sprint ``seq`` ``last``: apply what is buffered above it."""
        self.last = last
        self._refetching = False
        self._catching = False
        return self._settle()

    def _settle(self) -> Outcome:
        """Recovery is over: drop what we have, apply what follows, resume over a gap."""
        last = self.last or 0
        self._buffer = {s: f for s, f in self._buffer.items() if s > last}
        self._resuming = False
        drained = self._drain()
        if self._buffer:
            # Still a gap above the fresh state: ask the server for it.
            self._resuming = True
            return Outcome(apply=drained.apply, resume=self.last)
        return drained

    def _drain(self) -> Outcome:
        applied: list[dict[str, Any]] = []
        while self.last is not None and self.last + 1 in self._buffer:
            self.last += 1
            applied.append(self._buffer.pop(self.last))
        if not self._buffer:
            self._resuming = False
        return Outcome(apply=tuple(applied))


def _at_or_below(latest: int | None, last: int | None) -> bool:
    return isinstance(latest, int) and last is not None and latest <= last


def board_order(task: dict[str, Any]) -> tuple[str, int]:
    """Where a task sorts in its column: by ``rank``, then id, as every client sorts.

    Ranks are ASCII, so Python's code-point comparison is the server's byte-wise one.
    """
    rank, task_id = task.get("rank"), task.get("id")
    return (rank if isinstance(rank, str) else "", task_id if isinstance(task_id, int) else 0)


@dataclass
class Board:
    """One sprint's state as REST shows it, kept current by applying events idempotently."""

    sprint: dict[str, Any] | None = None
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)

    def load(self, sprint: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        """Replace everything with a fresh REST snapshot."""
        self.sprint = sprint
        self.tasks = {t["id"]: t for t in tasks if isinstance(t.get("id"), int)}

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one event. Applying the same event twice has the effect of applying it once."""
        model, action, obj_id, data = (event.get("model"), event.get("action"),
                                       event.get("id"), event.get("data"))
        if model == "sprint":
            if action in REMOVE_ACTIONS:
                self.sprint = None
            elif isinstance(data, dict):
                self.sprint = data
        elif model == "task" and isinstance(obj_id, int):
            if action in REMOVE_ACTIONS:
                self.tasks.pop(obj_id, None)
            elif action in UPSERT_ACTIONS and isinstance(data, dict):
                self.tasks[obj_id] = data

    def column(self, status: str) -> list[dict[str, Any]]:
        """The sprint's tasks of column ``status``, in board order."""
        return sorted((t for t in self.tasks.values() if t.get("status") == status),
                      key=board_order)
