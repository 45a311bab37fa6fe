"""Which outbox events a sprint or task change produces (docs/protocol.md §3 `event`).

Tasks in the backlog (sprint null) have no stream: creating, changing or deleting them
records nothing; moving one into a sprint is `added` there, out of one `removed`.
"""

from __future__ import annotations

from typing import Any

from api.board.models import NOT_STORED, Sprint, Task
from api.realtime.models import OutboxEvent
from api.realtime.outbox import record_event

Action = OutboxEvent.Action


def serialize_task(task: Task) -> dict[str, Any]:
    """The task exactly as the API returns it."""
    from api.board.serializers import TaskSerializer

    return dict(TaskSerializer(task).data)


def serialize_sprint(sprint: Sprint) -> dict[str, Any]:
    """The sprint exactly as the API returns it."""
    from api.board.serializers import SprintSerializer

    return dict(SprintSerializer(sprint).data)


def task_saved(task: Task, *, previous_sprint_id: int | object | None) -> None:
    """Record the events of a task save; `previous_sprint_id` is NOT_STORED for a new task."""
    changes: list[tuple[int, str]] = []
    if previous_sprint_id is NOT_STORED:
        if task.sprint_id is not None:
            changes.append((task.sprint_id, Action.CREATED))
    elif previous_sprint_id == task.sprint_id:
        if task.sprint_id is not None:
            changes.append((task.sprint_id, Action.UPDATED))
    else:
        if isinstance(previous_sprint_id, int):
            changes.append((previous_sprint_id, Action.REMOVED))
        if task.sprint_id is not None:
            changes.append((task.sprint_id, Action.ADDED))
    # Lock sprint counters in id order so two opposite moves cannot deadlock.
    for sprint_id, action in sorted(changes):
        record_event(sprint_id=sprint_id, action=action, model=OutboxEvent.Model.TASK,
                     object_id=task.pk, serialize=lambda: serialize_task(task))


def task_deleted(task_id: int, *, sprint_id: int | None) -> None:
    """Record the deletion of a task that was in `sprint_id` (nothing for the backlog)."""
    if sprint_id is not None:
        record_event(sprint_id=sprint_id, action=Action.DELETED, model=OutboxEvent.Model.TASK,
                     object_id=task_id, serialize=lambda: None)


def sprint_saved(sprint: Sprint, *, created: bool) -> None:
    """Record a sprint's creation or change in its own stream."""
    record_event(sprint_id=sprint.pk, action=Action.CREATED if created else Action.UPDATED,
                 model=OutboxEvent.Model.SPRINT, object_id=sprint.pk,
                 serialize=lambda: serialize_sprint(sprint))


def sprint_deleted(sprint_id: int) -> None:
    """Record a sprint's deletion in its own stream (the stream outlives the sprint)."""
    record_event(sprint_id=sprint_id, action=Action.DELETED, model=OutboxEvent.Model.SPRINT,
                 object_id=sprint_id, serialize=lambda: None)
