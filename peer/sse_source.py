"""`SseSource`: a sprint's live events from its Server-Sent Events stream (protocol §10).

The `peer.tail.LiveSource` of ``python -m peer tail <sprint> --sse``: read-only, not in
presence, no websocket. It opens ``/<sprint>/stream?since=<last>`` with a fresh ticket,
parses the body with `peer.sse.SseParser` as it arrives (httpx streaming), and emits each
``event`` once, in seq order. When the stream ends or fails it reconnects with a fresh
ticket and ``since`` = the last seq it emitted, after a full-jitter backoff. On ``resync``
(the server's history no longer reaches back) it reads the REST event log after its last
seq, and when the log cannot either, says so on stderr and goes on from the sprint's latest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from typing import Any

import httpx

from peer.api import ApiClient, ApiError, LogGone, override_realtime
from peer.feed import Feed
from peer.sse import SseError, SseParser, stream_url
from signaling.backoff import backoff_delay

__all__ = ["SseSource"]

logger = logging.getLogger(__name__)

#: Seconds without a byte (the server sends a heartbeat every 15 s) before reconnecting.
READ_TIMEOUT = 45.0


class StreamRefused(Exception):
    """The stream answered something else than 200 (401/403 with a JSON body, 429…)."""


class SseSource:
    """The sprint's SSE stream as a `LiveSource`."""

    def __init__(self, api: ApiClient, sprint: int, realtime: str | None = None, *,
                 backoff_base: float = 0.5) -> None:
        self.api = api
        self.sprint = sprint
        self.realtime = realtime
        self.backoff_base = backoff_base
        self.last = 0
        self._events: Feed[dict[str, Any]] = Feed()
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=READ_TIMEOUT))
        self._task: asyncio.Task[None] | None = None

    @property
    def events(self) -> Feed[dict[str, Any]]:
        return self._events

    async def start(self, last: int) -> None:
        """Open the stream after seq ``last``; raises if the first attempt is refused."""
        self.last = last
        response = await self._open()
        self._task = asyncio.ensure_future(self._run(response))

    async def _open(self) -> httpx.Response:
        ticket = await self.api.ticket(self.sprint)
        url = stream_url(override_realtime(ticket.url, self.realtime), ticket.token, self.last)
        request = self._http.build_request("GET", url, headers={"Accept": "text/event-stream"})
        response = await self._http.send(request, stream=True)
        if response.status_code != 200:
            body = (await response.aread()).decode(errors="replace")[:300]
            await response.aclose()
            raise StreamRefused(f"stream answered {response.status_code}: {body}")
        return response

    async def _run(self, response: httpx.Response) -> None:
        attempt = 0
        while True:
            try:
                await self._read(response)
            except (httpx.HTTPError, SseError, ApiError, ValueError) as exc:
                logger.info("sprint %s: stream lost: %s", self.sprint, exc)
            finally:
                await response.aclose()
            while True:
                await asyncio.sleep(backoff_delay(attempt, base=self.backoff_base))
                attempt += 1
                try:
                    response = await self._open()
                except (StreamRefused, ApiError, httpx.HTTPError) as exc:
                    print(f"warning: reconnecting the stream: {exc}", file=sys.stderr,
                          flush=True)
                    continue
                attempt = 0
                break

    async def _read(self, response: httpx.Response) -> None:
        parser = SseParser()
        async for chunk in response.aiter_bytes():
            for message in parser.feed(chunk):
                if message.event == "event":
                    self._event(json.loads(message.data))
                elif message.event == "resync":
                    frame = json.loads(message.data)
                    self._events.emit(frame)
                    await self._catch_up()

    def _event(self, event: dict[str, Any]) -> None:
        seq = event.get("seq")
        if isinstance(seq, int) and seq > self.last:
            self.last = seq
            self._events.emit(event)

    async def _catch_up(self) -> None:
        """After ``resync``: the event log after our last seq, else go on from the latest."""
        try:
            async for event in self.api.event_log(self.sprint, self.last):
                self._event(event)
        except LogGone as gone:
            print(f"warning: events after seq {self.last} are no longer in the event log; "
                  f"going on from seq {gone.latest}", file=sys.stderr, flush=True)
            self.last = gone.latest or self.last

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()
        self._events.close()
