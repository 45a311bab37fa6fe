"""The client side of the authoritative event stream (docs/protocol.md §6), without I/O.

`EventStream` decides, frame by frame, which events to apply, when to ask for a
``resume`` and when to refetch over REST; `Board` applies events idempotently to the
sprint's state. The caller does the sending and fetching.
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
    not ``None``. ``refetch``: reload the sprint over REST, then call `EventStream.reset`.
    """

    apply: tuple[dict[str, Any], ...] = ()
    resume: int | None = None
    refetch: bool = False


NOTHING = Outcome()


class EventStream:
    """Sequence bookkeeping for one sprint: dedupe by ``seq``, detect gaps, recover.

    ``last`` is the ``seq`` of the last event whose effect the caller has: the sprint's
    ``seq`` from REST, or ``None`` when the caller has no REST state (a websocket-only
    watcher); then the stream starts at whatever ``welcome`` (or the first event) says.
    ``max_buffer`` bounds the events held while a gap is open (default 1000); past it the
    stream gives up on ``resume`` and asks for a refetch.
    """

    def __init__(self, last: int | None = None, *, max_buffer: int = 1000) -> None:
        self.last = last
        self.max_buffer = max_buffer
        self._buffer: dict[int, dict[str, Any]] = {}
        self._resuming = False  # a resume is out and its gap not yet closed: don't ask again
        self._refetching = False  # the caller is reloading over REST: no resume meanwhile

    @property
    def buffered(self) -> int:
        """How many out-of-order events wait for the gap before them to close."""
        return len(self._buffer)

    @property
    def recovering(self) -> bool:
        """True while a ``resume`` or refetch is outstanding."""
        return self._resuming or self._refetching

    def welcome(self, seq: int | None) -> Outcome:
        """A (re)connection's ``welcome.seq``: resume if the server knows of newer events."""
        self._resuming = False
        if self.last is None:
            if isinstance(seq, int):
                self.last = seq
            return self._drain()
        if isinstance(seq, int) and seq > self.last and not self._refetching:
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
        if seq <= self.last or seq in self._buffer:
            return NOTHING
        if seq == self.last + 1:
            self.last = seq
            drained = self._drain()
            return Outcome(apply=(frame, *drained.apply))
        if len(self._buffer) >= self.max_buffer:
            self._buffer.clear()
            return self.resync()
        self._buffer[seq] = frame
        if self.recovering:
            return NOTHING
        self._resuming = True
        return Outcome(resume=self.last)

    def resync(self) -> Outcome:
        """The server cannot replay what we missed: the caller must refetch over REST."""
        self._refetching = True
        self._resuming = False
        return Outcome(refetch=True)

    def reset(self, last: int) -> Outcome:
        """After a REST (re)load at sprint ``seq`` ``last``: apply what is buffered above it."""
        self.last = last
        self._buffer = {s: f for s, f in self._buffer.items() if s > last}
        self._refetching = False
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
