"""The event log: a sprint's committed events read back from the outbox, by seq.

`GET /api/sprints/<id>/events/?since=<seq>` (docs/protocol.md §6, the event log) is served
from here. Events are kept EVENT_LOG_RETENTION_DAYS (`streams.prune`), so a client that
fell behind the realtime server's short history catches up from Django instead of
refetching the whole sprint; when the log cannot reach back to `since + 1` either, it says
so (`LogGone`, a 410) and the client refetches.

Only committed events are ever read, and they are always a gap-free prefix of the stream:
a seq is allocated under the row lock of the sprint's counter, held until the change
commits, so seq n + 1 cannot commit before seq n.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from api.realtime.models import OutboxEvent, SprintSequence

__all__ = ["LogGone", "LogPage", "event_log_read"]


class LogGone(Exception):
    """The log no longer holds every event after `since`: the client must refetch.

    `oldest` is the oldest seq the log holds (None if it holds none), `latest` the
    sprint's latest seq.
    """

    def __init__(self, message: str, *, oldest: int | None, latest: int) -> None:
        super().__init__(message)
        self.message = message
        self.oldest = oldest
        self.latest = latest


@dataclass(frozen=True, slots=True)
class LogPage:
    """Up to `limit` events after `since`, in seq order, and whether more follow."""

    events: list[OutboxEvent]
    count: int  # events after `since` in the log, this page's included
    latest: int
    more: bool


def event_log_read(*, sprint_id: int, since: int | None, limit: int) -> LogPage:
    """The sprint's events with seq > `since`, at most `limit` of them.

    `since` None reads from the oldest event the log holds. Raises `LogGone` when the
    events right after `since` are no longer there (pruned), or when `since` is beyond the
    sprint's latest seq (the client's numbering is another timeline's: this database was
    restored from a backup, see docs/operations.md).
    """
    latest = next(iter(SprintSequence.objects.filter(sprint_id=sprint_id)
                       .values_list("last_seq", flat=True)), 0)
    stream = OutboxEvent.objects.filter(sprint_id=sprint_id).order_by("seq")
    if since is not None and since > latest:
        raise LogGone(f"since={since} is beyond this sprint's latest event ({latest}): the "
                      "stream was renumbered; reload the sprint.", latest=latest,
                      oldest=_oldest(stream))
    after = stream if since is None else stream.filter(seq__gt=since)
    rows = list(after[:limit + 1])
    # Without `since`: from whatever the log holds, however little.
    start = since if since is not None else rows[0].seq - 1 if rows else latest
    if start < latest and (not rows or rows[0].seq != start + 1):
        oldest = _oldest(stream)
        raise LogGone(f"The log no longer holds the events after {start} (it holds "
                      f"{_holds(oldest, latest)}): reload the sprint.",
                      oldest=oldest, latest=latest)
    # Serve the contiguous run only: after a hole (events pruned out of order) the next
    # page starts at the hole and is answered with LogGone.
    page: list[OutboxEvent] = []
    for row in rows[:limit]:
        if row.seq != start + len(page) + 1:
            break
        page.append(row)
    more = len(page) < len(rows)
    return LogPage(events=page, count=after.count() if more else len(page), latest=latest,
                   more=more)


def _oldest(stream: QuerySet[OutboxEvent]) -> int | None:
    first = stream.values_list("seq", flat=True).first()
    return int(first) if first is not None else None


def _holds(oldest: int | None, latest: int) -> str:
    return "no events" if oldest is None else f"seq {oldest} to {latest}"
