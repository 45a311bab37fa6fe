"""Recording authoritative events: per-sprint seq and outbox row, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F

from api.realtime.models import OutboxEvent, SprintSequence


def record_event(*, sprint_id: int, action: str, model: str, object_id: int,
                 serialize: Callable[[], dict[str, Any] | None]) -> OutboxEvent:
    """Append an event to the sprint's stream, in the current transaction.

    `serialize` is called after the seq is allocated, so a sprint's representation
    (whose `seq` field is its latest event seq) includes this very event. Delivery is
    woken after commit; a rollback removes the event and gives back its seq.
    """
    with transaction.atomic(savepoint=False):
        seq = allocate_seq(sprint_id)
        event = OutboxEvent.objects.create(sprint_id=sprint_id, seq=seq, action=action,
                                           model=model, object_id=object_id, data=serialize())
    transaction.on_commit(_wake_delivery)
    return event


def allocate_seq(sprint_id: int) -> int:
    """The sprint's next seq: gap-free, strictly increasing, safe under concurrent writers.

    The counter row is created if missing (insert-or-ignore), then incremented with an
    `UPDATE ... SET last_seq = last_seq + 1`, which row-locks it until the transaction
    ends: a concurrent writer of the same sprint waits, then increments the committed
    value. A rollback undoes the increment, so no seq is burnt. Call inside a transaction.
    """
    SprintSequence.objects.bulk_create([SprintSequence(sprint_id=sprint_id)],
                                       ignore_conflicts=True)
    SprintSequence.objects.filter(sprint_id=sprint_id).update(last_seq=F("last_seq") + 1)
    return SprintSequence.objects.values_list("last_seq", flat=True).get(sprint_id=sprint_id)


def latest_seq(sprint_id: int) -> int:
    """The sprint's latest event seq, 0 if it has none."""
    found = SprintSequence.objects.filter(sprint_id=sprint_id).values_list("last_seq", flat=True)
    return next(iter(found), 0)


def _wake_delivery() -> None:
    from api.realtime.delivery import wake_delivery

    wake_delivery()
