"""Retry delays: exponential backoff with full jitter (docs/protocol.md §5), for every Python part.

The realtime server's Redis supervisor, the headless peer's websocket and its REST refetch,
and Django's outbox delivery all wait with this one function; `web/backoff.js` is the same
rule for the browser. It imports nothing but the standard library, so `peer/` and `api/`
use it without pulling in the server.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "RETRY_AFTER_MAX", "backoff_ceiling", "backoff_delay",
           "parse_retry_after", "retry_after_delay"]

#: The protocol's defaults for a client's reconnect (seconds): 0.5 s, doubling to 30 s.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
#: 2**64 times any base is past every cap; clamping keeps huge attempt counts cheap.
_MAX_EXPONENT = 64
#: A ``Retry-After`` longer than this (seconds) is read as this: a wrong header must not
#: park a client for a day.
RETRY_AFTER_MAX = 300.0


def backoff_ceiling(attempt: int, *, base: float = BACKOFF_BASE,
                    cap: float = BACKOFF_CAP) -> float:
    """The top of the jitter window for ``attempt`` (0 = first retry): min(cap, base·2ⁿ)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    return float(min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT)))


def backoff_delay(attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP,
                  random: Callable[[], float] | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): random(0, min(cap, base·2ⁿ)).

    Full jitter spreads a crowd that lost the same server over the whole window instead
    of bringing it back at once. ``random`` returns [0, 1) like `random.random` (the
    default); pass a seeded ``Random().random`` or a constant in tests. Values outside
    [0, 1] are clamped, so the delay never leaves the window.
    """
    ceiling = backoff_ceiling(attempt, base=base, cap=cap)
    r = (random or _random.random)()
    return ceiling * min(max(r, 0.0), 1.0)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (RFC 9110 §10.2.3), at most ``RETRY_AFTER_MAX``.

    Delay-seconds (``"3"``) or an HTTP-date (then relative to ``now``, default the clock);
    None for a missing or unreadable header, which the caller treats as absent.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return min(max(0.0, when - current), RETRY_AFTER_MAX)


def retry_after_delay(retry_after: float, attempt: int, *, base: float = BACKOFF_BASE,
                      cap: float = BACKOFF_CAP, random: Callable[[], float] | None = None
                      ) -> float:
    """The wait after a server said ``Retry-After: retry_after`` (a 503 of storm control).

    At least ``retry_after``, plus jitter of our own up to as much again, and never less
    than the ordinary backoff for ``attempt``: the server already spreads its answers, and
    each client spreads its own return over [R, 2R] so one shed wave does not come back as
    one wave.
    """
    r = min(max((random or _random.random)(), 0.0), 1.0)
    asked = min(max(retry_after, 0.0), RETRY_AFTER_MAX)
    return max(asked * (1.0 + r), backoff_delay(attempt, base=base, cap=cap, random=random))
