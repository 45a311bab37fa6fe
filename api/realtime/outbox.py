"""Recording authoritative events: per-sprint seq and outbox row, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F
from rest_framework.exceptions import ValidationError

from api.realtime.models import OutboxEvent, SprintSequence

#: The largest event recorded, encoded: far under what one `POST /events/` may carry (the
#: server takes 1 MiB, the publisher sends at most 900 KiB per request), so that no event
#: can ever be refused for its size. A change whose event is larger is refused (400).
MAX_EVENT_BYTES = 256 * 1024


def encode_event(wire: dict[str, Any]) -> bytes:
    """An event as `POST /events/` carries it: compact JSON, UTF-8 (docs/protocol.md §7).

    Raises ValueError for what is not JSON (NaN) and UnicodeEncodeError for text that is
    not valid Unicode (a lone surrogate): neither can be sent.
    """
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def actor_of(user: Any) -> tuple[int, str] | None:
    """(id, username) of the user making a change; None for the system (no user, or an
    anonymous one)."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return None
    return int(user.pk), str(user.get_username())


def record_event(*, sprint_id: int, action: str, model: str, object_id: int,
                 serialize: Callable[[], dict[str, Any] | None], actor: Any = None
                 ) -> OutboxEvent:
    """Append an event to the sprint's stream, in the current transaction.

    `actor` is the user whose request made the change (None: the system); the event
    names them as they are now, so later renames do not rewrite history.

    `serialize` is called after the seq is allocated, so a sprint's representation
    (whose `seq` field is its latest event seq) includes this very event. Delivery is
    woken after commit; a rollback removes the event and gives back its seq.

    Raises DRF's ValidationError (a 400 in the API) when the event cannot be published:
    over MAX_EVENT_BYTES encoded, or not encodable; the caller's transaction is then
    rolled back as it propagates, so the change is not saved either.
    """
    with transaction.atomic(savepoint=False):
        seq = allocate_seq(sprint_id)
        who = actor_of(actor)
        event = OutboxEvent(sprint_id=sprint_id, seq=seq, action=action, model=model,
                            object_id=object_id, data=serialize(),
                            actor_id=who[0] if who else None,
                            actor_username=who[1] if who else None)
        check_publishable(event)
        event.save(force_insert=True)
    transaction.on_commit(_wake_delivery)
    return event


def check_publishable(event: OutboxEvent) -> None:
    """Raise ValidationError unless the event encodes within MAX_EVENT_BYTES."""
    try:
        size = len(encode_event(event.to_wire()))
    except (ValueError, UnicodeEncodeError) as exc:  # NaN; a lone surrogate
        raise ValidationError({_field_at_fault(event.data, None): [
            f"cannot be published in realtime: {exc.__class__.__name__}"]}) from None
    if size > MAX_EVENT_BYTES:
        raise ValidationError({_field_at_fault(event.data, size): [
            f"too large to publish in realtime: the change is {size:,} bytes encoded, "
            f"at most {MAX_EVENT_BYTES:,}."]})


def _field_at_fault(data: dict[str, Any] | None, size: int | None) -> str:
    """The field of `data` that alone makes the event too large (or unencodable), if one
    does; else `non_field_errors`."""
    for name, value in (data or {}).items():
        try:
            field_size = len(encode_event({name: value}))
        except (ValueError, UnicodeEncodeError):
            return str(name)
        if size is not None and field_size > size // 2:
            return str(name)
    return "non_field_errors"


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
