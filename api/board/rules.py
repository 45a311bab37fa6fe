"""The board's rules on a task's dates and sprint, as pure functions (written once).

The services (`api/board/services/`) apply them to every write, whoever makes it; the
admin's form asks `task_errors` too, so that it can show the errors on the form.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass

from api.board.models import Sprint, Task

Status = Task.Status
#: Statuses of work that has started: moving into one sets `started` if it is empty.
STARTED_STATUSES = frozenset({Status.IN_PROGRESS, Status.TESTING, Status.DONE})


@dataclass(frozen=True)
class TaskDates:
    """What the date rules read and write."""

    status: str
    started: datetime.date | None
    completed: datetime.date | None


def apply_status_dates(*, old_status: str | None, new: TaskDates, today: datetime.date,
                       explicit: Collection[str] = ()) -> TaskDates:
    """The dates after a change of status from `old_status` (None: a new task) to `new.status`.

    Into in_progress/testing/done: `started` = today if empty; into done: `completed` =
    today if empty; out of done: `completed` cleared; into not_started: `started` cleared.
    A date named in `explicit` (sent in the same write) is never cleared; `task_errors`
    then judges it.
    """
    started, completed = new.started, new.completed
    if new.status == old_status:
        return new
    if new.status in STARTED_STATUSES and started is None:
        started = today
    if new.status == Status.DONE and completed is None:
        completed = today
    if old_status == Status.DONE and new.status != Status.DONE and "completed" not in explicit:
        completed = None
    if new.status == Status.NOT_STARTED and "started" not in explicit:
        started = None
    return TaskDates(status=new.status, started=started, completed=completed)


def task_errors(dates: TaskDates) -> dict[str, str]:
    """Field → message for every date rule the state breaks (empty: all fine)."""
    if dates.status == Status.NOT_STARTED and dates.started:
        return {"started": "A task that has not started cannot have a started date."}
    if dates.completed and dates.status != Status.DONE:
        return {"completed": "Only a task whose status is done can have a completed date."}
    if dates.started and dates.completed and dates.started > dates.completed:
        return {"completed": "The completed date cannot be before the started date."}
    return {}


def sprint_closed_error(sprint: Sprint, *, today: datetime.date) -> str | None:
    """Why a task cannot move into `sprint` (None: it can)."""
    if sprint.end < today:
        return "Cannot add tasks to a sprint that has ended."
    return None
