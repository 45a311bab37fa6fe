"""A plain HTTP client of the realtime server's SSE stream for tests (httpx + peer.sse)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from peer.sse import SseEvent, SseParser

__all__ = ["SseClient", "open_stream"]


class SseClient:
    """One open stream: ``next()`` the next SSE event; ``raw`` every byte read so far."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.parser = SseParser()
        self.raw = bytearray()
        self._ready: list[SseEvent] = []
        # A task reads the body: a timeout must not cancel (and so end) the body iterator.
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        try:
            async for chunk in self.response.aiter_bytes():
                self._chunks.put_nowait(chunk)
        except httpx.HTTPError:
            pass
        finally:
            self._chunks.put_nowait(None)

    async def next(self, timeout: float = 10) -> SseEvent:
        """The next event (comments skipped); ``EOFError`` when the stream ended."""
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read())
        async with asyncio.timeout(timeout):
            while not self._ready:
                chunk = await self._chunks.get()
                if chunk is None:
                    self._chunks.put_nowait(None)
                    raise EOFError("the stream ended")
                self.raw.extend(chunk)
                self._ready += self.parser.feed(chunk)
        return self._ready.pop(0)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def next_of(self, name: str, timeout: float = 10) -> dict[str, Any]:
        """The data (JSON) of the next event called ``name``, skipping others."""
        while True:
            message = await self.next(timeout)
            if message.event == name:
                data: dict[str, Any] = json.loads(message.data)
                return data

    async def ended(self, timeout: float = 10) -> list[SseEvent]:
        """Read to the end of the stream; what came before it."""
        seen = []
        while True:
            try:
                seen.append(await self.next(timeout))
            except EOFError:
                return seen


@asynccontextmanager
async def open_stream(base: str, sprint: int, token: str | None, *,
                      headers: dict[str, str] | None = None, since: int | None = None,
                      ) -> AsyncIterator[SseClient]:
    """``GET <base>/<sprint>/stream``; yields the client whatever the status (check it)."""
    params: dict[str, Any] = {}
    if token is not None:
        params["token"] = token
    if since is not None:
        params["since"] = since
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as http, \
            http.stream("GET", f"{base}/{sprint}/stream", params=params,
                        headers=headers or {}) as response:
        client = SseClient(response)
        try:
            yield client
        finally:
            await client.close()
