"""Task changes: create, edit, move, delete (the column, rank and date rules)."""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from api.board import change_events as events
from api.board import columns
from api.board.models import Sprint, Task
from api.board.rules import TaskDates, apply_status_dates, sprint_closed_error, task_errors
from api.board.services.common import (
    KEEP,
    TASK_FIELDS,
    Actor,
    ExpectedVersion,
    Keep,
    Moved,
    atomic,
    check_version,
    pk_of,
    required_pk,
)


def _check_status(status: Any) -> None:
    if status not in Task.Status.values:
        raise ValidationError({"status": [f'"{status}" is not a valid choice.']})


def _lock_task(task_id: int, *, target_sprint: int | Keep | None = KEEP,
               ) -> tuple[Task, dict[int, Sprint]]:
    """The task, row-locked, with its column's lock and the target sprint's taken first."""
    current = list(Task.objects.filter(pk=task_id).values_list("sprint_id", flat=True))
    if not current:
        raise Task.DoesNotExist(f"No task {task_id}.")
    wanted = {current[0]} if target_sprint is KEEP else {current[0], target_sprint}
    sprints = columns.lock_columns(wanted)
    task = Task.objects.select_for_update().get(pk=task_id)
    if task.sprint_id != current[0]:
        raise Moved
    return task, sprints


def _open_sprint(sprint_id: int, sprints: dict[int, Sprint], today: datetime.date,
                 field: str = "sprint") -> Sprint:
    """The locked sprint a task moves into, or a field error."""
    sprint = sprints.get(sprint_id)
    if sprint is None:
        raise ValidationError({field: [f'Invalid pk "{sprint_id}" - object does not exist.']})
    error = sprint_closed_error(sprint, today=today)
    if error:
        raise ValidationError({field: [error]})
    return sprint


def _dates(task: Task, *, old_status: str | None, explicit: Collection[str],
           today: datetime.date, error_field: str | None = None) -> None:
    """Apply the date rules to `task` in place; a broken rule is a field error."""
    dates = apply_status_dates(
        old_status=old_status, explicit=explicit, today=today,
        new=TaskDates(status=task.status, started=task.started, completed=task.completed))
    task.started, task.completed = dates.started, dates.completed
    errors = task_errors(dates)
    if errors and error_field is not None:  # e.g. a move: the field the client sent
        field, message = next(iter(errors.items()))
        errors = {error_field: f"Moving to {task.status}: {field}: {message}"}
    if errors:
        raise ValidationError({field: [message] for field, message in errors.items()})


def _save_placed(task: Task, placement: columns.Placement, *, fields: Collection[str],
                 previous_sprint_id: int | None, actor: Actor, created: bool = False) -> Task:
    """Save the task (version + 1 unless new) and record its events and the rebalance's."""
    task.rank = placement.rank
    if created:
        task.save(force_insert=True)
        events.task_created(task, actor=actor)
    else:
        task.version += 1
        task.save(update_fields=sorted({*fields, "rank", "version"}))
        events.task_changed(task, previous_sprint_id=previous_sprint_id, actor=actor)
    for other in placement.rebalanced:
        events.task_changed(other, previous_sprint_id=other.sprint_id, actor=actor)
    return task


def task_create(*, actor: Actor, name: str, description: str = "",
                sprint: Sprint | int | None = None, status: str = "not_started",
                assigned: Any = None, started: datetime.date | None = None,
                due: datetime.date | None = None,
                completed: datetime.date | None = None) -> Task:
    """A new task at the bottom of its column (version 1, `created` in its sprint)."""
    sprint_id = pk_of(sprint)
    _check_status(status)

    def write() -> Task:
        today = timezone.localdate()
        sprints = columns.lock_columns({sprint_id})
        if sprint_id is not None:
            _open_sprint(sprint_id, sprints, today)
        task = Task(name=name, description=description, sprint_id=sprint_id, status=status,
                    assigned=assigned, started=started, due=due, completed=completed)
        explicit = [f for f in ("started", "completed") if getattr(task, f) is not None]
        _dates(task, old_status=None, explicit=explicit, today=today)
        placement = columns.place(task, sprint_id=sprint_id, status=status, after=None,
                                  bottom=True)
        return _save_placed(task, placement, fields=(), previous_sprint_id=None, actor=actor,
                            created=True)

    return atomic(write)


def task_update(*, task: Task | int, actor: Actor, expected_version: ExpectedVersion,
                changes: Mapping[str, Any]) -> Task:
    """Change the fields named in `changes` (TASK_FIELDS). A new column (status or sprint)
    puts the task at its bottom; the date rules follow the status."""
    unknown = set(changes) - TASK_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    if "status" in changes:
        _check_status(changes["status"])
    task_id = required_pk(task)
    target = pk_of(changes["sprint"]) if "sprint" in changes else KEEP

    def write() -> Task:
        current, before, today = _begin(task_id, target, expected_version)
        for name, value in changes.items():
            field = Task._meta.get_field(name)
            setattr(current, field.attname, pk_of(value) if field.is_relation else value)
        _dates(current, old_status=before["status"], today=today,
               explicit={"started", "completed"} & set(changes))
        changed = _changed(before, current)
        if not changed:
            return current
        moved = _column_changed(before, current)
        return _place_and_save(current, fields=changed, after=None, bottom=moved,
                               keep_rank=not moved, previous_sprint_id=before["sprint"],
                               actor=actor)

    return atomic(write)


