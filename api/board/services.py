"""Every change to tasks and sprints: the one place the board's rules are applied.

Views, the admin, `seed_demo` and management commands call these functions; nothing else
writes board rows. Each is one transaction that locks what it reads to decide (see
`api/board/columns.py` for the lock order), applies the rules (`api/board/rules.py`),
keeps `version` and `rank`, and records the outbox events in the same transaction.

* `expected_version`: None writes whatever the current version (last write wins);
  otherwise the current version must be it (or one of them), else `VersionConflict` and
  nothing changes.
* `actor`: the user making the change, None for the system: every event the change
  records names them (`actor` in docs/protocol.md §3).
* Bad input raises `django.core.exceptions.ValidationError` with a dict of field errors.
* A write that changes nothing keeps the version and records no event.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from api.board import columns, events
from api.board.models import Sprint, Task
from api.board.rules import TaskDates, apply_status_dates, sprint_closed_error, task_errors

T = TypeVar("T")
Actor = Any  # a user, or None for the system
ExpectedVersion = int | Collection[int] | None
TASK_FIELDS = frozenset({"name", "description", "sprint", "status", "assigned", "started",
                         "due", "completed"})
SPRINT_FIELDS = frozenset({"name", "description", "end"})


class Keep(enum.Enum):
    """An argument left out: the value stays as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


class VersionConflict(Exception):
    """The object is not at the version the write expected; `current` is its state."""

    def __init__(self, current: Task | Sprint, expected: ExpectedVersion) -> None:
        self.current = current
        noun = "task" if isinstance(current, Task) else "sprint"
        versions = sorted({expected} if isinstance(expected, int) else set(expected or ()))
        if len(versions) == 1:
            message = f"The {noun} changed since version {versions[0]} (now {current.version})."
        else:
            message = (f"The {noun} is at version {current.version}, "
                       f"not {' or '.join(map(str, versions))}.")
        super().__init__(message)


class _Moved(Exception):
    """The task changed column between reading it and locking it: start again."""


def _atomic(write: Callable[[], T]) -> T:
    """Run `write` in a transaction; again (twice at most) if it raised `_Moved`."""
    for _ in range(2):
        try:
            with transaction.atomic():
                return write()
        except _Moved:
            continue
    with transaction.atomic():
        return write()


def _check_status(status: Any) -> None:
    if status not in Task.Status.values:
        raise ValidationError({"status": [f'"{status}" is not a valid choice.']})


def _check_version(obj: Task | Sprint, expected: ExpectedVersion) -> None:
    if expected is None:
        return
    allowed = {expected} if isinstance(expected, int) else set(expected)
    if obj.version not in allowed:
        raise VersionConflict(obj, expected)


def _pk(value: Any) -> Any:
    """The primary key of a model instance (a sprint, task or user); anything else as is."""
    return value.pk if isinstance(value, models.Model) else value


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
        raise _Moved
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


# --- tasks ------------------------------------------------------------------------------

def task_create(*, actor: Actor, name: str, description: str = "",
                sprint: Sprint | int | None = None, status: str = "not_started",
                assigned: Any = None, started: datetime.date | None = None,
                due: datetime.date | None = None,
                completed: datetime.date | None = None) -> Task:
    """A new task at the bottom of its column (version 1, `created` in its sprint)."""
    sprint_id = _pk(sprint)
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

    return _atomic(write)


def task_update(*, task: Task | int, actor: Actor, expected_version: ExpectedVersion,
                changes: Mapping[str, Any]) -> Task:
    """Change the fields named in `changes` (TASK_FIELDS). A new column (status or sprint)
    puts the task at its bottom; the date rules follow the status."""
    unknown = set(changes) - TASK_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    if "status" in changes:
        _check_status(changes["status"])
    task_id = _required_pk(task)
    target = _pk(changes["sprint"]) if "sprint" in changes else KEEP

    def write() -> Task:
        current, before, today = _begin(task_id, target, expected_version)
        for name, value in changes.items():
            field = Task._meta.get_field(name)
            setattr(current, field.attname, _pk(value) if field.is_relation else value)
        _dates(current, old_status=before["status"], today=today,
               explicit={"started", "completed"} & set(changes))
        changed = _changed(before, current)
        if not changed:
            return current
        moved = _column_changed(before, current)
        return _place_and_save(current, fields=changed, after=None, bottom=moved,
                               keep_rank=not moved, previous_sprint_id=before["sprint"],
                               actor=actor)

    return _atomic(write)


