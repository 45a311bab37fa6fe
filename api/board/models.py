"""Sprints and tasks. Every save/delete also records an outbox event in the same transaction.

The outbox hook lives in `save()`/`delete()` (not in signals) so that it runs inside the
same `transaction.atomic()` block as the write, whether the write comes from the API,
the admin or a management command. Queryset `.update()`, `.bulk_create()`,
`.bulk_update()` and queryset `.delete()` bypass `save()`/`delete()` and therefore record
NO event: use them only where realtime clients need not hear of the change. (The admin's
bulk delete action is routed through `delete()`; see `admin.py`.) Likewise, deleting a
sprint moves its tasks to the backlog with an SQL update: those tasks get no `removed`
event, the sprint's `deleted` event covers them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction


class Sprint(models.Model):
    """A time-boxed iteration; `end` is unique (one sprint ends per day)."""

    name = models.CharField(max_length=100, blank=True, default="")
    description = models.TextField(blank=True, default="")
    end = models.DateField(unique=True)

    class Meta:
        ordering = ("end",)

    def __str__(self) -> str:
        return self.name or f"Sprint ending {self.end}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        from api.board.events import sprint_saved

        with transaction.atomic():
            created = self._state.adding
            super().save(*args, **kwargs)
            sprint_saved(self, created=created)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        from api.board.events import sprint_deleted

        with transaction.atomic():
            sprint_id = self.pk
            result = super().delete(*args, **kwargs)
            sprint_deleted(sprint_id)
            return result


class Task(models.Model):
    """A unit of work, in a sprint or in the backlog (`sprint` null)."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not Started"
        IN_PROGRESS = "in_progress", "In Progress"
        TESTING = "testing", "Testing"
        DONE = "done", "Done"

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    sprint = models.ForeignKey(Sprint, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="tasks")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_STARTED)
    order = models.SmallIntegerField(default=0)
    assigned = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                 null=True, blank=True, related_name="tasks")
    started = models.DateField(null=True, blank=True)
    due = models.DateField(null=True, blank=True)
    completed = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ("order", "id")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        from api.board.events import task_saved

        with transaction.atomic():
            previous_sprint_id = self._stored_sprint_id()
            super().save(*args, **kwargs)
            task_saved(self, previous_sprint_id=previous_sprint_id)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        from api.board.events import task_deleted

        with transaction.atomic():
            task_id, stored = self.pk, self._stored_sprint_id()
            result = super().delete(*args, **kwargs)
            task_deleted(task_id, sprint_id=stored if isinstance(stored, int) else None)
            return result

    def _stored_sprint_id(self) -> int | object | None:
        """The sprint the database has for this task (row locked), or NOT_STORED if new."""
        if self.pk is None:
            return NOT_STORED
        row = (Task.objects.select_for_update().filter(pk=self.pk)
               .values_list("sprint_id", flat=True))
        return next(iter(row), NOT_STORED)


#: Marks "no row in the database yet" as distinct from "stored in the backlog" (None).
NOT_STORED = object()