def task_move(*, task: Task | int, actor: Actor, expected_version: ExpectedVersion,
              status: str | Keep = KEEP, sprint: Sprint | int | Keep | None = KEEP,
              after: Task | int | Keep | None = KEEP) -> Task:
    """Move the task to column (`sprint`, `status`), directly below task `after` as it is
    now (None: the top; KEEP: where it is in the same column, else the bottom).

    A move to where the task already is changes nothing (same version, no event).
    """
    task_id = required_pk(task)
    target = pk_of(sprint) if sprint is not KEEP else KEEP
    after_id = pk_of(after) if after is not KEEP else KEEP
    if status is not KEEP:
        _check_status(status)

    def write() -> Task:
        current, before, today = _begin(task_id, target, expected_version)
        current.sprint_id = current.sprint_id if target is KEEP else target
        current.status = current.status if status is KEEP else status
        moved = _column_changed(before, current)
        below = None if after_id is KEEP or after_id is None else _after(after_id, current)
        keep_rank = (not moved and after_id is KEEP) or (
            not moved and after_id is not KEEP and _above(current, before) == below)
        _dates(current, old_status=before["status"], explicit=(), today=today,
               error_field="status")
        changed = _changed(before, current)
        if not changed and keep_rank:
            return current
        return _place_and_save(current, fields=changed, after=below,
                               bottom=after_id is KEEP, keep_rank=keep_rank,
                               previous_sprint_id=before["sprint"], actor=actor)

    return atomic(write)


def _begin(task_id: int, target: int | Keep | None,
           expected_version: ExpectedVersion) -> tuple[Task, dict[str, Any], datetime.date]:
    """Lock the task (and its target sprint), check its version and that the target sprint
    takes tasks; return it, a snapshot of it as stored, and today."""
    today = timezone.localdate()
    current, sprints = _lock_task(task_id, target_sprint=target)
    check_version(current, expected_version)
    if target is not KEEP and target != current.sprint_id and target is not None:
        _open_sprint(target, sprints, today)
    return current, _snapshot(current), today


def _after(after_id: int, task: Task) -> Task:
    """The task to land below: it must be another task of the target column."""
    if after_id == task.pk:
        raise ValidationError({"after": ["A task cannot be placed after itself."]})
    found = Task.objects.filter(pk=after_id).first()
    if found is None:
        raise ValidationError({"after": [f"There is no task {after_id}."]})
    in_column = found.sprint_id == task.sprint_id and (
        task.sprint_id is None or found.status == task.status)
    if not in_column:
        where = columns.describe(task.sprint_id, task.status)
        raise ValidationError({"after": [f"Task {after_id} is not in the target column "
                                         f"({where})."]})
    # Safe to lock now: its column's lock is held, so nobody holds this row.
    return Task.objects.select_for_update().get(pk=after_id)


def _above(task: Task, before: dict[str, Any]) -> Task | None:
    """The task directly above `task` in its (unchanged) column, None at the top."""
    return (columns.column(task.sprint_id, task.status).exclude(pk=task.pk)
            .filter(rank__lt=before["rank"]).order_by("-rank").first())


def task_delete(*, task: Task | int, actor: Actor, expected_version: ExpectedVersion) -> None:
    """Delete the task (`deleted` in its sprint)."""
    task_id = required_pk(task)

    def write() -> None:
        current, _ = _lock_task(task_id)
        check_version(current, expected_version)
        sprint_id = current.sprint_id
        current.delete()
        events.task_deleted(task_id, sprint_id=sprint_id, actor=actor)

    atomic(write)


_SNAPSHOT = ("name", "description", "sprint", "status", "assigned", "started", "due",
             "completed", "rank")


def _snapshot(task: Task) -> dict[str, Any]:
    """Field → value as stored (ids for foreign keys)."""
    return {name: getattr(task, Task._meta.get_field(name).attname) for name in _SNAPSHOT}


def _changed(before: dict[str, Any], task: Task) -> set[str]:
    return {name for name, value in _snapshot(task).items() if value != before[name]}


def _column_changed(before: dict[str, Any], task: Task) -> bool:
    if before["sprint"] != task.sprint_id:
        return True
    return task.sprint_id is not None and before["status"] != task.status


def _place_and_save(task: Task, *, fields: Collection[str], after: Task | None, bottom: bool,
                    keep_rank: bool, previous_sprint_id: int | None, actor: Actor) -> Task:
    if keep_rank:
        placement = columns.Placement(rank=task.rank, rebalanced=[])
    else:
        placement = columns.place(task, sprint_id=task.sprint_id, status=task.status,
                                  after=after, bottom=bottom)
    return _save_placed(task, placement, fields=fields, previous_sprint_id=previous_sprint_id,
                        actor=actor)
