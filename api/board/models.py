"""Sprints and tasks: the tables only. Every change goes through `api/board/services/`.

The services lock rows, apply the board's rules, keep `version` and `rank` right and
record the outbox event in the same transaction. A plain ORM write (`save()`,
`objects.create()`, `update()`, `bulk_*`, `delete()`) does none of that: it records NO
event, so realtime clients never hear of it, and it is not checked against the rules.
Use ORM writes only for data no client watches (migrations, tests of the tables).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from api.board.ranks import RankField
from api.limits import DESCRIPTION_MAX_LENGTH


class Sprint(models.Model):
    """A time-boxed iteration; `end` is unique (one sprint ends per day)."""

    name = models.CharField(max_length=100, blank=True, default="")
    # Bounded for every writer, the admin forms included (the API checks it too).
    description = models.TextField(blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)
    end = models.DateField(unique=True)
    # 1 on create, +1 on every change (ETag / If-Match, docs/api.md).
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ("end",)

    def __str__(self) -> str:
        return self.name or f"Sprint ending {self.end}"


class Task(models.Model):
    """A unit of work, in a sprint or in the backlog (`sprint` null).

    A column is a sprint's status (sprint, status), or the whole backlog (sprint null,
    any status); `rank` orders a column and is unique in it (api/board/ranks.py).
    """

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not Started"
        IN_PROGRESS = "in_progress", "In Progress"
        TESTING = "testing", "Testing"
        DONE = "done", "Done"

    name = models.CharField(max_length=100)
    # Bounded for every writer, the admin forms included (the API checks it too).
    description = models.TextField(blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)
    sprint = models.ForeignKey(Sprint, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="tasks")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_STARTED)
    rank: Any = RankField(editable=False)  # Any: mypy runs without Django stubs
    assigned = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                 null=True, blank=True, related_name="tasks")
    started = models.DateField(null=True, blank=True)
    due = models.DateField(null=True, blank=True)
    completed = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ("rank", "id")
        constraints = [
            # Backstops: the services generate ranks under a lock of the column.
            models.UniqueConstraint(fields=["sprint", "status", "rank"],
                                    condition=models.Q(sprint__isnull=False),
                                    name="task_rank_unique_in_sprint_column"),
            models.UniqueConstraint(fields=["rank"], condition=models.Q(sprint__isnull=True),
                                    name="task_rank_unique_in_backlog"),
        ]

    def __str__(self) -> str:
        return self.name
