"""`Follower`: keeps one sprint's board current from its authoritative events (protocol §6).

It does what `peer.event_stream.EventStream` decides: applies events in order, sends ``resume``
over a gap, catches up from the REST event log after a ``resync`` and, only when the log
cannot help (410 Gone, an error), reloads the whole sprint. `peer.client.Peer` feeds it
the websocket's frames; `peer.tail` feeds it the log and a live source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from peer.api import Snapshot
from peer.event_stream import Board, EventStream, Outcome
from peer.feed import Feed
from signaling.backoff import backoff_delay

__all__ = ["EventLog", "Follower"]

logger = logging.getLogger(__name__)

#: Reads a sprint's event log after a seq: every event, in order (`ApiClient.event_log`).
EventLog = Callable[[int], AsyncIterator[dict[str, Any]]]


class Follower:
    """The board, its event stream and the feed of what was applied, for one sprint.

    ``last_seq``: the sprint seq of REST state already loaded (None: start from the
    stream). ``log`` reads the event log after a seq; ``refetch`` reloads the whole
    sprint; ``resume`` sends ``resume {since}``; ``spawn`` runs a background task (the
    owner cancels them on close); ``who`` names the client in log lines.
    """

    def __init__(self, *, last_seq: int | None, resume: Callable[[int], Awaitable[object]],
                 spawn: Callable[[Awaitable[Any]], None],
                 log: EventLog | None = None,
                 refetch: Callable[[], Awaitable[Snapshot]] | None = None,
                 who: Callable[[], object] = lambda: None) -> None:
        self.board = Board()
        self.stream = EventStream(last_seq)
        self.events: Feed[dict[str, Any]] = Feed()  # events applied (live or logged), resyncs
        self._resume = resume
        self._spawn = spawn
        self._log = log
        self._refetch = refetch
        self._who = who

    async def welcome(self, seq: int | None) -> None:
        await self.follow(self.stream.welcome(seq))

    async def event(self, frame: dict[str, Any]) -> None:
        await self.follow(self.stream.event(frame))

    async def resync(self, frame: dict[str, Any]) -> None:
        """``resync {latest}``: catch up from the log (or refetch; see `EventStream.resync`)."""
        self.events.emit(frame)
        latest = frame.get("latest")
        latest = latest if isinstance(latest, int) and not isinstance(latest, bool) else None
        if self._refetch is None and self._log is None:
            # No REST to recover from: take the server's word and go on from its latest.
            self.stream.refetch()
            await self.follow(self.stream.reset(latest if latest is not None
                                                else self.stream.last or 0))
            return
        await self.follow(self.stream.resync(latest))

    async def follow(self, outcome: Outcome) -> None:
        """Do what the stream decided."""
        for event in outcome.apply:
            self.board.apply(event)
            self.events.emit(event)
        if outcome.resume is not None:
            await self._resume(outcome.resume)
        if outcome.catch_up is not None:
            self._spawn(self._catch_up(outcome.catch_up))
        if outcome.refetch:
            self._spawn(self._reload())

    async def _catch_up(self, since: int) -> None:
        """Apply the event log after ``since`` as live events; refetch if it cannot help."""
        if self._log is None:
            await self.follow(self.stream.refetch())
            return
        try:
            async for event in self._log(since):
                if not self.stream.catching_up:
                    return  # a refetch took over
                await self.follow(self.stream.event(event))
        except Exception as exc:  # 410 Gone (pruned, renumbered), or the API is unreachable
            logger.info("peer %s: event log after seq %s unusable (%s): refetching",
                        self._who(), since, exc)
            if self.stream.catching_up:
                await self.follow(self.stream.refetch())
            return
        await self.follow(self.stream.caught_up())

    async def _reload(self) -> None:
        if self._refetch is None:
            # No full reload possible (a log reader only): go on from what the log had.
            await self.follow(self.stream.reset(self.stream.last or 0))
            return
        for attempt in range(5):
            try:
                snapshot = await self._refetch()
                break
            except Exception as exc:
                logger.warning("peer %s: refetch failed (%s), retrying", self._who(), exc)
                await asyncio.sleep(backoff_delay(attempt))
        else:
            return
        self.board.load(snapshot.sprint, snapshot.tasks)
        await self.follow(self.stream.reset(snapshot.seq))
