"""Columns of the board: their locks, and where a task lands in one (its rank).

A column is a sprint's status (sprint, status) or the whole backlog (sprint null). Ranks
are generated only under the column's lock, so two writers never pick the same key:

* a sprint's columns are locked together by the Sprint row (`SELECT … FOR UPDATE`);
* the backlog by a transaction-scoped advisory lock on PostgreSQL (SQLite runs one
  write transaction at a time anyway: the settings open them IMMEDIATE).

Lock order, everywhere, so that writers cannot deadlock: the backlog, then sprint rows
by id, then task rows, then the outbox's sprint counters (by sprint id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from api.board import ranks
from api.board.models import Sprint, Task

#: pg_advisory_xact_lock key of the backlog ("WATERCOL" in ASCII: any fixed bigint).
BACKLOG_LOCK_KEY = 0x57415445_52434F4C


def lock_columns(sprint_ids: Iterable[int | None]) -> dict[int, Sprint]:
    """Lock the backlog (if None is named) and the named sprints; return those that exist."""
    wanted = set(sprint_ids)
    if None in wanted and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BACKLOG_LOCK_KEY])
    ids = sorted(i for i in wanted if i is not None)
    if not ids:
        return {}
    locked = Sprint.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {sprint.pk: sprint for sprint in locked}


def column(sprint_id: int | None, status: str) -> QuerySet[Task]:
    """The tasks of a column (the backlog ignores `status`)."""
    if sprint_id is None:
        return Task.objects.filter(sprint__isnull=True)
    return Task.objects.filter(sprint_id=sprint_id, status=status)


def describe(sprint_id: int | None, status: str) -> str:
    return "the backlog" if sprint_id is None else f"sprint {sprint_id}, {status}"


@dataclass
class Placement:
    """Where a task goes: its rank, and the column's other tasks whose rank changed."""

    rank: str
    rebalanced: list[Task]


def place(task: Task, *, sprint_id: int | None, status: str, after: Task | None,
          bottom: bool) -> Placement:
    """A rank for `task` in the column, directly below `after` (None: the top) or at the
    bottom. Call with the column locked. When the key would be too long (or a neighbour's
    key is broken), the whole column is rewritten evenly instead: the other tasks are saved
    here (new rank, version + 1) and returned in `rebalanced`; `task` is the caller's to save.
    """
    others = column(sprint_id, status).exclude(pk=task.pk).select_for_update(of=("self",))
    if bottom:
        below = None
        above = others.order_by("-rank").values_list("rank", flat=True).first()
    else:
        above = after.rank if after is not None else None
        later = others.filter(rank__gt=above) if above is not None else others
        below = later.order_by("rank").values_list("rank", flat=True).first()
    try:
        key = ranks.rank_between(above, below)
    except ranks.RankError:
        key = ""
    if key and not ranks.needs_rebalance(key):
        return Placement(rank=key, rebalanced=[])
    return _rebalance(task, list(others.order_by("rank", "id")), sprint_id=sprint_id,
                      status=status, after=after, bottom=bottom)


def _rebalance(task: Task, others: list[Task], *, sprint_id: int | None, status: str,
               after: Task | None, bottom: bool) -> Placement:
    """Rewrite the column's keys a0, a1, … with `task` at its place; save the others."""
    if bottom:
        index = len(others)
    else:
        index = 0 if after is None else [t.pk for t in others].index(after.pk) + 1
    ordered = [*others[:index], task, *others[index:]]
    keys = ranks.spread(len(ordered))
    # Park the rows on keys no rank can take ("~" sorts after every base-62 digit), so
    # the unique constraints never see two rows on one key in the middle of the rewrite.
    parked = [t.pk for t in ordered if t.pk is not None]
    for pk in parked:
        Task.objects.filter(pk=pk).update(rank=f"~{pk}")
    changed = []
    for other, key in zip(ordered, keys, strict=True):
        if other is task:
            continue
        if other.rank != key:
            other.rank = key
            other.version += 1
            changed.append(other)
        Task.objects.filter(pk=other.pk).update(rank=other.rank, version=other.version)
    ranks.note_rebalance(sprint_id=sprint_id, status=status, tasks=len(ordered))
    return Placement(rank=keys[index], rebalanced=changed)
