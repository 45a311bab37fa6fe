"""Retry delays: exponential backoff with full jitter (docs/protocol.md §5), for every Python part.

The realtime server's Redis supervisor, the headless peer's websocket and its REST refetch,
and Django's outbox delivery all wait with this one function; `web/backoff.js` is the same
rule for the browser. It imports nothing but the standard library, so `peer/` and `api/`
use it without pulling in the server.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "backoff_ceiling", "backoff_delay"]

#: The protocol's defaults for a client's reconnect (seconds): 0.5 s, doubling to 30 s.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
#: 2**64 times any base is past every cap; clamping keeps huge attempt counts cheap.
_MAX_EXPONENT = 64


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
