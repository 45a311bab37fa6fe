"""The state of each sprint's stream in the outbox: what is pending, delivered, dead; epochs.

Every change the publisher or an operator (`manage.py outbox`) makes to a stream goes
through here, in single UPDATEs guarded by the state they expect, so several delivery
processes (a thread per web worker, `manage.py deliver_events`) can race safely.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from api.realtime.models import OutboxEvent, SprintSequence, new_epoch

log = logging.getLogger(__name__)

#: A gap of more events than this is not filled by sending them all again: the realtime
#: server keeps fewer (1000 per sprint by default), so its clients would resync anyway.
REFILL_LIMIT = 1000

PENDING = Q(delivered_at__isnull=True, failed_at__isnull=True)
DEAD = Q(failed_at__isnull=False, skipped_at__isnull=True)


def pending(*, exclude: Iterable[int] = (), limit: int) -> list[OutboxEvent]:
    """The next events to send, by sprint then seq; what follows a dead event waits."""
    dead_before = OutboxEvent.objects.filter(DEAD, sprint_id=OuterRef("sprint_id"),
                                             seq__lte=OuterRef("seq"))
    return list(OutboxEvent.objects.filter(PENDING).exclude(Exists(dead_before))
                .exclude(sprint_id__in=list(exclude)).order_by("sprint_id", "seq")[:limit])


def streams_of(sprint_ids: Iterable[int]) -> dict[int, SprintSequence]:
    return {s.sprint_id: s for s in SprintSequence.objects.filter(sprint_id__in=list(sprint_ids))}


def last_seq(sprint_id: int) -> int:
    found = SprintSequence.objects.filter(sprint_id=sprint_id).values_list("last_seq", flat=True)
    return next(iter(found), 0)


def mark_delivered(events: Iterable[OutboxEvent], *, reset_done: Iterable[tuple[int, str]] = ()
                   ) -> None:
    """Mark events delivered; `reset_done` (sprint, epoch): their reset was accepted."""
    pks = [e.pk for e in events]
    if pks:
        OutboxEvent.objects.filter(pk__in=pks).update(delivered_at=timezone.now())
    for sprint_id, epoch in reset_done:
        SprintSequence.objects.filter(sprint_id=sprint_id, epoch=epoch).update(
            reset_pending=False)


def mark_dead(event: OutboxEvent, failure: str) -> None:
    """The event can never be delivered as it is: its sprint waits for an operator.

    Logged at ERROR with the sprint and seq (alert on it, or on the dead-events metric).
    """
    marked = OutboxEvent.objects.filter(pk=event.pk, delivered_at__isnull=True,
                                        failed_at__isnull=True).update(
        failed_at=timezone.now(), failure=failure[:500])
    if marked:
        log.error("sprint %s: event seq %s is dead, refused for good: %s. The sprint's later "
                  "events wait: `manage.py outbox` to inspect, then `manage.py outbox skip %s "
                  "%s` or `retry %s %s`", event.sprint_id, event.seq, failure, event.sprint_id,
                  event.seq, event.sprint_id, event.seq)


def refill_gap(sprint_id: int, *, latest: int | None, seq: int) -> bool:
    """The server has the sprint up to `latest` and refused `seq` for a gap: send it the
    missing events again if the outbox still has them all (True), else ask for a reset
    with the next event sent (False)."""
    if latest is not None and latest >= seq - 1:
        return True  # filled meanwhile (another process): nothing to do
    missing = OutboxEvent.objects.filter(sprint_id=sprint_id, seq__lt=seq,
                                         seq__gt=latest or 0)
    needed = seq - 1 - (latest or 0)
    usable = missing.filter(failed_at__isnull=True)
    if latest is not None and needed <= REFILL_LIMIT and usable.count() == needed:
        usable.update(delivered_at=None)
        log.warning("sprint %s: the realtime server has seq %s and refused %s for a gap: "
                    "sending seq %s-%s again", sprint_id, latest, seq, latest + 1, seq - 1)
        return True
    SprintSequence.objects.filter(sprint_id=sprint_id).update(reset_pending=True)
    log.warning("sprint %s: the realtime server has seq %s and refused %s for a gap, and the "
                "outbox no longer has every event between: seq %s restarts the sprint's "
                "history there (its clients resync)", sprint_id, latest, seq, seq)
    return False


def restart_epoch(sprint_id: int, *, epoch: str, server_latest: int, ours: int) -> bool:
    """The server knows a later seq than this database ever gave (restored from a backup):
    start a new epoch, which the server takes as a new stream. False if another process
    did already."""
    fresh = new_epoch()
    changed = SprintSequence.objects.filter(sprint_id=sprint_id, epoch=epoch).update(
        epoch=fresh, reset_pending=True)
    if changed:
        log.warning("sprint %s: the realtime server knows seq %s but this database ends at %s "
                    "(restored from a backup?): new stream epoch %s; its clients resync",
                    sprint_id, server_latest, ours, fresh)
    return bool(changed)


def dead_event(sprint_id: int, seq: int) -> OutboxEvent:
    """The dead event (sprint, seq). Raises OutboxEvent.DoesNotExist."""
    return OutboxEvent.objects.filter(DEAD).get(sprint_id=sprint_id, seq=seq)


def skip(sprint_id: int, seq: int) -> OutboxEvent:
    """Give up on a dead event: the sprint's next event restarts its history on the server
    (its clients resync, so they refetch the change they never got)."""
    event = dead_event(sprint_id, seq)
    OutboxEvent.objects.filter(pk=event.pk).update(skipped_at=timezone.now())
    SprintSequence.objects.filter(sprint_id=sprint_id).update(reset_pending=True)
    log.warning("sprint %s: dead event seq %s skipped by an operator", sprint_id, seq)
    return event


def retry(sprint_id: int, seq: int) -> OutboxEvent:
    """Make a dead event pending again (e.g. after the realtime server's limit was raised)."""
    event = dead_event(sprint_id, seq)
    OutboxEvent.objects.filter(pk=event.pk).update(failed_at=None, failure="")
    log.warning("sprint %s: dead event seq %s to be retried, by an operator", sprint_id, seq)
    return event


def new_epochs(sprint_ids: Iterable[int] | None = None) -> int:
    """A new epoch for these sprints' streams (all if None): after restoring a backup.

    The next event of each is sent as a reset, so every realtime node restarts the
    sprint's history and its clients resync, whatever the nodes remember.
    """
    streams = SprintSequence.objects.all()
    if sprint_ids is not None:
        streams = streams.filter(sprint_id__in=list(sprint_ids))
    count = 0
    for sprint_id in streams.values_list("sprint_id", flat=True):
        count += SprintSequence.objects.filter(sprint_id=sprint_id).update(
            epoch=new_epoch(), reset_pending=True)
    return count


def prune(*, older_than: datetime.timedelta | None = None,
          log_older_than: datetime.timedelta | None = None) -> int:
    """Delete the events no one needs any more: delivered (or skipped) more than
    `older_than` ago (default OUTBOX_RETENTION_DAYS: until then they can fill a realtime
    server's gap) and committed more than `log_older_than` ago (default
    EVENT_LOG_RETENTION_DAYS: until then clients catch up from the event log)."""
    if older_than is None:
        older_than = datetime.timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    if log_older_than is None:
        log_older_than = datetime.timedelta(days=settings.EVENT_LOG_RETENTION_DAYS)
    now = timezone.now()
    cutoff = now - older_than
    deleted, _ = OutboxEvent.objects.filter(
        Q(delivered_at__lt=cutoff) | Q(skipped_at__lt=cutoff),
        created_at__lt=now - log_older_than).delete()
    if deleted:
        log.info("sprints (all): pruned %d delivered events older than %s (log: %s)",
                 deleted, older_than, log_older_than)
    return deleted


@dataclass(frozen=True, slots=True)
class Backlog:
    """What is waiting in the outbox (metrics, `manage.py outbox`)."""

    pending: int
    dead: int
    oldest_pending: datetime.datetime | None


def backlog(events: QuerySet[OutboxEvent] | None = None) -> Backlog:
    events = OutboxEvent.objects.all() if events is None else events
    found = events.aggregate(pending=Count("pk", filter=PENDING), dead=Count("pk", filter=DEAD),
                             oldest=Min("created_at", filter=PENDING))
    return Backlog(pending=found["pending"], dead=found["dead"], oldest_pending=found["oldest"])
