"""Delivery passes: POST pending outbox events to the realtime server, sprint by sprint.

One sprint's trouble never holds up another's. Events of many sprints share a request, but

* an event the server refuses for good (400 naming it; 413 for it alone; too large or not
  encodable here) is set aside as *dead* (`streams.mark_dead`: logged at ERROR, counted in
  Django's /metrics) and only its own sprint waits, for `manage.py outbox skip|retry`;
* a sprint whose events come back undelivered (a gap, a stream to restart) backs off
  alone, with its own exponential delay, while the others go on;
* a gap is filled from the outbox (delivered rows are kept OUTBOX_RETENTION_DAYS), or,
  when the outbox no longer has the missing events, the next one restarts the sprint's
  history on the server (`"reset": true`); a server that knows a later seq than this
  database gave (a restored backup) makes the sprint start a new epoch.

Only what no event is to blame for (unreachable, signature, 5xx) stops every sprint: the
caller backs off as a whole (`DeliveryError`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from api.realtime import streams
from api.realtime.transport import (
    BATCH_SIZE,
    BODY_OVERHEAD,
    DELIVERED_STATUSES,
    MAX_BODY_BYTES,
    DeliveryError,
    Outgoing,
    Refused,
    post_batch,
)
from signaling.backoff import backoff_delay

__all__ = ["DeliveryError", "PassResult", "Publisher", "deliver_pending", "retry_delay"]

log = logging.getLogger(__name__)

#: Top of the first retry's window in seconds; doubles per failure up to REALTIME_RETRY_MAX.
RETRY_BASE = 0.1


def retry_delay(failures: int, random: Callable[[], float] | None = None) -> float:
    """Seconds before trying again after ``failures`` in a row (>= 1): full jitter
    (`signaling.backoff`) under 0.1 s, 0.2 s, 0.4 s... capped at REALTIME_RETRY_MAX, so the
    web processes of a deployment do not come back to a recovering server all at once."""
    return backoff_delay(max(failures - 1, 0), base=RETRY_BASE,
                         cap=settings.REALTIME_RETRY_MAX, random=random)


@dataclass(frozen=True, slots=True)
class PassResult:
    #: Seconds until the first sprint that is backing off may be tried again (None: none).
    retry_in: float | None


class Publisher:
    """Delivery passes, with the per-sprint backoff of one delivery process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 random: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._random = random
        #: sprint -> (failures in a row, monotonic time before which it is not tried)
        self._backoff: dict[int, tuple[int, float]] = {}
        #: sprint -> seq of its event that died in this pass (later ones must not go)
        self._dead: dict[int, int] = {}
        self._kills = 0

    def run_pass(self) -> PassResult:
        """Send every pending event that may go now. Raises DeliveryError."""
        self._dead.clear()
        while (batch := self._next_batch()) is not None:
            if batch:
                self._send(batch)
        now = self._clock()
        waits = [until - now for _, until in self._backoff.values() if until > now]
        return PassResult(retry_in=min(waits) if waits else None)

    def _waiting(self, sprint_id: int) -> bool:
        entry = self._backoff.get(sprint_id)
        return entry is not None and entry[1] > self._clock()

    def _held(self, event: Any) -> bool:
        dead = self._dead.get(event.sprint_id)
        return (dead is not None and event.seq >= dead) or self._waiting(event.sprint_id)

    def _trouble(self, sprint_id: int) -> None:
        failures = self._backoff.get(sprint_id, (0, 0.0))[0] + 1
        self._backoff[sprint_id] = (failures,
                                   self._clock() + retry_delay(failures, self._random))

    def _next_batch(self) -> list[Outgoing] | None:
        """The next request's events; [] if the events found all died here; None if none
        may go (so a pass always ends)."""
        rows = streams.pending(exclude=[s for s in self._backoff if self._waiting(s)],
                               limit=BATCH_SIZE)
        known = streams.streams_of({row.sprint_id for row in rows})
        batch: list[Outgoing] = []
        size, seen, kills = BODY_OVERHEAD, set(), self._kills
        for row in rows:
            if self._held(row):
                continue
            stream = known.get(row.sprint_id)
            try:
                out = Outgoing.of(row, epoch=stream.epoch if stream else "",
                                  reset=row.sprint_id not in seen and bool(
                                      stream and stream.reset_pending))
            except (ValueError, UnicodeEncodeError) as exc:
                self._kill(row, f"cannot be encoded as JSON: {exc}")
                continue
            if BODY_OVERHEAD + len(out.wire) > MAX_BODY_BYTES:
                self._kill(row, f"too large to send: {len(out.wire):,} bytes encoded, over the "
                           f"{MAX_BODY_BYTES:,} a request carries")
                continue
            if size + len(out.wire) + 1 > MAX_BODY_BYTES:
                break
            batch.append(out)
            seen.add(row.sprint_id)
            size += len(out.wire) + 1
        return batch if batch or self._kills > kills else None

    def _kill(self, event: Any, failure: str) -> None:
        streams.mark_dead(event, failure)
        self._kills += 1
        self._dead[event.sprint_id] = min(event.seq, self._dead.get(event.sprint_id, event.seq))

    def _send(self, batch: Sequence[Outgoing]) -> None:
        batch = [o for o in batch if not self._held(o.event)]
        if not batch:
            return
        try:
            results = post_batch(batch)
        except Refused as exc:
            self._isolate(batch, exc)
            return
        self._apply(batch, results)

    def _isolate(self, batch: Sequence[Outgoing], exc: Refused) -> None:
        """Set aside the event the server refused for good; send the others again."""
        if exc.event is not None and 0 <= exc.event < len(batch):
            bad = batch[exc.event].event
        elif len(batch) == 1 and exc.status == 413:
            bad = batch[0].event
        elif exc.status == 413:  # too much at once for this server: halve, in order
            half = len(batch) // 2
            self._send(batch[:half])
            self._send(batch[half:])
            return
        else:  # a 400 about the request as a whole: no event is to blame
            raise DeliveryError(f"the realtime server refused a request: {exc}") from exc
        self._kill(bad, f"the realtime server answered {exc.status} {exc.error}: "
                        f"{exc.message}")
        self._send(batch)  # without the dead event and what follows it in its sprint

    def _apply(self, batch: Sequence[Outgoing], results: list[dict[str, Any]]) -> None:
        answers = {(r.get("sprint"), r.get("seq")): r for r in results}
        by_sprint: dict[int, list[tuple[Outgoing, dict[str, Any]]]] = defaultdict(list)
        for out in batch:
            answer = answers.get((out.event.sprint_id, out.event.seq), {})
            by_sprint[out.event.sprint_id].append((out, answer))
        for sprint_id, pairs in by_sprint.items():
            if self._apply_sprint(sprint_id, pairs):
                self._backoff.pop(sprint_id, None)
            else:
                self._trouble(sprint_id)

    def _apply_sprint(self, sprint_id: int, pairs: list[tuple[Outgoing, dict[str, Any]]]
                      ) -> bool:
        """Mark what the server has; True if it has every event sent."""
        latests = [a["latest"] for _, a in pairs if _is_int(a.get("latest"))]
        sent_up_to = pairs[-1][0].event.seq
        if latests and max(latests) > sent_up_to:
            ours = streams.last_seq(sprint_id)
            if max(latests) > ours:  # the server's stream is not this database's
                streams.restart_epoch(sprint_id, epoch=pairs[0][0].epoch,
                                      server_latest=max(latests), ours=ours)
                return False
        delivered = [o for o, a in pairs if a.get("status") in DELIVERED_STATUSES]
        streams.mark_delivered([o.event for o in delivered],
                               reset_done=[(sprint_id, o.epoch) for o in delivered if o.reset])
        _log_results(sprint_id, pairs)
        gap = next(((o, a) for o, a in pairs if a.get("status") == "gap"), None)
        if gap is not None:
            latest = gap[1].get("latest")
            streams.refill_gap(sprint_id, latest=latest if _is_int(latest) else None,
                               seq=gap[0].event.seq)
        return len(delivered) == len(pairs)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _log_results(sprint_id: int, pairs: list[tuple[Outgoing, dict[str, Any]]]) -> None:
    by_status: dict[str, list[int]] = defaultdict(list)
    for out, answer in pairs:
        by_status[str(answer.get("status", "missing"))].append(out.event.seq)
    for status, seqs in by_status.items():
        level = logging.INFO if status in ("accepted", "duplicate") else logging.WARNING
        log.log(level, "sprint %s: %d events %s (seq %s-%s)", sprint_id, len(seqs), status,
                seqs[0], seqs[-1])


def deliver_pending() -> int:
    """One pass with no backoff memory (tests, `--once`); the events still pending."""
    Publisher().run_pass()
    return streams.backlog().pending
