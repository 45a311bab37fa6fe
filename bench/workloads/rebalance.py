"""Issue 11's ``rebalance`` workload: how often the server rebalances a column's ranks.

The coordinator (`run`) runs this module in a process of its own, ``python -m
bench.workloads.rebalance '<spec>'``, which runs Django in that process on the database of
``DATABASE_URL`` (a temporary SQLite file, the delivery thread off), makes a sprint with one
column of ``column`` cards through the services, then ``moves`` moves in two patterns:

* ``random``: a random card below a random other card (or to the top), never where it
  already is, as people do;
* ``same place``: the bottom card to directly below the top card, again and again: each
  new key lands between the same neighbour and the previous one, so keys grow as fast as
  they can (the worst case of fractional indexing).

Rebalances come from the board's own counter (`api.board.ranks.rebalance_count`), events
from the outbox; it prints one JSON line. The second part of the report's section 8.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import log
from bench.procs import ROOT
from bench.profiles import Profile
from bench.tables import fmt, table

__all__ = ["main", "run", "section"]

COLUMN_SIZE = 20


# --- coordinator ------------------------------------------------------------------------


def run(p: Profile) -> dict[str, Any]:
    """Rank rebalances per move: random moves in a 20-card column, then the worst case."""
    if not p.rebalance_moves:
        return {"skipped": "no moves in this profile"}
    with tempfile.TemporaryDirectory(prefix="bench-rebalance-") as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'db.sqlite3'}",
               "SECRET_KEY": "bench-only", "DEBUG": "false",
               "DJANGO_SETTINGS_MODULE": "api.settings", "REALTIME_DELIVERY_THREAD": "false"}
        spec = {"moves": p.rebalance_moves, "column": COLUMN_SIZE, "seed": 11}
        run = subprocess.run([sys.executable, "-m", "bench.workloads.rebalance", json.dumps(spec)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        raise RuntimeError(f"bench.workloads.rebalance failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    for row in result["patterns"]:
        log.info("rebalance %s: %d moves, %d rebalances, %.2f events/move, longest rank %d",
                 row["pattern"], row["moves"], row["rebalances"], row["events_per_move"],
                 row["longest_rank"])
    return result





# --- the measuring process (Django in this process) -----------------------------------------


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


# --- report -----------------------------------------------------------------------------


def section(w: dict[str, Any]) -> list[str]:
    """``### Rank rebalances``, from the workload's own results."""
    out = ["### Rank rebalances", "",
           f"Moves within one column of {w['column']} cards through the services "
           f"(`{w.get('database', '')}`), counted by the board's rebalance counter "
           f"(`api.board.ranks.rebalance_count`); a key longer than {w['rebalance_length']} "
           "characters makes the server rewrite the column in the same transaction. *Same "
           "place* drops the bottom card directly below the top one every time, the worst "
           "case for fractional keys.", ""]
    out += table(["pattern", "moves", "rebalances", "per 1,000 moves", "events / move",
                   "longest rank", "ms / move"],
                  [[r["pattern"], fmt(r["moves"]), fmt(r["rebalances"]),
                    fmt(r["per_1000_moves"], 2), fmt(r["events_per_move"], 2),
                    fmt(r["longest_rank"]), fmt(r["ms_per_move"], 2)] for r in w["patterns"]])
    return out


if __name__ == "__main__":
    sys.exit(main())
