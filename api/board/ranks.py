"""Order keys of tasks: fractional-index strings (`rank`) that sort byte-wise, and rebalancing.

A rank is a key of rocicorp's fractional indexing (the `fractional-indexing` package, a
port of it): base-62 digits `0-9A-Za-z`, an integer part whose first character encodes
its length, then a fraction. Keys compare as plain ASCII strings, the same in Python,
JavaScript and PostgreSQL's "C" collation, so every client sorts a column the same way.
A key between two neighbours always exists, so a move rewrites one row; inserting again
and again at the same place makes keys longer (about one character per six inserts), and
past `REBALANCE_LENGTH` the server rewrites the whole column with short keys (`spread`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import models
from fractional_indexing import FIError, generate_key_between, generate_n_keys_between

log = logging.getLogger(__name__)

#: A generated key longer than this makes the server rebalance the column instead.
REBALANCE_LENGTH = 48
#: Column width: room above REBALANCE_LENGTH for the keys of very long columns.
MAX_LENGTH = 64


class RankField(models.CharField):
    """A CharField compared byte-wise: PostgreSQL's "C" collation, SQLite's default BINARY.

    The collation is chosen per database here rather than with `db_collation`, because
    SQLite has no collation named "C" (and needs none: it compares bytes already).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_LENGTH)
        super().__init__(*args, **kwargs)

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params = super().db_parameters(connection)
        params["collation"] = "C" if connection.vendor == "postgresql" else None
        return params


class RankError(ValueError):
    """A neighbour's key is not a valid rank (written around the services): rebalance."""


def rank_between(before: str | None, after: str | None) -> str:
    """A key strictly between `before` and `after` (None: the open end of the column)."""
    try:
        return str(generate_key_between(before, after))
    except (FIError, ValueError, IndexError) as exc:
        raise RankError(f"cannot rank between {before!r} and {after!r}: {exc}") from exc


def spread(count: int) -> list[str]:
    """`count` short, evenly spaced, increasing keys for a whole column (a0, a1, …)."""
    return [str(key) for key in generate_n_keys_between(None, None, count)]


def ranks_after(last: str | None, count: int) -> list[str]:
    """`count` increasing keys below `last` (the current bottom of a column, or None)."""
    try:
        return [str(key) for key in generate_n_keys_between(last, None, count)]
    except (FIError, ValueError, IndexError) as exc:
        raise RankError(f"cannot rank after {last!r}: {exc}") from exc


def needs_rebalance(key: str) -> bool:
    return len(key) > REBALANCE_LENGTH


class _Counter:
    """Rebalances since the process started (read by the tests and the benchmarks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self) -> int:
        with self._lock:
            self._value += 1
            return self._value

    @property
    def value(self) -> int:
        with self._lock:
            return self._value


_rebalances = _Counter()


def rebalance_count() -> int:
    """How many column rebalances this process has made (committed or not)."""
    return _rebalances.value


def note_rebalance(*, sprint_id: int | None, status: str | None, tasks: int) -> None:
    """Count a rebalance and log it at INFO (`rebalance #<n>` is the running total)."""
    total = _rebalances.add()
    where = f"sprint {sprint_id} column {status}" if sprint_id is not None else "the backlog"
    log.info("rank rebalance #%d: %s, %d tasks rewritten", total, where, tasks)
