"""Sprint changes: create, edit, delete (its tasks go to the backlog)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from api.board import change_events as events
from api.board import columns
from api.board.models import Sprint, Task
from api.board.services.common import (
    SPRINT_FIELDS,
    Actor,
    ExpectedVersion,
    atomic,
    check_version,
    required_pk,
)


def sprint_create(*, actor: Actor, end: datetime.date, name: str = "",
                  description: str = "") -> Sprint:
    """A new sprint (version 1, `created` in its own stream)."""

    def write() -> Sprint:
        sprint = Sprint(name=name, description=description, end=end)
        sprint.save(force_insert=True)
        events.sprint_created(sprint, actor=actor)
        return sprint

    return atomic(write)


def sprint_update(*, sprint: Sprint | int, actor: Actor, expected_version: ExpectedVersion,
                  changes: Mapping[str, Any]) -> Sprint:
    """Change the fields named in `changes` (SPRINT_FIELDS)."""
    unknown = set(changes) - SPRINT_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    sprint_id = required_pk(sprint)

    def write() -> Sprint:
        current = _lock_sprint(sprint_id, backlog=False)
        check_version(current, expected_version)
        changed = {k for k, v in changes.items() if getattr(current, k) != v}
        if not changed:
            return current
        for name in changed:
            setattr(current, name, changes[name])
        current.version += 1
        current.save(update_fields=sorted({*changed, "version"}))
        events.sprint_updated(current, actor=actor)
        return current

    return atomic(write)


def sprint_delete(*, sprint: Sprint | int, actor: Actor,
                  expected_version: ExpectedVersion) -> None:
    """Delete the sprint; its tasks go to the bottom of the backlog, in board order.

    Only the sprint's `deleted` event is recorded: it covers its tasks (the backlog has
    no stream), which still get a new rank and version.
    """
    sprint_id = required_pk(sprint)

    def write() -> None:
        current = _lock_sprint(sprint_id, backlog=True)
        check_version(current, expected_version)
        statuses = list(Task.Status.values)
        tasks = sorted(Task.objects.select_for_update().filter(sprint_id=sprint_id),
                       key=lambda t: (statuses.index(t.status), t.rank, t.pk))
        for task in tasks:
            task.sprint_id = None
            placement = columns.place(task, sprint_id=None, status=task.status, after=None,
                                      bottom=True)
            task.rank, task.version = placement.rank, task.version + 1
            task.save(update_fields=["sprint", "rank", "version"])
        current.delete()
        events.sprint_deleted(sprint_id, actor=actor)

    atomic(write)


def _lock_sprint(sprint_id: int, *, backlog: bool) -> Sprint:
    locked = columns.lock_columns({sprint_id, None} if backlog else {sprint_id})
    if sprint_id not in locked:
        raise Sprint.DoesNotExist(f"No sprint {sprint_id}.")
    return locked[sprint_id]
