"""Rate limits: a token bucket, latest-wins coalescing of drag moves, and a log line budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LogBudget", "MoveCoalescer", "TokenBucket"]

T = TypeVar("T")


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def take(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are that many; say whether it was allowed."""
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available (0 if they are now)."""
        self._refill()
        return max(0.0, (cost - self._tokens) / self.rate)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now


class MoveCoalescer(Generic[T]):
    """Holds drag moves that came over the rate: the latest per task, sent when tokens return.

    Bounded: one pending move per task and at most ``max_tasks`` tasks; ``hold`` refuses a
    new task past that. The flush runs on a ``loop.call_later`` timer, so nothing waits.
    """

    __slots__ = ("_pending", "_send", "_timer", "bucket", "max_tasks")

    def __init__(self, bucket: TokenBucket, send: Callable[[T], None], *, max_tasks: int = 64
                 ) -> None:
        self.bucket = bucket
        self.max_tasks = max_tasks
        self._send = send
        self._pending: dict[int, T] = {}
        self._timer: asyncio.TimerHandle | None = None

    def hold(self, task: int, item: T) -> bool | None:
        """Keep ``item`` as the task's pending move.

        Returns True if it replaced an older pending move (that one is dropped), False if it
        is the task's first pending move, None if it was refused (too many tasks pending).
        """
        replaced = task in self._pending
        if not replaced and len(self._pending) >= self.max_tasks:
            return None
        self._pending.pop(task, None)  # re-insert: flush order follows the latest update
        self._pending[task] = item
        self._schedule()
        return replaced

    def discard(self, task: int) -> bool:
        """Forget the task's pending move (superseded by a start/end); True if there was one."""
        return self._pending.pop(task, None) is not None

    def cancel(self) -> None:
        self._pending.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def flush(self) -> None:
        """Send pending moves, oldest first, while the bucket has tokens; reschedule the rest."""
        self._timer = None
        while self._pending and self.bucket.take():
            task = next(iter(self._pending))
            self._send(self._pending.pop(task))
        self._schedule()

    def _schedule(self) -> None:
        if self._pending and self._timer is None:
            delay = self.bucket.wait_time()
            self._timer = asyncio.get_running_loop().call_later(delay, self.flush)


class LogBudget:
    """At most ``rate`` log lines a second (``burst`` at once) of one kind that clients can
    cause at will; the lines left out are counted and reported with the next one written.
    """

    __slots__ = ("_bucket", "_suppressed")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._bucket = TokenBucket(rate, burst, clock)
        self._suppressed = 0

    def admit(self) -> int | None:
        """None: leave this line out. Else write it, with the number left out before it."""
        if not self._bucket.take():
            self._suppressed += 1
            return None
        suppressed, self._suppressed = self._suppressed, 0
        return suppressed