def task_move(*, task: Task | int, actor: Actor, expected_version: ExpectedVersion,
              status: str | Keep = KEEP, sprint: Sprint | int | Keep | None = KEEP,
              after: Task | int | Keep | None = KEEP) -> Task:
    """Move the task to column (`sprint`, `status`), directly below task `after` as it is
    now (None: the top; KEEP: where it is in the same column, else the bottom).

    A move to where the task already is changes nothing (same version, no event).
    """
    task_id = _required_pk(task)
    target = _pk(sprint) if sprint is not KEEP else KEEP
    after_id = _pk(after) if after is not KEEP else KEEP
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

    return _atomic(write)


def _begin(task_id: int, target: int | Keep | None,
           expected_version: ExpectedVersion) -> tuple[Task, dict[str, Any], datetime.date]:
    """Lock the task (and its target sprint), check its version and that the target sprint
    takes tasks; return it, a snapshot of it as stored, and today."""
    today = timezone.localdate()
    current, sprints = _lock_task(task_id, target_sprint=target)
    _check_version(current, expected_version)
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
    task_id = _required_pk(task)

    def write() -> None:
        current, _ = _lock_task(task_id)
        _check_version(current, expected_version)
        sprint_id = current.sprint_id
        current.delete()
        events.task_deleted(task_id, sprint_id=sprint_id, actor=actor)

    _atomic(write)


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


def _required_pk(value: Task | Sprint | int) -> int:
    pk = _pk(value)
    if pk is None:
        raise ValueError("an object that is saved (with a primary key) is needed")
    return int(pk)


# --- sprints ----------------------------------------------------------------------------

def sprint_create(*, actor: Actor, end: datetime.date, name: str = "",
                  description: str = "") -> Sprint:
    """A new sprint (version 1, `created` in its own stream)."""

    def write() -> Sprint:
        sprint = Sprint(name=name, description=description, end=end)
        sprint.save(force_insert=True)
        events.sprint_created(sprint, actor=actor)
        return sprint

    return _atomic(write)


def sprint_update(*, sprint: Sprint | int, actor: Actor, expected_version: ExpectedVersion,
                  changes: Mapping[str, Any]) -> Sprint:
    """Change the fields named in `changes` (SPRINT_FIELDS)."""
    unknown = set(changes) - SPRINT_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    sprint_id = _required_pk(sprint)

    def write() -> Sprint:
        current = _lock_sprint(sprint_id, backlog=False)
        _check_version(current, expected_version)
        changed = {k for k, v in changes.items() if getattr(current, k) != v}
        if not changed:
            return current
        for name in changed:
            setattr(current, name, changes[name])
        current.version += 1
        current.save(update_fields=sorted({*changed, "version"}))
        events.sprint_updated(current, actor=actor)
        return current

    return _atomic(write)


def sprint_delete(*, sprint: Sprint | int, actor: Actor,
                  expected_version: ExpectedVersion) -> None:
    """Delete the sprint; its tasks go to the bottom of the backlog, in board order.

    Only the sprint's `deleted` event is recorded: it covers its tasks (the backlog has
    no stream), which still get a new rank and version.
    """
    sprint_id = _required_pk(sprint)

    def write() -> None:
        current = _lock_sprint(sprint_id, backlog=True)
        _check_version(current, expected_version)
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

    _atomic(write)


def _lock_sprint(sprint_id: int, *, backlog: bool) -> Sprint:
    locked = columns.lock_columns({sprint_id, None} if backlog else {sprint_id})
    if sprint_id not in locked:
        raise Sprint.DoesNotExist(f"No sprint {sprint_id}.")
    return locked[sprint_id]
