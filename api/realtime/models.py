"""The outbox: authoritative events written with the change, and per-sprint seq counters."""

from __future__ import annotations

from django.db import models


class SprintSequence(models.Model):
    """The last event seq handed out in one sprint's stream.

    A plain integer `sprint_id` (no foreign key): a deleted sprint keeps its stream, and
    its `deleted` event still gets the next seq.
    """

    sprint_id = models.BigIntegerField(primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)

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
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the realtime server answered `accepted` or `duplicate`.
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("sprint_id", "seq")
        constraints = [
            models.UniqueConstraint(fields=["sprint_id", "seq"], name="outbox_sprint_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["sprint_id", "seq"], name="outbox_pending_idx",
                         condition=models.Q(delivered_at__isnull=True)),
            models.Index(fields=["delivered_at"], name="outbox_delivered_idx"),
        ]

    def __str__(self) -> str:
        return f"sprint {self.sprint_id} #{self.seq} {self.model} {self.object_id} {self.action}"

    def to_wire(self) -> dict[str, object]:
        """The event as `POST /events/` carries it (docs/protocol.md §7)."""
        return {"sprint": self.sprint_id, "seq": self.seq, "action": self.action,
                "model": self.model, "id": self.object_id, "data": self.data}
