"""Which outbox events a board change produces (docs/protocol.md §3 `event`).

Called by the services only (`api/board/services/`), inside their transaction, with the user
whose request made the change as `actor` (None for the system: `record_event` stores who). Tasks in
the backlog (sprint null) have no stream: creating, changing or deleting them records
nothing; moving one into a sprint is `added` there, out of one `removed`.
"""

from __future__ import annotations

from typing import Any

from api.board.models import Sprint, Task
from api.board.serializers import SprintSerializer, TaskSerializer
from api.realtime.models import OutboxEvent
from api.realtime.outbox import record_event

Action = OutboxEvent.Action


def task_representation(task: Task) -> dict[str, Any]:
    """The task exactly as the API returns it."""
    return dict(TaskSerializer(task).data)


def sprint_representation(sprint: Sprint) -> dict[str, Any]:
    """The sprint exactly as the API returns it."""
    return dict(SprintSerializer(sprint).data)


def task_created(task: Task, *, actor: Any) -> None:
    if task.sprint_id is not None:
        _record_task(task, task.sprint_id, Action.CREATED, actor)


def task_changed(task: Task, *, previous_sprint_id: int | None, actor: Any) -> None:
    """One event per affected stream: `updated`, or `removed` + `added` across sprints."""
    if previous_sprint_id == task.sprint_id:
        if task.sprint_id is not None:
            _record_task(task, task.sprint_id, Action.UPDATED, actor)
        return
    changes: list[tuple[int, str]] = []
    if previous_sprint_id is not None:
        changes.append((previous_sprint_id, Action.REMOVED))
    if task.sprint_id is not None:
        changes.append((task.sprint_id, Action.ADDED))
    # Sprint counters are locked in id order, as the services lock sprints.
    for sprint_id, action in sorted(changes):
        _record_task(task, sprint_id, action, actor)


def task_deleted(task_id: int, *, sprint_id: int | None, actor: Any) -> None:
    """Record the deletion of a task that was in `sprint_id` (nothing for the backlog)."""
    if sprint_id is not None:
        record_event(sprint_id=sprint_id, action=Action.DELETED, model=OutboxEvent.Model.TASK,
                     object_id=task_id, serialize=lambda: None, actor=actor)


def sprint_created(sprint: Sprint, *, actor: Any) -> None:
    _record_sprint(sprint, Action.CREATED, actor)


def sprint_updated(sprint: Sprint, *, actor: Any) -> None:
    _record_sprint(sprint, Action.UPDATED, actor)


def sprint_deleted(sprint_id: int, *, actor: Any) -> None:
    """Record a sprint's deletion in its own stream (the stream outlives the sprint)."""
    record_event(sprint_id=sprint_id, action=Action.DELETED, model=OutboxEvent.Model.SPRINT,
                 object_id=sprint_id, serialize=lambda: None, actor=actor)


def _record_task(task: Task, sprint_id: int, action: str, actor: Any) -> None:
    record_event(sprint_id=sprint_id, action=action, model=OutboxEvent.Model.TASK,
                 object_id=task.pk, serialize=lambda: task_representation(task), actor=actor)


def _record_sprint(sprint: Sprint, action: str, actor: Any) -> None:
    record_event(sprint_id=sprint.pk, action=action, model=OutboxEvent.Model.SPRINT,
                 object_id=sprint.pk, serialize=lambda: sprint_representation(sprint),
                 actor=actor)
