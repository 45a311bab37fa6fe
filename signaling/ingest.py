"""``POST /events/``: Django's authoritative events taken in, checked, recorded, fanned out.

See docs/protocol.md §7. The whole batch is checked (and every event frame encoded) before
the request's nonce is claimed and any event recorded, so a refused request leaves no trace.
Its numbers follow the rules of client frames (``protocol.loads``). What happens to each
event (accepted, duplicate, gap, reset) is the broker's history's rule: ``history.classify``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from signaling.auth import NonceClaim, SignatureError, verify_signature
from signaling.broker import Broker, Envelope, reset_envelope
from signaling.config import Config
from signaling.handlers import JsonHandler
from signaling.history import EventStatus
from signaling.metrics import Metrics
from signaling.protocol import (
    EVENT_ACTIONS,
    EVENT_MODELS,
    MAX_DATA_DEPTH,
    NO_ACTOR,
    deeper_than,
    encode,
    event_frame,
    loads,
)

__all__ = ["MAX_DATA_DEPTH", "MAX_ID", "Batch", "BatchError", "Event", "IngestHandler",
           "deliver_batch", "parse_batch"]

log = logging.getLogger(__name__)

#: sprint, seq and id: integers a browser holds exactly (and Redis's Lua compares exactly).
MAX_ID = 2**53 - 1
#: ``nonce`` and ``epoch``: URL-safe characters (base64url), nonce 16-64, epoch 1-64.
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_EPOCH = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: ``actor.username``: Django's usernames are at most 150 characters.
MAX_USERNAME = 150


class BatchError(Exception):
    """A batch refused as a whole: HTTP status, ``error`` and ``message`` of the answer.

    ``event`` is the index of the event at fault, when one is (the answer says so: the
    sender can set that event aside and send the others).
    """

    def __init__(self, status: int, error: str, message: str, event: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.event = event

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.event is not None:
            body["event"] = self.event
        return body


def _malformed(message: str, event: int | None = None) -> BatchError:
    return BatchError(400, "malformed", message, event)


@dataclass(frozen=True, slots=True)
class Event:
    """One authoritative event as Django sends it, with its ``event`` frame encoded once."""

    sprint: int
    seq: int
    action: str
    model: str
    id: int
    data: dict[str, Any] | None
    #: The sprint's stream (Django's epoch); "" when the sender sends none.
    epoch: str
    #: The sender asks for this event to restart the sprint's history if it is not the next.
    reset: bool
    #: The ``event`` frame for history and every subscriber.
    frame: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    nonce: str
    events: list[Event]


def _id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _event(obj: Any, i: int) -> Event:
    where = f"events[{i}]"
    if not isinstance(obj, dict):
        raise _malformed(f"{where}: must be an object", i)
    if not _id(obj.get("sprint")):
        raise BatchError(400, "unknown_sprint", f"{where}.sprint: must be a sprint id "
                         f"from 1 to {MAX_ID}", i)
    for name in ("seq", "id"):
        if not _id(obj.get(name)):
            raise _malformed(f"{where}.{name}: must be an integer from 1 to {MAX_ID}", i)
    if obj.get("action") not in EVENT_ACTIONS:
        raise _malformed(f"{where}.action: must be one of {', '.join(EVENT_ACTIONS)}", i)
    if obj.get("model") not in EVENT_MODELS:
        raise _malformed(f"{where}.model: must be one of {', '.join(EVENT_MODELS)}", i)
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        raise _malformed(f"{where}.data: must be an object or null", i)
    if deeper_than(data, MAX_DATA_DEPTH):
        raise _malformed(f"{where}.data: nested deeper than {MAX_DATA_DEPTH}", i)
    epoch = obj.get("epoch", "")
    if epoch != "" and not (isinstance(epoch, str) and _EPOCH.fullmatch(epoch)):
        raise _malformed(f"{where}.epoch: must be 1-64 URL-safe characters", i)
    reset = obj.get("reset", False)
    if not isinstance(reset, bool):
        raise _malformed(f"{where}.reset: must be true or false", i)
    # Who made the change, passed through (null: the system; absent: the sender said not).
    actor = _actor(obj["actor"], where, i) if "actor" in obj else NO_ACTOR
    try:  # what cannot be encoded cannot be delivered: refuse it before recording anything
        frame = encode(event_frame(sprint=obj["sprint"], seq=obj["seq"], action=obj["action"],
                                   model=obj["model"], id=obj["id"], data=data,
                                   actor=actor)).encode()
    except UnicodeEncodeError:
        raise _malformed(f"{where}.data: not valid Unicode (a lone surrogate)", i) from None
    return Event(sprint=obj["sprint"], seq=obj["seq"], action=obj["action"],
                 model=obj["model"], id=obj["id"], data=data, epoch=epoch, reset=reset,
                 frame=frame)


def _actor(actor: Any, where: str, i: int) -> dict[str, Any] | None:
    """``null``, or ``{"id", "username"}`` with nothing else carried along."""
    if actor is None:
        return None
    username = actor.get("username") if isinstance(actor, dict) else None
    if not (isinstance(actor, dict) and _id(actor.get("id")) and isinstance(username, str)
            # printable: no control character, no lone surrogate (it could not be sent)
            and 1 <= len(username) <= MAX_USERNAME and username.isprintable()):
        raise _malformed(f"{where}.actor: must be null or {{id, username}} (an id from 1 to "
                         f"{MAX_ID}, a username of 1-{MAX_USERNAME} characters)", i)
    return {"id": actor["id"], "username": actor["username"]}


def parse_batch(body: bytes, *, max_events: int = 500) -> Batch:
    """Validate a whole ``{"nonce": ..., "events": [...]}`` body.

    Raises ``BatchError`` (400 or 413) and nothing else, whatever the bytes.
    """
    try:
        obj = loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _malformed("body is not valid JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("events"), list):
        raise _malformed("body must be an object with an 'events' list")
    nonce = obj.get("nonce")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise _malformed("nonce: must be 16-64 URL-safe characters, new for every request")
    if len(obj["events"]) > max_events:
        raise BatchError(413, "too_large", f"at most {max_events} events per request")
    events = [_event(e, i) for i, e in enumerate(obj["events"])]
    last: dict[int, int] = {}
    for i, event in enumerate(events):
        if event.seq <= last.get(event.sprint, 0):
            raise _malformed(f"events[{i}].seq: events of sprint {event.sprint} "
                             "must be in increasing seq order", i)
        last[event.sprint] = event.seq
    return Batch(nonce=nonce, events=events)


async def deliver_batch(broker: Broker, events: list[Event], metrics: Metrics
                        ) -> list[dict[str, Any]]:
    """Record and fan out each event in order; its result (accepted, reset, duplicate, gap).

    After a gap in a sprint, its later events in the batch are gaps too: they must not be
    delivered before the missing ones. ``latest`` (the sprint's latest seq the server
    knows) tells the sender where the server's history stands.
    """
    gapped: dict[int, int | None] = {}
    results: list[dict[str, Any]] = []
    for event in events:
        if event.sprint in gapped:
            status = EventStatus.GAP
        else:
            status = await broker.record_event(event.sprint, event.seq, event.frame,
                                               epoch=event.epoch, reset=event.reset)
        latest: int | None = event.seq
        if status is EventStatus.RESET:
            log.warning("sprint %s: history restarted at seq %s (epoch %r%s); its clients "
                        "resync", event.sprint, event.seq, event.epoch,
                        ", reset asked" if event.reset else "")
            await broker.publish(reset_envelope(event.sprint, event.seq))
            metrics.event_resets.inc()
        if status.recorded:
            await broker.publish(Envelope(event.sprint, event.frame, "event"))
            metrics.events_delivered.inc()
        elif status is EventStatus.DUPLICATE:
            metrics.event_duplicates.inc()
            latest = await broker.latest(event.sprint)
        else:
            metrics.event_gaps.inc()
            if event.sprint not in gapped:
                gapped[event.sprint] = await broker.latest(event.sprint)
                log.warning("sprint %s: event seq %s refused, gap after seq %s", event.sprint,
                            event.seq, gapped[event.sprint])
            latest = gapped[event.sprint]
        results.append({"sprint": event.sprint, "seq": event.seq, "status": str(status),
                        "latest": latest})
    return results


class IngestHandler(JsonHandler):
    """``POST /events/``: HMAC-signed batches from Django (protocol §7)."""

    def initialize(self, config: Config, broker: Broker, metrics: Metrics) -> None:
        self.config = config
        self.broker = broker
        self.metrics = metrics

    def check_xsrf_cookie(self) -> None:
        pass  # server-to-server, authenticated by HMAC

    def _refuse(self, status: int, error: str, message: str,
                body: dict[str, Any] | None = None) -> None:
        log.warning("events from %s refused: %s (%s)", self.request.remote_ip, error, message)
        self.set_status(status)
        self.finish(body or {"error": error, "message": message})

    async def post(self) -> None:
        config = self.config
        body = self.request.body
        if len(body) > config.max_event_body:
            return self._refuse(413, "too_large", f"body is over {config.max_event_body} bytes")
        try:
            timestamp = verify_signature(
                body, self.request.headers.get("X-Watercooler-Timestamp"),
                self.request.headers.get("X-Watercooler-Signature"), secret=config.secret,
                window=config.replay_window, previous=config.previous_secret)
            batch = parse_batch(body, max_events=config.max_events)
        except SignatureError as exc:
            return self._refuse(401, str(exc.problem), exc.message)
        except BatchError as exc:
            return self._refuse(exc.status, exc.error, exc.message, exc.to_wire())
        # Remembered while the timestamp is acceptable (plus a second for rounding).
        ttl = timestamp + config.replay_window - time.time() + 1
        claim = await self.broker.claim_nonce(batch.nonce, timestamp, ttl)
        if claim is NonceClaim.REPLAYED:
            return self._refuse(401, "replayed", "this nonce was already used")
        if claim is NonceClaim.BEFORE_MEMORY:
            return self._refuse(401, "stale", "signed before this server's replay memory "
                                "began (a restart): sign the request again")
        try:
            results = await deliver_batch(self.broker, batch.events, self.metrics)
        except Exception:
            # Not (fully) recorded: the very same request may come again (e.g. from a
            # load balancer trying the next node), which its nonce must not refuse.
            await self.broker.release_nonce(batch.nonce)
            raise
        self.finish({"results": results})
