"""A fan-out of one kind of notification to callbacks and async iterators."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

__all__ = ["Feed"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_END = object()


class Feed(Generic[T]):
    """Callbacks (``on``) and ``async for`` subscribers of one stream of items.

    Each iterator has its own queue of at most ``maxsize`` items (default 1000); when a
    reader falls behind, its oldest items are dropped, so a slow reader never blocks
    the client. Iteration ends when the feed is closed.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._callbacks: list[Callable[[T], object]] = []
        self._queues: set[asyncio.Queue[object]] = set()
        self._closed = False

    def on(self, callback: Callable[[T], object]) -> Callable[[], None]:
        """Call ``callback(item)`` for every item; returns a function that unsubscribes."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def emit(self, item: T) -> None:
        for callback in list(self._callbacks):
            try:
                callback(item)
            except Exception:  # a listener's bug must not break delivery to the others
                logger.exception("feed callback %r failed", callback)
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

    def close(self) -> None:
        """End every iterator (after what is queued)."""
        self._closed = True
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(_END)

    def __aiter__(self) -> AsyncIterator[T]:
        queue: asyncio.Queue[object] = asyncio.Queue(self.maxsize)
        if self._closed:
            queue.put_nowait(_END)
        self._queues.add(queue)
        return self._iterate(queue)

    async def _iterate(self, queue: asyncio.Queue[object]) -> AsyncIterator[T]:
        try:
            while (item := await queue.get()) is not _END:
                yield item  # type: ignore[misc]  # only T or _END are ever queued
        finally:
            self._queues.discard(queue)
