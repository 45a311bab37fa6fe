"""``python -m peer tail <sprint> [--since SEQ]``: a sprint's events, one JSON line each.

First the REST event log after ``--since`` (nothing older than the sprint's current seq
without it), then the live stream from where the log ended, so a script or ``jq`` sees
every event once, in seq order. Each line is the event object of docs/protocol.md §3
(`event`, with `actor`; events read from the log also carry `at`).

The live part comes from a `LiveSource`: the websocket (`WebsocketSource`, a
`peer.client.Peer` without WebRTC, which resumes, catches up from the log and reconnects
by itself), or with ``--sse`` the Server-Sent Events stream (`peer.sse_source.SseSource`:
read-only, not in presence, resumes with ``since``). Another transport is one more class
with the same three members and one more entry in `SOURCES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from peer.api import ApiClient, LogGone, Snapshot, override_realtime
from peer.client import Peer
from peer.feed import Feed
from peer.sse_source import SseSource

__all__ = ["EXIT_GONE", "SOURCES", "LiveSource", "WebsocketSource", "tail"]

logger = logging.getLogger(__name__)

#: Exit status when the log no longer holds the events after ``--since``.
EXIT_GONE = 4


class LiveSource(Protocol):
    """The live events of one sprint after a seq, in order, each once.

    ``events`` carries ``event`` objects (and ``resync`` frames, which `tail` reports on
    stderr); ``start(last)`` begins after seq ``last``; ``close`` ends it.
    """

    @property
    def events(self) -> Feed[dict[str, Any]]: ...

    async def start(self, last: int) -> None: ...

    async def close(self) -> None: ...


SourceFactory = Callable[[ApiClient, int, str | None], LiveSource]


class WebsocketSource:
    """The sprint's websocket (protocol §2): a `Peer` that opens no data channels.

    It joins the sprint like any client (others see it in presence). Events it misses
    while disconnected come from ``resume``, else from the event log; when the log
    cannot reach back either, it says so on stderr and goes on from the sprint's latest.
    """

    def __init__(self, api: ApiClient, sprint: int, realtime: str | None = None) -> None:
        self.api = api
        self.sprint = sprint
        self.realtime = realtime
        self._events: Feed[dict[str, Any]] = Feed()
        self._peer: Peer | None = None

    @property
    def events(self) -> Feed[dict[str, Any]]:
        return self._events

    async def start(self, last: int) -> None:
        ticket = await self.api.ticket(self.sprint)

        async def renew() -> tuple[str, str]:
            fresh = await self.api.ticket(self.sprint)
            return override_realtime(fresh.url, self.realtime), fresh.token

        self._peer = Peer(override_realtime(ticket.url, self.realtime), ticket.token,
                          webrtc=False, last_seq=last, renew=renew, refetch=self._skip,
                          log=lambda since: self.api.event_log(self.sprint, since))
        self._peer.events.on(self._events.emit)
        await self._peer.started()

    async def _skip(self) -> Snapshot:
        """What a board would reload: for a tail, only the seq to go on from."""
        sprint = await self.api.sprint(self.sprint)
        print(f"warning: events after seq {self._peer.stream.last if self._peer else '?'} "
              f"are no longer in the event log; going on from seq {sprint.get('seq')}",
              file=sys.stderr, flush=True)
        return Snapshot(sprint=sprint, tasks=[])

    async def close(self) -> None:
        if self._peer is not None:
            await self._peer.close()
        self._events.close()


#: ``--source`` choices.
SOURCES: dict[str, SourceFactory] = {"websocket": WebsocketSource, "sse": SseSource}


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


async def tail(api: ApiClient, sprint: int, *, since: int | None = None,
               source: SourceFactory = WebsocketSource, realtime: str | None = None,
               count: int | None = None, seconds: float | None = None,
               out: TextIO = sys.stdout) -> int:
    """Print the sprint's events after ``since`` (None: from now) until ``count`` events
    were printed, ``seconds`` passed, or forever. Returns the exit status."""
    printed = 0
    done = asyncio.Event()

    def emit(event: dict[str, Any]) -> None:
        nonlocal printed
        if event.get("type") == "resync":
            print(f"resync: the server lost events after our seq; catching up (latest "
                  f"{event.get('latest')})", file=sys.stderr, flush=True)
            return
        if done.is_set():
            return
        out.write(_line(event) + "\n")
        out.flush()
        printed += 1
        if count is not None and printed >= count:
            done.set()

    last = await _from_log(api, sprint, since, emit)
    if last is None:
        return EXIT_GONE
    if done.is_set():
        return 0
    live = source(api, sprint, realtime)
    live.events.on(emit)
    try:
        await live.start(last)
        print(f"tail: sprint {sprint} live after seq {last}", file=sys.stderr, flush=True)
        await _wait(done, seconds)
    finally:
        await live.close()
    return 0


async def _from_log(api: ApiClient, sprint: int, since: int | None,
                    emit: Callable[[dict[str, Any]], None]) -> int | None:
    """Emit the log after ``since``; the seq to go on from live, None if the log is gone."""
    if since is None:
        seq = (await api.sprint(sprint)).get("seq")
        return seq if isinstance(seq, int) else 0
    last = since
    try:
        async for event in api.event_log(sprint, since):
            emit(event)
            last = event["seq"]
    except LogGone as gone:
        print(f"error: the event log no longer holds the events after seq {since}: its "
              f"oldest is {gone.oldest} (latest {gone.latest}). Use --since "
              f"{(gone.oldest or 1) - 1} or later.", file=sys.stderr, flush=True)
        return None
    return last


async def _wait(done: asyncio.Event, seconds: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), seconds)
