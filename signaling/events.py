"""``POST /events/``: Django's authoritative events, verified, validated, deduped, fanned out.

See docs/protocol.md §7. The whole batch is checked before any event is delivered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from signaling.auth import SignatureError, verify_signature
from signaling.broker import Broker, Envelope
from signaling.handlers import ScrumHandler
from signaling.history import EventStatus
from signaling.metrics import Metrics
from signaling.protocol import EVENT_ACTIONS, EVENT_MODELS, encode, event_frame

__all__ = ["BatchError", "Event", "EventsHandler", "deliver_batch", "parse_batch"]

log = logging.getLogger(__name__)


class BatchError(Exception):
    """A batch refused as a whole: HTTP status, ``error`` and ``message`` of the answer."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _malformed(message: str) -> BatchError:
    return BatchError(400, "malformed", message)


@dataclass(frozen=True, slots=True)
class Event:
    """One authoritative event as Django sends it."""

    sprint: int
    seq: int
    action: str
    model: str
    id: int
    data: dict[str, Any] | None

    def frame(self) -> bytes:
        """The ``event`` frame, encoded once for history and every subscriber."""
        return encode(event_frame(sprint=self.sprint, seq=self.seq, action=self.action,
                                  model=self.model, id=self.id, data=self.data)).encode()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _event(obj: Any, where: str) -> Event:
    if not isinstance(obj, dict):
        raise _malformed(f"{where}: must be an object")
    if not _positive(obj.get("sprint")):
        raise BatchError(400, "unknown_sprint", f"{where}.sprint: must be a sprint id >= 1")
    if not _positive(obj.get("seq")):
        raise _malformed(f"{where}.seq: must be an integer >= 1")
    if obj.get("action") not in EVENT_ACTIONS:
        raise _malformed(f"{where}.action: must be one of {', '.join(EVENT_ACTIONS)}")
    if obj.get("model") not in EVENT_MODELS:
        raise _malformed(f"{where}.model: must be one of {', '.join(EVENT_MODELS)}")
    if not _positive(obj.get("id")):
        raise _malformed(f"{where}.id: must be an integer >= 1")
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        raise _malformed(f"{where}.data: must be an object or null")
    return Event(sprint=obj["sprint"], seq=obj["seq"], action=obj["action"],
                 model=obj["model"], id=obj["id"], data=data)


def parse_batch(body: bytes, *, max_events: int = 500) -> list[Event]:
    """Validate a whole ``{"events": [...]}`` body. Raises ``BatchError`` (400 or 413)."""
    try:
        obj = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise _malformed("body is not valid JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("events"), list):
        raise _malformed("body must be an object with an 'events' list")
    if len(obj["events"]) > max_events:
        raise BatchError(413, "too_large", f"at most {max_events} events per request")
    events = [_event(e, f"events[{i}]") for i, e in enumerate(obj["events"])]
    last: dict[int, int] = {}
    for i, event in enumerate(events):
        if event.seq <= last.get(event.sprint, 0):
            raise _malformed(f"events[{i}].seq: events of sprint {event.sprint} "
                             "must be in increasing seq order")
        last[event.sprint] = event.seq
    return events


async def deliver_batch(broker: Broker, events: list[Event], metrics: Metrics
                        ) -> list[dict[str, Any]]:
    """Record and fan out each event in order; its result (accepted, duplicate, gap).

    After a gap in a sprint, its later events in the batch are gaps too: they must not
    be delivered before the missing ones.
    """
    gapped: set[int] = set()
    results: list[dict[str, Any]] = []
    for event in events:
        frame = event.frame()
        if event.sprint in gapped:
            status = EventStatus.GAP
        else:
            status = await broker.record_event(event.sprint, event.seq, frame)
        if status is EventStatus.ACCEPTED:
            await broker.publish(Envelope(event.sprint, frame, "event"))
            metrics.events_delivered.inc()
        elif status is EventStatus.DUPLICATE:
            metrics.event_duplicates.inc()
        else:
            metrics.event_gaps.inc()
            if event.sprint not in gapped:
                log.warning("sprint %s: event seq %s refused, gap after seq %s", event.sprint,
                            event.seq, await broker.latest(event.sprint))
            gapped.add(event.sprint)
        results.append({"sprint": event.sprint, "seq": event.seq, "status": str(status)})
    return results


class EventsHandler(ScrumHandler):
    """``POST /events/``: HMAC-signed batches from Django (protocol §7)."""

    def check_xsrf_cookie(self) -> None:
        pass  # server-to-server, authenticated by HMAC

    async def post(self) -> None:
        scrum = self.scrum
        config = scrum.config
        body = self.request.body
        if len(body) > config.max_event_body:
            return self.write_json_error(413, "too_large",
                                         f"body is over {config.max_event_body} bytes")
        try:
            verify_signature(body, self.request.headers.get("X-Watercooler-Timestamp"),
                             self.request.headers.get("X-Watercooler-Signature"),
                             secret=config.secret, replay=scrum.replay_cache,
                             previous=config.previous_secret)
        except SignatureError as exc:
            log.warning("events from %s refused: %s (%s)", self.request.remote_ip,
                        exc.problem, exc.message)
            return self.write_json_error(401, str(exc.problem), exc.message)
        try:
            events = parse_batch(body, max_events=config.max_events)
        except BatchError as exc:
            log.warning("events from %s refused: %s (%s)", self.request.remote_ip, exc.error,
                        exc.message)
            return self.write_json_error(exc.status, exc.error, exc.message)
        results = await deliver_batch(scrum.broker, events, scrum.metrics)
        self.finish({"results": results})
