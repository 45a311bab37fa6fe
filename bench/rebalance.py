"""How often the server rebalances a column's ranks: ``python -m bench.rebalance '<spec>'``.

Runs Django in this process on the database of ``DATABASE_URL`` (the coordinator hands it
a temporary SQLite file and turns the delivery thread off), makes a sprint with one column
of ``column`` cards through the services, then ``moves`` moves in two patterns:

* ``random``: a random card below a random other card (or to the top), never where it
  already is, as people do;
* ``same place``: the bottom card to directly below the top card, again and again: each
  new key lands between the same neighbour and the previous one, so keys grow as fast as
  they can (the worst case of fractional indexing).

Rebalances come from the board's own counter (`api.board.ranks.rebalance_count`), events
from the outbox. Prints one JSON line.
"""

from __future__ import annotations

import datetime
import json
import random
import sys
import time
from typing import Any

__all__ = ["main"]


def _setup(size: int) -> tuple[Any, list[int]]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from api.board import services

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user("bench", password="bench-pass-9")
    end = datetime.date.today() + datetime.timedelta(days=30)
    sprint = services.sprint_create(actor=user, end=end, name="rebalance")
    ids = [services.task_create(actor=user, name=f"card {n}", sprint=sprint).pk
           for n in range(size)]
    return user, ids


def _column(ids: list[int]) -> list[Any]:
    from api.board.models import Task

    return list(Task.objects.filter(pk__in=ids).order_by("rank", "id"))


def _pattern(name: str, user: Any, ids: list[int], moves: int, rng: random.Random
             ) -> dict[str, Any]:
    from api.board import ranks, services
    from api.realtime.models import OutboxEvent

    rebalances, events = ranks.rebalance_count(), OutboxEvent.objects.count()
    longest = 0
    started = time.perf_counter()
    for _ in range(moves):
        column = _column(ids)
        if name == "random":
            task = rng.choice(column)
            others = [t for t in column if t.pk != task.pk]
            # any slot but its own: a move to where a card is changes nothing
            slot = rng.choice([i for i in range(len(others) + 1) if i != column.index(task)])
            after = others[slot - 1].pk if slot else None
        else:
            task, after = column[-1], column[0].pk
        moved = services.task_move(task=task.pk, actor=user, expected_version=None, after=after)
        longest = max(longest, len(moved.rank))
    elapsed = time.perf_counter() - started
    count = ranks.rebalance_count() - rebalances
    return {"pattern": name, "moves": moves, "rebalances": count,
            "per_1000_moves": 1000 * count / max(moves, 1),
            "events_per_move": (OutboxEvent.objects.count() - events) / max(moves, 1),
            "longest_rank": longest, "ranks_now": max(len(t.rank) for t in _column(ids)),
            "ms_per_move": 1000 * elapsed / max(moves, 1)}


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((sys.argv[1:] if argv is None else argv)[0])
    from api.board import ranks

    user, ids = _setup(spec["column"])
    rng = random.Random(spec.get("seed", 11))
    patterns = [_pattern(name, user, ids, spec["moves"], rng) for name in ("random", "same place")]
    print(json.dumps({"column": spec["column"], "rebalance_length": ranks.REBALANCE_LENGTH,
                      "patterns": patterns, "database": "SQLite (temporary file)"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
