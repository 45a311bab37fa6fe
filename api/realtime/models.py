"""The outbox: authoritative events written with the change, and per-sprint streams."""

from __future__ import annotations

import datetime
import secrets

from django.db import models


def new_epoch() -> str:
    """A fresh stream epoch: 16 URL-safe characters (docs/protocol.md §7)."""
    return secrets.token_urlsafe(12)


class SprintSequence(models.Model):
    """One sprint's stream: the last event seq handed out, and the stream's epoch.

    A plain integer `sprint_id` (no foreign key): a deleted sprint keeps its stream, and
    its `deleted` event still gets the next seq. The `epoch` names the stream for the
    realtime server: a new one (after this database was restored from a backup and its
    seqs went back) makes the server start the sprint's history afresh instead of taking
    the new events for duplicates. `reset_pending`: the next event sent must ask the
    server to restart the sprint's history (`"reset": true`), because the server cannot
    have every event before it (skipped, pruned, or a new epoch).
    """

    sprint_id = models.BigIntegerField(primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    epoch = models.CharField(max_length=64, default=new_epoch)
    reset_pending = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"sprint {self.sprint_id}: seq {self.last_seq}"


class OutboxEvent(models.Model):
    """One authoritative change in one sprint's stream (docs/protocol.md §3 `event`, §6)."""

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        DELETED = "deleted"
        ADDED = "added"
        REMOVED = "removed"

    class Model(models.TextChoices):
        TASK = "task"
        SPRINT = "sprint"

    sprint_id = models.BigIntegerField()
    seq = models.PositiveBigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    model = models.CharField(max_length=10, choices=Model.choices)
    object_id = models.BigIntegerField()
    # The object exactly as the REST API represents it (with absolute links); null if deleted.
    data = models.JSONField(null=True, blank=True)
    # Who made the change: the user's id and username as they were then (plain values, no
    # foreign key: the log keeps naming a user who was deleted or renamed since); both
    # null for a change the system made (a management command, seed_demo).
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the realtime server answered `accepted`, `reset` or `duplicate`.
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Dead letter: set when the realtime server refused the event for good (or it is too
    # large to send). The sprint's later events wait until `manage.py outbox skip` (then
    # `skipped_at` is set) or `retry` (both cleared).
    failed_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=500, blank=True, default="")
    skipped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("sprint_id", "seq")
        constraints = [
            models.UniqueConstraint(fields=["sprint_id", "seq"], name="outbox_sprint_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["sprint_id", "seq"], name="outbox_pending_idx",
                         condition=models.Q(delivered_at__isnull=True)),
            models.Index(fields=["delivered_at"], name="outbox_delivered_idx"),
            models.Index(fields=["sprint_id", "seq"], name="outbox_dead_idx",
                         condition=models.Q(failed_at__isnull=False, skipped_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"sprint {self.sprint_id} #{self.seq} {self.model} {self.object_id} {self.action}"

    @property
    def actor(self) -> dict[str, object] | None:
        """`{"id", "username"}` of the user who made the change, None for the system."""
        if self.actor_id is None:
            return None
        return {"id": self.actor_id, "username": self.actor_username or ""}

    def to_wire(self) -> dict[str, object]:
        """The event as `POST /events/` carries it (docs/protocol.md §7)."""
        return {"sprint": self.sprint_id, "seq": self.seq, "action": self.action,
                "model": self.model, "id": self.object_id, "data": self.data,
                "actor": self.actor}

    def to_frame(self) -> dict[str, object]:
        """The event as clients get it: the websocket `event` frame, plus `at`, the time
        it was committed (docs/protocol.md §3 `event`, §6 the event log)."""
        return {"type": "event", "sprint": self.sprint_id, "seq": self.seq,
                "action": self.action, "model": self.model, "id": self.object_id,
                "data": self.data, "actor": self.actor,
                "at": self.created_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")}
